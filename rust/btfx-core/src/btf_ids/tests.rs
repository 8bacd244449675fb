//! Unit tests on hand-built ELF files and a tiny BTF.

use super::*;
use crate::btf::Btf;
use crate::error::Error;

/// One symbol for the test ELF: name, st_value, st_size, section index (0: undefined).
#[derive(Clone)]
struct S(&'static str, u64, u64, u16);

const IDS_SHNDX: u16 = 2;

/// Hand-assembles an ET_REL ELF file: null, .text, .BTF_ids, [.symtab, .strtab],
/// .shstrtab. `section_size` overrides the `sh_size` of `.BTF_ids`.
fn elf(
    is_64: bool,
    be: bool,
    ids: &[u8],
    syms: Option<&[S]>,
    section_size: Option<u64>,
) -> Vec<u8> {
    let put = |buf: &mut Vec<u8>, v: u64, width: usize| {
        let b = if be { v.to_be_bytes() } else { v.to_le_bytes() };
        if be {
            buf.extend_from_slice(&b[8 - width..]);
        } else {
            buf.extend_from_slice(&b[..width]);
        }
    };
    let w = if is_64 { 8 } else { 4 };
    let (ehsize, shentsize, symentsize) = if is_64 { (64, 64, 24) } else { (52, 40, 16) };
    // Section contents.
    let mut strtab = vec![0u8];
    let mut symtab = Vec::new();
    if let Some(syms) = syms {
        symtab.resize(symentsize, 0); // null symbol
        for s in syms {
            let name = strtab.len() as u64;
            strtab.extend_from_slice(s.0.as_bytes());
            strtab.push(0);
            let info = 1u64; // STB_LOCAL, STT_OBJECT
            if is_64 {
                put(&mut symtab, name, 4);
                put(&mut symtab, info, 1);
                put(&mut symtab, 0, 1);
                put(&mut symtab, u64::from(s.3), 2);
                put(&mut symtab, s.1, 8);
                put(&mut symtab, s.2, 8);
            } else {
                put(&mut symtab, name, 4);
                put(&mut symtab, s.1, 4);
                put(&mut symtab, s.2, 4);
                put(&mut symtab, info, 1);
                put(&mut symtab, 0, 1);
                put(&mut symtab, u64::from(s.3), 2);
            }
        }
    }
    let mut secs: Vec<(&str, u32, Vec<u8>, u32, u64)> =
        vec![(".text", 1, vec![0xc3], 0, 0), (".BTF_ids", 1, ids.to_vec(), 0, 0)];
    if syms.is_some() {
        secs.push((".symtab", 2, symtab, 4, symentsize as u64));
        secs.push((".strtab", 3, strtab, 0, 0));
    }
    let mut shstrtab = vec![0u8];
    let mut names = Vec::new();
    for n in secs.iter().map(|s| s.0).chain([".shstrtab"]) {
        names.push(shstrtab.len() as u64);
        shstrtab.extend_from_slice(n.as_bytes());
        shstrtab.push(0);
    }
    secs.push((".shstrtab", 3, shstrtab, 0, 0));
    // Layout: header, data (odd offsets on purpose: .BTF_ids is align 1 in real modules).
    let mut out = vec![0u8; ehsize];
    let mut offs = Vec::new();
    for s in &secs {
        out.push(0);
        offs.push(out.len() as u64);
        out.extend_from_slice(&s.2);
    }
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len() as u64;
    let mut sh = vec![0u8; shentsize]; // null section
    for (i, s) in secs.iter().enumerate() {
        let size = if s.0 == ".BTF_ids" {
            section_size.unwrap_or(s.2.len() as u64)
        } else {
            s.2.len() as u64
        };
        put(&mut sh, names[i], 4);
        put(&mut sh, u64::from(s.1), 4);
        put(&mut sh, if s.0 == ".BTF_ids" { 2 } else { 0 }, w); // flags: SHF_ALLOC
        put(&mut sh, 0, w); // addr
        put(&mut sh, offs[i], w);
        put(&mut sh, size, w);
        put(&mut sh, u64::from(s.3), 4); // link
        put(&mut sh, if s.0 == ".symtab" { 1 } else { 0 }, 4); // info
        put(&mut sh, 1, w); // align
        put(&mut sh, s.4, w); // entsize
    }
    out.extend_from_slice(&sh);
    // ELF header.
    let mut h = vec![0x7f, b'E', b'L', b'F', if is_64 { 2 } else { 1 }, if be { 2 } else { 1 }, 1];
    h.resize(16, 0);
    put(&mut h, 1, 2); // ET_REL
    put(&mut h, 62, 2); // EM_X86_64
    put(&mut h, 1, 4);
    put(&mut h, 0, w); // entry
    put(&mut h, 0, w); // phoff
    put(&mut h, shoff, w);
    put(&mut h, 0, 4); // flags
    put(&mut h, ehsize as u64, 2);
    put(&mut h, 0, 2);
    put(&mut h, 0, 2);
    put(&mut h, shentsize as u64, 2);
    put(&mut h, secs.len() as u64 + 1, 2);
    put(&mut h, secs.len() as u64, 2); // shstrndx: last
    out[..ehsize].copy_from_slice(&h);
    out
}

fn words(be: bool, ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| if be { w.to_be_bytes() } else { w.to_le_bytes() }).collect()
}

/// Tiny base BTF: 1 int, 2 proto, 3..=5 funcs fa fb fc, 6 struct s, 7 typedef t,
/// 8 union u, 9 func nf_conn___init.
fn tiny_btf() -> Btf {
    let mut strs = b"\0int\0fa\0fb\0fc\0s\0t\0u\0nf_conn___init\0".to_vec();
    let off = |s: &str| {
        let needle = [b"\0", s.as_bytes(), b"\0"].concat();
        strs.windows(needle.len()).position(|w| w == needle.as_slice()).unwrap() as u32 + 1
    };
    let k = |kind: u32, vlen: u32| (kind << 24) | vlen;
    let types: Vec<u32> = [
        vec![off("int"), k(1, 0), 4, 32],
        vec![0, k(13, 0), 1],
        vec![off("fa"), k(12, 0), 2],
        vec![off("fb"), k(12, 0), 2],
        vec![off("fc"), k(12, 0), 2],
        vec![off("s"), k(4, 0), 0],
        vec![off("t"), k(8, 0), 6],
        vec![off("u"), k(5, 0), 0],
        vec![off("nf_conn___init"), k(12, 0), 2],
    ]
    .concat();
    let tbytes = words(false, &types);
    let mut blob = vec![0x9f, 0xeb, 1, 0];
    blob.extend(words(false, &[24, 0, tbytes.len() as u32, tbytes.len() as u32]));
    blob.extend(words(false, &[strs.len() as u32]));
    blob.extend(tbytes);
    blob.append(&mut strs);
    Btf::from_slice(&blob, None).unwrap()
}

/// A section in the shape of real modules: a list of two struct slots, a set8 of three
/// kfuncs (sorted, flags per function), a set of two, and a trailing unsymboled word.
fn sample(be: bool) -> (Vec<u8>, Vec<S>) {
    let section = words(
        be,
        &[
            6, 7, // list: struct s, typedef t
            3, 1, 3, 0x11, 4, 0x22, 5, 0x33, // set8: cnt 3, flags 1, fa fb fc
            2, 8, 9,      // set: cnt 2, union u, func nf_conn___init
            0xdead, // not covered by any symbol
        ],
    );
    let syms = vec![
        S("nf_ct_list", 0, 0, IDS_SHNDX), // a BTF_ID_LIST label: ignored
        S("__BTF_ID__struct__s__101", 0, 4, IDS_SHNDX),
        S("__BTF_ID__typedef__t__102", 4, 4, IDS_SHNDX),
        S("__BTF_ID__set8__kf", 8, 32, IDS_SHNDX),
        // Members after sorting: the symbol names need not match the words under them.
        S("__BTF_ID__func__fc__103", 16, 4, IDS_SHNDX),
        S("__BTF_ID__func__fa__104", 24, 4, IDS_SHNDX),
        S("__BTF_ID__func__fb__105", 32, 4, IDS_SHNDX),
        S("__BTF_ID__set__st", 40, 12, IDS_SHNDX),
        S("__BTF_ID__func__nf_conn___init__106", 44, 4, IDS_SHNDX),
        S("__BTF_ID__union__u__107", 48, 4, IDS_SHNDX),
        S("__BTF_ID__func__elsewhere__1", 0, 4, 1), // in .text: ignored
        S("undefined", 0, 0, 0),
    ];
    (section, syms)
}

fn kinds() -> [(bool, bool); 4] {
    [(true, false), (true, true), (false, false), (false, true)]
}

#[test]
fn parses_slots_sets_and_members() {
    for (is_64, be) in kinds() {
        let (section, syms) = sample(be);
        let file = elf(is_64, be, &section, Some(&syms), None);
        let ids = parse_btf_ids(&file).unwrap().unwrap();
        assert_eq!(ids.big_endian, be);
        assert_eq!(ids.section_size, section.len() as u64);
        let info = crate::elf::section_by_name(&file, ".BTF_ids").unwrap().unwrap();
        assert_eq!(ids.section_offset, info.offset);
        assert_eq!(ids.counts(), (2, 1, 1));
        let m = |offset, kind, name: &str| Member { offset, kind, name: name.into() };
        assert_eq!(
            ids.entries,
            vec![
                Entry::Slot { offset: 0, kind: SlotKind::Struct, name: "s".into(), id: 6 },
                Entry::Slot { offset: 4, kind: SlotKind::Typedef, name: "t".into(), id: 7 },
                Entry::Set8 {
                    offset: 8,
                    name: "kf".into(),
                    count: 3,
                    flags: 1,
                    pairs: vec![(3, 0x11), (4, 0x22), (5, 0x33)],
                    members: vec![
                        m(16, SlotKind::Func, "fc"),
                        m(24, SlotKind::Func, "fa"),
                        m(32, SlotKind::Func, "fb")
                    ],
                },
                Entry::Set {
                    offset: 40,
                    name: "st".into(),
                    count: 2,
                    ids: vec![8, 9],
                    members: vec![
                        m(44, SlotKind::Func, "nf_conn___init"),
                        m(48, SlotKind::Union, "u")
                    ],
                },
            ]
        );
        assert_eq!(ids.entries[2].symbol(), "__BTF_ID__set8__kf");
        assert_eq!(ids.entries[0].symbol(), "__BTF_ID__struct__s");
        assert!(check(&ids, &tiny_btf()).is_empty());
    }
}

#[test]
fn no_section_is_none() {
    let mut file = elf(true, false, b"", Some(&[]), None);
    // Rename .BTF_ids to .BTF_idz in .shstrtab.
    let pos = file.windows(8).position(|w| w == b".BTF_ids").unwrap();
    file[pos + 7] = b'z';
    assert_eq!(parse_btf_ids(&file).unwrap(), None);
    // An empty .BTF_ids with a symbol table is fine (and has no entries).
    let ids = parse_btf_ids(&elf(true, false, b"", Some(&[]), None)).unwrap().unwrap();
    assert!(ids.entries.is_empty());
}

#[test]
fn check_reports_mismatches() {
    let btf = tiny_btf();
    let (mut section, syms) = sample(false);
    // Slot s holds the id of fa; set8 loses fc for a zero (allowed: unresolved) and the
    // set holds the int (not a member kind) in place of u.
    section[0..4].copy_from_slice(&3u32.to_le_bytes());
    section[32..36].copy_from_slice(&0u32.to_le_bytes()); // last set8 pair id 5 -> 0
    section[44..48].copy_from_slice(&1u32.to_le_bytes()); // set [8, 9] -> [1, 9]
    let ids = parse_btf_ids(&elf(true, false, &section, Some(&syms), None)).unwrap().unwrap();
    let p = check(&ids, &btf);
    let msgs: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    assert_eq!(p.len(), 4, "{msgs:#?}");
    assert!(msgs[0].contains("__BTF_ID__struct__s") && msgs[0].contains("names func fa"));
    assert!(msgs[1].contains("__BTF_ID__set8__kf") && msgs[1].contains("not sorted"));
    assert!(msgs[2].contains("INT"), "{}", msgs[2]);
    assert!(msgs[3].contains("members without an id") && msgs[3].contains("union u"));
    // An id past the BTF.
    section[4..8].copy_from_slice(&99u32.to_le_bytes());
    let ids = parse_btf_ids(&elf(true, false, &section, Some(&syms), None)).unwrap().unwrap();
    assert!(check(&ids, &btf).iter().any(|p| p.message.contains("id 99 is not a type")));
}

#[test]
fn fixup_maps_and_resorts() {
    for (is_64, be) in kinds() {
        let (section, syms) = sample(be);
        let ids = parse_btf_ids(&elf(is_64, be, &section, Some(&syms), None)).unwrap().unwrap();
        // Identity: byte-for-byte no-op.
        let identity: Vec<u32> = (0..32).collect();
        let (same, r) = fixup(&ids, &section, &identity).unwrap();
        assert_eq!(same, section);
        assert_eq!(r, FixupReport { ids: 7, ids_changed: 0, sets_resorted: 0 });
        // Reverse fa fb fc, swap u and nf_conn___init, move s and t.
        let map = [0, 1, 2, 25, 24, 23, 16, 17, 31, 30];
        let (out, r) = fixup(&ids, &section, &map).unwrap();
        assert_eq!(r, FixupReport { ids: 7, ids_changed: 7, sets_resorted: 2 });
        let want = words(be, &[16, 17, 3, 1, 23, 0x33, 24, 0x22, 25, 0x11, 2, 30, 31, 0xdead]);
        assert_eq!(out, want);
        // Re-parsing the output and fixing up through the inverse restores the input.
        let mut inverse = vec![0u32; 32];
        for (old, &new) in map.iter().enumerate().skip(1) {
            inverse[new as usize] = old as u32;
        }
        let ids2 = parse_btf_ids(&elf(is_64, be, &out, Some(&syms), None)).unwrap().unwrap();
        assert_eq!(fixup(&ids2, &out, &inverse).unwrap().0, section);
        // Fixing up twice through the identity changes nothing.
        assert_eq!(fixup(&ids2, &out, &identity).unwrap().0, out);
    }
}

#[test]
fn fixup_sorts_signed_and_keeps_zeros() {
    let section = words(false, &[3, 0, 5, 0x7fff_ffff, 0]);
    let syms = [S("__BTF_ID__set__x", 0, 16, IDS_SHNDX)];
    let ids = parse_btf_ids(&elf(true, false, &section, Some(&syms), None)).unwrap().unwrap();
    let mut map = vec![0u32; 6];
    map[5] = 0x8000_0000; // negative as i32: sorts first, like cmp_id
    let e = fixup(&ids, &section, &map).unwrap_err();
    assert!(matches!(e, Error::Rebase { type_id: Some(0x7fff_ffff), .. }), "{e:?}");
    assert!(e.to_string().contains("__BTF_ID__set__x element 2"), "{e}");
    assert!(e.to_string().contains("outside the id map"), "{e}");
    let section = words(false, &[3, 0, 5, 4, 0]);
    let ids = parse_btf_ids(&elf(true, false, &section, Some(&syms), None)).unwrap().unwrap();
    let map = [0, 0, 0, 0, 1, 0x8000_0000];
    let (out, r) = fixup(&ids, &section, &map).unwrap();
    assert_eq!(out, words(false, &[3, 0x8000_0000, 0, 1, 0]));
    assert_eq!(r, FixupReport { ids: 3, ids_changed: 2, sets_resorted: 1 });
}

#[test]
fn fixup_errors() {
    let (section, syms) = sample(false);
    let ids = parse_btf_ids(&elf(true, false, &section, Some(&syms), None)).unwrap().unwrap();
    let mut map: Vec<u32> = (0..10).collect();
    map[7] = 0;
    let e = fixup(&ids, &section, &map).unwrap_err();
    assert!(matches!(e, Error::Rebase { type_id: Some(7), .. }), "{e:?}");
    assert!(e.to_string().contains("__BTF_ID__typedef__t") && e.to_string().contains("maps to 0"));
    let e = fixup(&ids, &section, &[0, 1, 2]).unwrap_err();
    assert!(e.to_string().contains("__BTF_ID__struct__s: id 6 is outside"), "{e}");
    let e = fixup(&ids, &section[..8], &map).unwrap_err();
    assert!(matches!(e, Error::Input { .. }));
}

fn parse_err(file: &[u8]) -> String {
    match parse_btf_ids(file) {
        Err(e @ Error::Elf { .. }) => e.to_string(),
        other => panic!("expected an ELF error, got {other:?}"),
    }
}

#[test]
fn malformed_inputs_are_elf_errors() {
    for (is_64, be) in kinds() {
        let (section, syms) = sample(be);
        let with = |f: &dyn Fn(&mut Vec<S>)| {
            let mut s = syms.clone();
            f(&mut s);
            elf(is_64, be, &section, Some(&s), None)
        };
        let m = parse_err(&elf(is_64, be, &section, None, None));
        assert!(m.contains("module has .BTF_ids but no symbol table"), "{m}");
        let m = parse_err(&with(&|s| s.push(S("__BTF_ID__func__fa__9", 56, 4, IDS_SHNDX))));
        assert!(m.contains("outside the section"), "{m}");
        let m = parse_err(&with(&|s| s.push(S("__BTF_ID__set__big", 40, 16, IDS_SHNDX))));
        assert!(m.contains("used twice") || m.contains("count word"), "{m}");
        let m = parse_err(&with(&|s| s[7].2 = 10));
        assert!(m.contains("not 4 x (count + 1)"), "{m}");
        let m = parse_err(&with(&|s| s[3].2 = 28));
        assert!(m.contains("not 8 x (count + 1)"), "{m}");
        let m = parse_err(&with(&|s| s[3].2 = 24));
        assert!(m.contains("count word is 3"), "{m}");
        let m = parse_err(&with(&|s| s[7].2 = 40));
        assert!(m.contains("outside the section"), "{m}");
        let m = parse_err(&with(&|s| s[7].1 = 32));
        assert!(m.contains("overlap") || m.contains("count word"), "{m}");
        let m = parse_err(&with(&|s| s[4].1 = 20));
        assert!(m.contains("header or flags word"), "{m}");
        let m = parse_err(&with(&|s| s[4].1 = 8));
        assert!(m.contains("header or flags word"), "{m}");
        let m = parse_err(&with(&|s| s[2].1 = 2));
        assert!(m.contains("overlap"), "{m}");
        let m = parse_err(&with(&|s| s[2].1 = 6));
        assert!(m.contains("overlaps the header of set"), "{m}");
        let m = parse_err(&with(&|s| s[5].1 = 16));
        assert!(m.contains("share offset"), "{m}");
        let m = parse_err(&with(&|s| s.push(S("__BTF_ID__enum__e__1", 52, 4, IDS_SHNDX))));
        assert!(m.contains("unsupported prefix"), "{m}");
        let m = parse_err(&with(&|s| s.push(S("__BTF_ID__func", 52, 4, IDS_SHNDX))));
        assert!(m.contains("unsupported prefix"), "{m}");
        for bad in [
            "__BTF_ID__func__fa",
            "__BTF_ID__func__fa__",
            "__BTF_ID__func__fa__1x",
            "__BTF_ID__func____1",
        ] {
            let b: &'static str = Box::leak(bad.to_owned().into_boxed_str());
            let m = parse_err(&with(&|s| s.push(S(b, 52, 4, IDS_SHNDX))));
            assert!(m.contains("does not end in __<digits>"), "{bad}: {m}");
        }
        let m = parse_err(&with(&|s| s.push(S("__BTF_ID__set8__", 52, 0, IDS_SHNDX))));
        assert!(m.contains("no set name"), "{m}");
        // Section data past the end of the file.
        let m = parse_err(&elf(is_64, be, &section, Some(&syms), Some(1 << 20)));
        assert!(m.contains("past the end of the file"), "{m}");
        // A truncated section: sh_size shorter than the symbols say.
        let m = parse_err(&elf(is_64, be, &section[..40], Some(&syms), None));
        assert!(m.contains("outside the section"), "{m}");
    }
}

#[test]
fn truncation_and_corruption_never_panic() {
    let (section, syms) = sample(false);
    let file = elf(true, false, &section, Some(&syms), None);
    for n in 0..file.len() {
        let _ = parse_btf_ids(&file[..n]);
    }
    // Flip every byte in turn to a few values; whatever parses must fix up without panic.
    let map: Vec<u32> = (0..64).collect();
    let btf = tiny_btf();
    for i in 0..file.len() {
        for v in [0u8, 1, 0x7f, 0xff] {
            let mut f = file.clone();
            f[i] = v;
            if let Ok(Some(ids)) = parse_btf_ids(&f) {
                let info = crate::elf::section_by_name(&f, ".BTF_ids").unwrap().unwrap();
                let data = info.data(&f).unwrap();
                let _ = fixup(&ids, data, &map);
                let _ = check(&ids, &btf);
            }
        }
    }
}

#[test]
fn fixup_of_a_hand_made_model_never_panics() {
    let section = words(false, &[1, 2, 3]);
    let map: Vec<u32> = (0..8).collect();
    let entries = [
        Entry::Slot { offset: u64::MAX, kind: SlotKind::Func, name: "f".into(), id: 1 },
        Entry::Set {
            offset: u64::MAX - 2,
            name: "s".into(),
            count: u32::MAX,
            ids: vec![],
            members: vec![],
        },
        Entry::Set8 {
            offset: 4,
            name: "s8".into(),
            count: u32::MAX,
            flags: 0,
            pairs: vec![],
            members: vec![],
        },
    ];
    for e in entries {
        let ids =
            BtfIds { big_endian: false, section_offset: 0, section_size: 12, entries: vec![e] };
        assert!(fixup(&ids, &section, &map).is_err());
    }
}
