//! Tests of section replacement on hand-built ELF files (both classes, both byte orders).

use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::Endianness;

use super::layout;
use super::{patch_sections_in_place, replace_sections, ModuleImage};
use crate::compress::{compress, Compression};
use crate::error::Error;

/// A section of a test file: name, type, alignment, data (size for NOBITS), sh_info.
struct Sec(&'static str, u32, u64, Vec<u8>, u32);

/// Assemble: ELF header, sections in order (aligned), .shstrtab, section headers.
fn build(is_64: bool, be: bool, e_type: u16, secs: &[Sec]) -> Vec<u8> {
    let (ehsize, shentsize) = if is_64 { (64usize, 64usize) } else { (52, 40) };
    let put = |out: &mut Vec<u8>, at: usize, v: u64, width: usize| {
        let b = if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let src = if be { &b[8 - width..] } else { &b[..width] };
        out[at..at + width].copy_from_slice(src);
    };
    let mut names = vec![0u8];
    let mut name_offs = vec![];
    for name in secs.iter().map(|s| s.0).chain([".shstrtab"]) {
        name_offs.push(names.len() as u64);
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let mut out = vec![0u8; ehsize];
    let mut offsets = vec![];
    for s in secs {
        while !(out.len() as u64).is_multiple_of(s.2.max(1)) {
            out.push(0xEE); // non-zero padding: must not leak into moved regions
        }
        offsets.push(out.len() as u64);
        if s.1 != elf::SHT_NOBITS {
            out.extend_from_slice(&s.3);
        }
    }
    let strtab_off = out.len() as u64;
    out.extend_from_slice(&names);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len();
    let shnum = secs.len() + 2;
    out.resize(shoff + shnum * shentsize, 0);
    out[..4].copy_from_slice(&elf::ELFMAG);
    out[4] = if is_64 { elf::ELFCLASS64 } else { elf::ELFCLASS32 };
    out[5] = if be { elf::ELFDATA2MSB } else { elf::ELFDATA2LSB };
    out[6] = elf::EV_CURRENT;
    put(&mut out, 16, u64::from(e_type), 2);
    put(&mut out, 20, 1, 4);
    let (shoff_at, tail) = if is_64 { (0x28, 0x34) } else { (0x20, 0x28) };
    put(&mut out, shoff_at, shoff as u64, if is_64 { 8 } else { 4 });
    put(&mut out, tail, ehsize as u64, 2);
    put(&mut out, tail + 6, shentsize as u64, 2);
    put(&mut out, tail + 8, shnum as u64, 2);
    put(&mut out, tail + 10, (shnum - 1) as u64, 2);
    let rows = secs
        .iter()
        .zip(&offsets)
        .map(|(s, &o)| (s.1, o, s.3.len() as u64, s.2, s.4))
        .chain([(elf::SHT_STRTAB, strtab_off, names.len() as u64, 1, 0)]);
    for (i, (ty, off, size, align, info)) in rows.enumerate() {
        let at = shoff + (i + 1) * shentsize;
        let w = if is_64 { 8 } else { 4 };
        put(&mut out, at, name_offs[i], 4);
        put(&mut out, at + 4, u64::from(ty), 4);
        let (off_at, size_at, info_at, align_at) =
            if is_64 { (24, 32, 44, 48) } else { (16, 20, 28, 32) };
        put(&mut out, at + off_at, off, w);
        put(&mut out, at + size_at, size, w);
        put(&mut out, at + info_at, u64::from(info), 4);
        put(&mut out, at + align_at, align, w);
    }
    out
}

fn sample(is_64: bool, be: bool, e_type: u16) -> Vec<u8> {
    let rel_entry = |off: u64| -> Vec<u8> {
        let w = if is_64 { 8 } else { 4 };
        let b = if be { off.to_be_bytes() } else { off.to_le_bytes() };
        let mut v = if be { b[8 - w..].to_vec() } else { b[..w].to_vec() };
        v.resize(if is_64 { 24 } else { 12 }, 0);
        v
    };
    build(
        is_64,
        be,
        e_type,
        &[
            Sec(".text", elf::SHT_PROGBITS, 16, vec![0x90; 37], 0),
            Sec(".rela.text", elf::SHT_RELA, 8, [rel_entry(4), rel_entry(30)].concat(), 1),
            Sec(".bss", elf::SHT_NOBITS, 32, vec![0; 64], 0),
            Sec(".BTF", elf::SHT_PROGBITS, 1, (0..77).collect(), 0),
            Sec(".BTF_ids", elf::SHT_PROGBITS, 4, vec![1; 20], 0),
            Sec(".data", elf::SHT_PROGBITS, 64, vec![7; 9], 0),
        ],
    )
}

/// (name, type, offset, size, align, bytes) of a section, read with object.
type Row = (Vec<u8>, u32, u64, u64, u64, Vec<u8>);

fn sections(data: &[u8]) -> Vec<Row> {
    fn go<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Vec<Row> {
        let h = Elf::parse(data).unwrap();
        let e = h.endian().unwrap();
        let t = h.sections(e, data).unwrap();
        t.iter()
            .map(|s| {
                let bytes = s.data(e, data).unwrap_or_default().to_vec();
                let name = t.section_name(e, s).unwrap_or_default().to_vec();
                (
                    name,
                    s.sh_type(e),
                    s.sh_offset(e).into(),
                    s.sh_size(e).into(),
                    s.sh_addralign(e).into(),
                    bytes,
                )
            })
            .collect()
    }
    if data[4] == elf::ELFCLASS64 {
        go::<elf::FileHeader64<Endianness>>(data)
    } else {
        go::<elf::FileHeader32<Endianness>>(data)
    }
}

const SHAPES: [(bool, bool); 4] = [(true, false), (true, true), (false, false), (false, true)];

#[test]
fn same_size_is_an_in_place_patch() {
    for (is_64, be) in SHAPES {
        let input = sample(is_64, be, elf::ET_REL);
        let new: Vec<u8> = (100..177).collect();
        let out = replace_sections(&input, &[(".BTF", &new)]).unwrap();
        let at = sections(&input).iter().find(|s| s.0 == b".BTF").unwrap().2 as usize;
        let mut expected = input.clone();
        expected[at..at + 77].copy_from_slice(&new);
        assert_eq!(out, expected);
        let mut patched = input.clone();
        patch_sections_in_place(&mut patched, &[(".BTF", &new)]).unwrap();
        assert_eq!(patched, expected);
        // Replacing with the same bytes, or nothing, is the identity.
        assert_eq!(replace_sections(&input, &[]).unwrap(), input);
        let e = patch_sections_in_place(&mut patched, &[(".BTF", &new[1..])]).unwrap_err();
        assert!(matches!(e, Error::Elf { .. }));
    }
}

#[test]
fn resize_relays_out_the_rest() {
    for (is_64, be) in SHAPES {
        let input = sample(is_64, be, elf::ET_REL);
        let before = sections(&input);
        for size in [0usize, 1, 76, 78, 500] {
            let new: Vec<u8> = (0..size).map(|i| i as u8 ^ 0x5A).collect();
            let ids = vec![9u8; 20];
            let out = replace_sections(&input, &[(".BTF", &new), (".BTF_ids", &ids)]).unwrap();
            let after = sections(&out);
            assert_eq!(before.len(), after.len());
            let mut end = 0;
            for (b, a) in before.iter().zip(&after) {
                assert_eq!((&b.0, b.1, b.4), (&a.0, a.1, a.4));
                match &b.0[..] {
                    b".BTF" => assert_eq!(a.5, new),
                    b".BTF_ids" => assert_eq!(a.5, ids),
                    _ => assert_eq!(a.5, b.5, "{:?}", String::from_utf8_lossy(&b.0)),
                }
                if b.0 == b".text" || b.0 == b".rela.text" || b.0 == b".BTF" {
                    assert_eq!(a.2, b.2, "sections up to the resized one stay");
                }
                assert!(a.2 + if a.1 == elf::SHT_NOBITS { 0 } else { a.3 } <= out.len() as u64);
                if a.1 != elf::SHT_NOBITS && a.3 > 0 {
                    assert_eq!(a.2 % a.4.max(1), 0, "aligned");
                    assert!(a.2 >= end, "in order, no overlap");
                    end = a.2 + a.3;
                }
            }
            let lay = layout::parse(&out).unwrap();
            assert_eq!(lay.shoff % if is_64 { 8 } else { 4 }, 0);
            assert_eq!(out.len() as u64, lay.shoff + lay.shnum * lay.shentsize());
            // Padding after the resized section is zeros.
            let btf_end = (after[4].2 + after[4].3) as usize;
            assert!(out[btf_end..after[5].2 as usize].iter().all(|&b| b == 0));
        }
    }
}

#[test]
fn refusals() {
    for (is_64, be) in SHAPES {
        let input = sample(is_64, be, elf::ET_REL);
        let elf_err = |r: Result<Vec<u8>, Error>| match r {
            Err(Error::Elf { message, .. }) => message,
            other => panic!("expected an ELF error, got {other:?}"),
        };
        assert!(elf_err(replace_sections(&input, &[(".nope", b"x")])).contains("no section"));
        assert!(elf_err(replace_sections(&input, &[(".bss", b"x")])).contains("SHT_PROGBITS"));
        assert!(elf_err(replace_sections(&input, &[(".rela.text", b"x")])).contains("SHT_PROGBITS"));
        // .rela.text has an entry at offset 30 of .text.
        assert!(replace_sections(&input, &[(".text", &[0; 31])]).is_ok());
        assert!(elf_err(replace_sections(&input, &[(".text", &[0; 30])])).contains("relocation 1"));
        let exec = sample(is_64, be, elf::ET_EXEC);
        assert!(replace_sections(&exec, &[(".BTF", &[0; 77])]).is_ok());
        assert!(elf_err(replace_sections(&exec, &[(".BTF", &[0; 78])])).contains("linked image"));
        // Truncations never panic and are errors once the tables are cut.
        for cut in 0..input.len() {
            assert!(replace_sections(&input[..cut], &[(".BTF", &[0; 5])]).is_err(), "cut {cut}");
        }
    }
}

#[test]
fn overlapping_sections_are_refused() {
    let mut input = sample(true, false, elf::ET_REL);
    let lay = layout::parse(&input).unwrap();
    // Point .data (section 6) at .BTF's offset.
    let btf_off = lay.sections[4].offset;
    let at = (lay.shoff + 6 * 64 + 24) as usize;
    input[at..at + 8].copy_from_slice(&btf_off.to_le_bytes());
    let e = replace_sections(&input, &[(".BTF", &[1; 100])]).unwrap_err();
    assert!(e.to_string().contains("overlaps"), "{e}");
    let e = replace_sections(&input, &[(".BTF", &[1; 77])]).unwrap_err();
    assert!(e.to_string().contains("overlaps"), "{e}");
    // Patching an uninvolved section in place is still fine.
    assert!(replace_sections(&input, &[(".text", &[1; 37])]).is_ok());
}

#[test]
fn open_splits_compression_and_signature() {
    let elf_bytes = sample(true, false, elf::ET_REL);
    let mut signed = elf_bytes.clone();
    signed.extend_from_slice(b"SIG");
    signed.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    signed.extend_from_slice(super::MODULE_SIG_MAGIC);
    for c in [Compression::None, Compression::Xz, Compression::Zstd, Compression::Gzip] {
        let file = compress(&signed, c).unwrap();
        let m = ModuleImage::open(&file).unwrap();
        assert_eq!(m.compression, c);
        assert_eq!(&*m.elf, &elf_bytes[..]);
        assert_eq!(m.signature.unwrap().trailer, signed[elf_bytes.len()..]);
    }
    assert!(ModuleImage::open(b"not an elf file at all").is_err());
}
