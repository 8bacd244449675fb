//! Unit tests of the validator (docs/rules.md §2).
use super::*;
use std::sync::Arc;

const INT: u32 = 1;
const PTR: u32 = 2;
const ARRAY: u32 = 3;
const STRUCT: u32 = 4;
const UNION: u32 = 5;
const ENUM: u32 = 6;
const FWD: u32 = 7;
const TYPEDEF: u32 = 8;
const VOLATILE: u32 = 9;
const CONST: u32 = 10;
const RESTRICT: u32 = 11;
const FUNC: u32 = 12;
const PROTO: u32 = 13;
const VAR: u32 = 14;
const DATASEC: u32 = 15;
const FLOAT: u32 = 16;
const DECL_TAG: u32 = 17;
const TYPE_TAG: u32 = 18;
const ENUM64: u32 = 19;

/// Hand-built little-endian BTF.
struct B {
    types: Vec<u8>,
    strs: Vec<u8>,
    str_base: u32,
    be: bool,
}

impl B {
    fn new() -> B {
        B { types: Vec::new(), strs: vec![0], str_base: 0, be: false }
    }
    /// Own strings of a split BTF on `base`.
    fn split(base: &Btf) -> B {
        B { types: Vec::new(), strs: Vec::new(), str_base: base.str_end(), be: false }
    }
    fn s(&mut self, name: &str) -> u32 {
        let off = self.str_base + self.strs.len() as u32;
        self.strs.extend_from_slice(name.as_bytes());
        self.strs.push(0);
        off
    }
    fn u(&mut self, w: u32) -> &mut Self {
        let b = if self.be { w.to_be_bytes() } else { w.to_le_bytes() };
        self.types.extend_from_slice(&b);
        self
    }
    /// A `btf_type` head; `name` is a string to add ("" = name_off 0).
    fn t(&mut self, name: &str, kind: u32, vlen: u32, kflag: bool, w8: u32) -> &mut Self {
        let off = if name.is_empty() { 0 } else { self.s(name) };
        self.raw(off, kind, vlen, kflag, w8)
    }
    fn raw(&mut self, name_off: u32, kind: u32, vlen: u32, kflag: bool, w8: u32) -> &mut Self {
        let info = (kind << 24) | vlen | if kflag { 1 << 31 } else { 0 };
        self.u(name_off).u(info).u(w8)
    }
    fn int(&mut self, name: &str, size: u32, bits: u32) -> &mut Self {
        self.t(name, INT, 0, false, size).u(bits)
    }
    fn m(&mut self, name: &str, ty: u32, off: u32) -> &mut Self {
        let n = if name.is_empty() { 0 } else { self.s(name) };
        self.u(n).u(ty).u(off)
    }
    fn blob(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let w = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if self.be { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        out.extend_from_slice(if self.be { &[0xeb, 0x9f, 1, 0] } else { &[0x9f, 0xeb, 1, 0] });
        w(&mut out, 24);
        w(&mut out, 0);
        w(&mut out, self.types.len() as u32);
        w(&mut out, self.types.len() as u32);
        w(&mut out, self.strs.len() as u32);
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strs);
        out
    }
    fn btf(&self) -> Btf {
        Btf::from_slice(&self.blob(), None).expect("test blob parses")
    }
    fn btf_on(&self, base: &Arc<Btf>) -> Btf {
        Btf::from_slice(&self.blob(), Some(base.clone())).expect("split blob parses")
    }
}

fn run(btf: &Btf, level: Level, wide: bool) -> Result<()> {
    btf.validate(&ValidateOptions { level, wide })
}

/// The failing type id under strict validation (`Some(None)`: failed without id).
fn fails(btf: &Btf) -> Option<Option<u32>> {
    match run(btf, Level::Strict, false) {
        Ok(()) => None,
        Err(e @ Error::Validation { .. }) => Some(e.type_id()),
        Err(e) => panic!("unexpected error class: {e:?}"),
    }
}

/// [`fails`] at module level: phases 0-2 only (the meta rules without R11's sizes).
fn fails_module(btf: &Btf) -> Option<Option<u32>> {
    match run(btf, Level::Module, false) {
        Ok(()) => None,
        Err(e @ Error::Validation { .. }) => Some(e.type_id()),
        Err(e) => panic!("unexpected error class: {e:?}"),
    }
}

fn msg(btf: &Btf, level: Level) -> String {
    run(btf, level, false).unwrap_err().to_string()
}

/// One of every kind, all valid.
fn all_kinds() -> B {
    let mut b = B::new();
    b.int("int", 4, (1 << 24) | 32); // 1
    b.t("", PTR, 0, false, 1); // 2
    b.t("", ARRAY, 0, false, 0).u(1).u(1).u(4); // 3
    b.t("s", STRUCT, 2, false, 16).m("a", 1, 0).m("b", 2, 64); // 4
    b.t("u", UNION, 1, false, 4).m("x", 1, 0); // 5
    b.t("e", ENUM, 1, false, 4);
    let a = b.s("A");
    b.u(a).u(0); // 6
    b.t("f", FWD, 0, true, 0); // 7
    b.t("td", TYPEDEF, 0, false, 1); // 8
    b.t("", VOLATILE, 0, false, 1); // 9
    b.t("", CONST, 0, false, 1); // 10
    b.t("", RESTRICT, 0, false, 2); // 11
    b.t("", PROTO, 2, false, 1);
    let p = b.s("p");
    b.u(p).u(1).u(0).u(0); // 12
    b.t("fn", FUNC, 1, false, 12); // 13
    b.t("v", VAR, 0, false, 1).u(1); // 14
    b.t(".data..x", DATASEC, 2, false, 16).u(14).u(0).u(4).u(14).u(8).u(4); // 15
    b.t("float", FLOAT, 0, false, 8); // 16
    b.t("tag", DECL_TAG, 0, true, 4).u(1); // 17
    b.t("tt", TYPE_TAG, 0, true, 10); // 18
    b.t("e64", ENUM64, 1, true, 8);
    let c = b.s("C");
    b.u(c).u(1).u(2); // 19
    b.t("ftag", DECL_TAG, 0, false, 13).u(0); // 20
    b.t("vtag", DECL_TAG, 0, false, 14).u(u32::MAX); // 21
    b.t("", ARRAY, 0, false, 0).u(4).u(8).u(0); // 22: index through a typedef
    b
}

#[test]
fn modifiers_match_the_kind_table() {
    for kind in crate::kind::Kind::ALL {
        assert_eq!(is_mod(kind as u8), kind.is_modifier(), "{kind:?}");
    }
}

#[test]
fn all_kinds_valid_at_both_levels() {
    let b = all_kinds();
    for be in [false, true] {
        let mut b2 = B { be, ..B::new() };
        if be {
            // Re-encode the same records big-endian.
            b2.strs = b.strs.clone();
            for w in b.types.chunks(4) {
                b2.u(u32::from_le_bytes(w.try_into().unwrap()));
            }
        } else {
            b2 = all_kinds();
        }
        let btf = b2.btf();
        assert_eq!(btf.byte_order() == ByteOrder::Big, be);
        run(&btf, Level::Strict, false).unwrap();
        run(&btf, Level::Module, false).unwrap();
        run(&btf, Level::Strict, true).unwrap();
    }
}

/// Builds `all_kinds()` plus whatever `f` adds (ids from 23).
fn with(f: impl FnOnce(&mut B)) -> Btf {
    let mut b = all_kinds();
    f(&mut b);
    b.btf()
}

const N: u32 = 23; // first id added by `with`

#[test]
fn error_carries_kind_and_offset() {
    let btf = with(|b| {
        b.t("", PTR, 1, false, 1);
    });
    let e = run(&btf, Level::Module, false).unwrap_err();
    let t = btf.type_by_id(N).unwrap();
    match e {
        Error::Validation { type_id, kind, offset, ref message, section } => {
            assert_eq!(section, crate::error::Section::Types);
            assert_eq!(type_id, Some(N));
            assert_eq!(kind, Some("PTR"));
            assert_eq!(offset, Some(t.blob_offset()));
            assert_eq!(message, "vlen != 0");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn common_meta() {
    // M1: vlen > 0xffff only with wide.
    let mut b = B::new();
    b.int("int", 4, 32);
    b.t("s", STRUCT, 0x10000, false, 4);
    for _ in 0..0x10000 {
        b.m("", 1, 0);
    }
    let btf = b.btf();
    assert_eq!(fails(&btf), Some(Some(2)));
    assert!(msg(&btf, Level::Module).contains("Invalid btf_info"));
    run(&btf, Level::Strict, true).unwrap();
    // M2: name_off past the string section.
    let mut end = 0;
    let btf = with(|b| {
        end = b.strs.len() as u32;
        b.raw(end, INT, 0, false, 4).u(32);
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    assert_eq!(msg(&btf, Level::Module), format!("Invalid name_offset:{end}"));
    // ...and just inside it is fine (the final NUL: the empty name).
    let btf = with(|b| {
        let end = b.strs.len() as u32 - 1;
        b.raw(end, INT, 0, false, 4).u(32);
    });
    assert_eq!(fails(&btf), None);
}

#[test]
fn int_meta() {
    let ok = |data: u32, size: u32| {
        fails(&with(|b| {
            b.int("i", size, data);
        }))
    };
    assert_eq!(ok(32, 4), None);
    assert_eq!(ok(1 << 24 | 8, 1), None); // signed char-ish
    assert_eq!(ok(4 << 24 | 8, 1), None); // bool
    assert_eq!(ok(2 << 24 | 8, 1), None); // char
    assert_eq!(ok(128, 16), None);
    assert_eq!(ok(3 << 24 | 8, 1), Some(Some(N))); // encoding
    assert_eq!(ok(8 << 24 | 8, 1), Some(Some(N)));
    assert_eq!(ok(0x1000_0000 | 8, 1), Some(Some(N))); // reserved bits
    assert_eq!(ok(120 | 16 << 16, 32), Some(Some(N))); // bits + offset > 128
    assert_eq!(ok(4 | 5 << 16, 1), Some(Some(N))); // 9 bits in 1 byte
    assert_eq!(ok(4 | 4 << 16, 1), None);
    assert_eq!(
        fails(&with(|b| {
            b.t("i", INT, 1, false, 4).u(32);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("i", INT, 0, true, 4).u(32);
        })),
        Some(Some(N))
    );
    // INT names are not checked.
    assert_eq!(
        fails(&with(|b| {
            b.int("not an ident", 4, 32);
        })),
        None
    );
}

#[test]
fn ref_meta() {
    for k in [PTR, CONST, VOLATILE, RESTRICT] {
        assert_eq!(
            fails(&with(|b| {
                b.t("", k, 0, false, 1);
            })),
            None
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("n", k, 0, false, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", k, 1, false, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", k, 0, true, 1);
            })),
            Some(Some(N))
        );
        let e = with(|b| {
            b.t("", k, 0, false, MAX_TYPE_ID + 1);
        });
        assert_eq!(fails(&e), Some(Some(N)));
        assert_eq!(msg(&e, Level::Module), "Invalid type_id");
    }
    // TYPEDEF: identifier; TYPE_TAG: non-empty, kflag allowed.
    assert_eq!(
        fails(&with(|b| {
            b.t("_t.1", TYPEDEF, 0, false, 1);
        })),
        None
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("", TYPEDEF, 0, false, 1);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("1t", TYPEDEF, 0, false, 1);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("a-b", TYPEDEF, 0, false, 1);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("t", TYPEDEF, 0, true, 1);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("any thing!", TYPE_TAG, 0, true, 1);
        })),
        None
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("", TYPE_TAG, 0, false, 1);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("x", TYPE_TAG, 1, false, 1);
        })),
        Some(Some(N))
    );
}

#[test]
fn name_length_limit() {
    let name = |n: usize| "a".repeat(n);
    assert_eq!(
        fails(&with(|b| {
            b.t(&name(NAME_MAX), TYPEDEF, 0, false, 1);
        })),
        None
    );
    assert_eq!(
        fails(&with(|b| {
            b.t(&name(NAME_MAX + 1), TYPEDEF, 0, false, 1);
        })),
        Some(Some(N))
    );
    let sec = |n: usize| format!(".{}", "s".repeat(n - 1));
    assert_eq!(
        fails(&with(|b| {
            b.t(&sec(NAME_MAX), DATASEC, 0, false, 1);
        })),
        None
    );
    assert_eq!(
        fails(&with(|b| {
            b.t(&sec(NAME_MAX + 1), DATASEC, 0, false, 1);
        })),
        Some(Some(N))
    );
    for c in 0..=255u8 {
        for pos in 0..8 {
            let mut bytes = *b"abcdefgh";
            bytes[pos] = c;
            let mut block = *b"abcdefghijklmnop";
            block[..8].copy_from_slice(&bytes);
            let w = codes16(&block);
            let want_bad = c != 0 && CHAR_CLASS[c as usize] & C_REST == 0;
            let want = if c == 0 {
                0x01
            } else if want_bad {
                0x80
            } else {
                0
            };
            assert_eq!(w, want << (8 * pos), "{c:#x}@{pos}");
        }
    }
    for n in 1..40 {
        let mut v = vec![b'x'; n];
        v.push(0);
        v.extend_from_slice(b"-- junk after --");
        assert!(is_ident(&v), "{n}");
        v[n - 1] = b'-';
        assert!(!is_ident(&v), "{n}");
    }
    assert!(is_ident(b"a\0"));
    assert!(!is_ident(b"\0"));
    assert!(!is_ident(b""));
    assert!(is_ident(b"abc")); // unterminated: the section end terminates
    assert!(!is_ident(b"9"));
    assert!(is_section_name(b"license sec!~\0"));
    assert!(!is_section_name(b"\x7f\0"));
    assert!(!is_section_name(b"\0"));
}

#[test]
fn fwd_and_array_meta() {
    assert_eq!(
        fails(&with(|b| {
            b.t("f", FWD, 0, false, 0);
        })),
        None
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("", FWD, 0, false, 0);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("f", FWD, 0, false, 1);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("f", FWD, 1, false, 0);
        })),
        Some(Some(N))
    );
    let arr = |name: &str, vlen, kflag, size, elem, index| {
        fails(&with(|b| {
            b.t(name, ARRAY, vlen, kflag, size).u(elem).u(index).u(2);
        }))
    };
    assert_eq!(arr("", 0, false, 0, 1, 1), None);
    assert_eq!(arr("a", 0, false, 0, 1, 1), Some(Some(N)));
    assert_eq!(arr("", 1, false, 0, 1, 1), Some(Some(N)));
    assert_eq!(arr("", 0, true, 0, 1, 1), Some(Some(N)));
    assert_eq!(arr("", 0, false, 4, 1, 1), Some(Some(N)));
    assert_eq!(arr("", 0, false, 0, 0, 1), Some(Some(N)));
    assert_eq!(arr("", 0, false, 0, 1, 0), Some(Some(N)));
    assert_eq!(arr("", 0, false, 0, MAX_TYPE_ID + 1, 1), Some(Some(N)));
    assert_eq!(arr("", 0, false, 0, 1, MAX_TYPE_ID + 1), Some(Some(N)));
}

#[test]
fn struct_meta() {
    let st = |kind: u32, name: &str, kflag: bool, size: u32, ms: &[(&str, u32, u32)]| {
        fails_module(&with(|b| {
            b.t(name, kind, ms.len() as u32, kflag, size);
            for &(n, t, o) in ms {
                b.m(n, t, o);
            }
        }))
    };
    assert_eq!(st(STRUCT, "", false, 8, &[("a", 1, 0), ("", 1, 32)]), None);
    assert_eq!(st(STRUCT, "9", false, 8, &[]), Some(Some(N)));
    assert_eq!(st(STRUCT, "s", false, 8, &[("a b", 1, 0)]), Some(Some(N)));
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", 0, 0)]), Some(Some(N)));
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", MAX_TYPE_ID + 1, 0)]), Some(Some(N)));
    // Offsets must not decrease; equal offsets are fine (bitfields).
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, 32), ("b", 1, 32)]), None);
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, 32), ("b", 1, 0)]), Some(Some(N)));
    // ceil(bitoff / 8) <= size.
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, 64)]), None);
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, 65)]), Some(Some(N)));
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, u32::MAX)]), Some(Some(N)));
    // kflag: bitfield size in the top byte is ignored for the offset.
    assert_eq!(st(STRUCT, "s", true, 8, &[("a", 1, 3 << 24 | 8)]), None);
    assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, 3 << 24 | 8)]), Some(Some(N)));
    // Unions: every member at 0.
    assert_eq!(st(UNION, "u", false, 4, &[("a", 1, 0), ("b", 1, 0)]), None);
    assert_eq!(st(UNION, "u", false, 8, &[("a", 1, 0), ("b", 1, 8)]), Some(Some(N)));
    assert_eq!(st(UNION, "u", true, 4, &[("a", 1, 5 << 24)]), None);
    // Member name offset out of range.
    let btf = with(|b| {
        b.t("", STRUCT, 1, false, 4);
        let end = b.strs.len() as u32;
        b.u(end).u(1).u(0);
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    assert!(msg(&btf, Level::Module).contains("name_offset"));
}

#[test]
fn enum_meta() {
    for k in [ENUM, ENUM64] {
        let en = |name: &str, size: u32, vals: &[&str]| {
            fails(&with(|b| {
                b.t(name, k, vals.len() as u32, false, size);
                for v in vals {
                    let o = if v.is_empty() { 0 } else { b.s(v) };
                    b.u(o).u(7);
                    if k == ENUM64 {
                        b.u(0);
                    }
                }
            }))
        };
        for size in [1, 2, 4, 8] {
            assert_eq!(en("", size, &["A", "B"]), None);
        }
        for size in [0, 3, 5, 16] {
            assert_eq!(en("e", size, &["A"]), Some(Some(N)));
        }
        assert_eq!(en("e e", 4, &["A"]), Some(Some(N)));
        assert_eq!(en("e", 4, &["A", ""]), Some(Some(N)));
        assert_eq!(en("e", 4, &["A", "-"]), Some(Some(N)));
        assert_eq!(en("e", 4, &[]), None);
    }
}

#[test]
fn func_var_datasec_float_decl_tag_meta() {
    assert_eq!(
        fails(&with(|b| {
            b.t("g", FUNC, 0, false, 12);
        })),
        None
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("g", FUNC, 2, false, 12);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("g", FUNC, 0, true, 12);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("", FUNC, 0, false, 12);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("p", PROTO, 0, false, 0);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("", PROTO, 0, true, 0);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("", PROTO, 0, false, 0);
        })),
        None
    );

    let var = |name: &str, vlen, kflag, ty, linkage| {
        fails(&with(|b| {
            b.t(name, VAR, vlen, kflag, ty).u(linkage);
        }))
    };
    assert_eq!(var("v", 0, false, 1, 0), None);
    assert_eq!(var("v", 0, false, 1, 2), Some(Some(N)));
    assert_eq!(var("v", 1, false, 1, 0), Some(Some(N)));
    assert_eq!(var("v", 0, true, 1, 0), Some(Some(N)));
    assert_eq!(var("", 0, false, 1, 0), Some(Some(N)));
    assert_eq!(var("v", 0, false, 0, 0), Some(Some(N)));
    assert_eq!(var("v", 0, false, MAX_TYPE_ID + 1, 0), Some(Some(N)));

    let ds = |name: &str, kflag, size, vs: &[(u32, u32, u32)]| {
        fails(&with(|b| {
            b.t(name, DATASEC, vs.len() as u32, kflag, size);
            for &(t, o, s) in vs {
                b.u(t).u(o).u(s);
            }
        }))
    };
    assert_eq!(ds(".bss", false, 8, &[(14, 0, 4), (14, 4, 4)]), None);
    assert_eq!(ds(".bss", false, 8, &[]), None);
    assert_eq!(ds(".bss", false, 0, &[]), Some(Some(N)));
    assert_eq!(ds(".bss", true, 8, &[]), Some(Some(N)));
    assert_eq!(ds("", false, 8, &[]), Some(Some(N)));
    assert_eq!(ds("a\tb", false, 8, &[]), Some(Some(N)));
    assert_eq!(ds(".bss", false, 8, &[(0, 0, 4)]), Some(Some(N)));
    assert_eq!(ds(".bss", false, 8, &[(14, 4, 4), (14, 0, 4)]), Some(Some(N)));
    assert_eq!(ds(".bss", false, 8, &[(14, 8, 1)]), Some(Some(N))); // offset >= size
    assert_eq!(ds(".bss", false, 8, &[(14, 0, 0)]), Some(Some(N)));
    assert_eq!(ds(".bss", false, 8, &[(14, 0, 9)]), Some(Some(N)));
    assert_eq!(ds(".bss", false, 8, &[(14, 6, 4)]), Some(Some(N))); // offset+size
    assert_eq!(ds(".bss", false, 8, &[(14, 7, u32::MAX)]), Some(Some(N)));

    for (size, ok) in [(2, true), (4, true), (8, true), (12, true), (16, true), (1, false)] {
        let r = fails(&with(|b| {
            b.t("f", FLOAT, 0, false, size);
        }));
        assert_eq!(r.is_none(), ok, "float size {size}");
    }
    assert_eq!(
        fails(&with(|b| {
            b.t("f", FLOAT, 1, false, 4);
        })),
        Some(Some(N))
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("f", FLOAT, 0, true, 4);
        })),
        Some(Some(N))
    );

    let dt = |name: &str, vlen, kflag, ty, comp: i32| {
        fails(&with(|b| {
            b.t(name, DECL_TAG, vlen, kflag, ty).u(comp as u32);
        }))
    };
    assert_eq!(dt("x y", 0, true, 4, -1), None);
    assert_eq!(dt("", 0, false, 4, -1), Some(Some(N)));
    assert_eq!(dt("x", 1, false, 4, -1), Some(Some(N)));
    assert_eq!(dt("x", 0, false, 4, -2), Some(Some(N)));
}

#[test]
fn meta_reports_lowest_id_and_precedes_later_phases() {
    // id N fails resolve (loop), id N+2 fails meta: meta wins even in strict mode.
    let btf = with(|b| {
        b.t("a", TYPEDEF, 0, false, N + 1); // N
        b.t("b", TYPEDEF, 0, false, N); // N+1
        b.t("", PTR, 0, true, 1); // N+2
        b.t("", PTR, 0, true, 1); // N+3
    });
    assert_eq!(fails(&btf), Some(Some(N + 2)));
}

#[test]
fn type_tag_chains() {
    // tag -> tag -> const -> int: fine.
    let btf = with(|b| {
        b.t("t1", TYPE_TAG, 0, false, N + 1);
        b.t("t2", TYPE_TAG, 0, false, 10);
    });
    assert_eq!(fails(&btf), None);
    // const -> tag: "Type tags don't precede modifiers", on the const.
    let btf = with(|b| {
        b.t("", CONST, 0, false, N + 1);
        b.t("t", TYPE_TAG, 0, false, 1);
    });
    assert_eq!(run(&btf, Level::Module, false).unwrap_err().type_id(), Some(N));
    assert_eq!(msg(&btf, Level::Module), "Type tags don't precede modifiers");
    // Reverse order of ids: the tag is checked at id N+1, reaching const N (< N+1)
    // stops the walk but the const itself was checked first and fails.
    let btf = with(|b| {
        b.t("t", TYPE_TAG, 0, false, 1); // N
        b.t("", VOLATILE, 0, false, N); // N+1: volatile -> tag
    });
    assert_eq!(run(&btf, Level::Module, false).unwrap_err().type_id(), Some(N + 1));
    // ptr breaks chains: const -> ptr -> tag is fine.
    let btf = with(|b| {
        b.t("", CONST, 0, false, N + 1);
        b.t("", PTR, 0, false, N + 2);
        b.t("t", TYPE_TAG, 0, false, 1);
    });
    assert_eq!(fails(&btf), None);
    // typedef -> tag also fails (typedef is a modifier).
    let btf = with(|b| {
        b.t("td2", TYPEDEF, 0, false, 18);
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    // Chain limit: 33 modifiers in a row, ids increasing.
    let chain = |len: u32| {
        with(|b| {
            for i in 0..len {
                let next = if i + 1 == len { 1 } else { N + i + 1 };
                b.t("", CONST, 0, false, next);
            }
        })
    };
    assert_eq!(run(&chain(32), Level::Module, false), Ok(()));
    let btf = chain(33);
    assert_eq!(run(&btf, Level::Module, false).unwrap_err().type_id(), Some(N));
    assert_eq!(msg(&btf, Level::Module), "Max chain length or cycle detected");
    // A cycle of modifiers is caught here, at module level already.
    let btf = with(|b| {
        b.t("", CONST, 0, false, N + 1);
        b.t("", VOLATILE, 0, false, N);
    });
    assert_eq!(run(&btf, Level::Module, false).unwrap_err().type_id(), Some(N));
    // Out-of-range id at the end of a chain.
    let btf = with(|b| {
        b.t("", CONST, 0, false, N + 1);
        b.t("", VOLATILE, 0, false, N + 7);
    });
    let e = run(&btf, Level::Module, false).unwrap_err();
    assert_eq!((e.type_id(), e.to_string().as_str()), (Some(N), "Invalid type_id"));
    // Self-loop of a typedef.
    let btf = with(|b| {
        b.t("x", TYPEDEF, 0, false, N);
    });
    assert_eq!(run(&btf, Level::Module, false).unwrap_err().type_id(), Some(N));
}

#[test]
fn resolve_r1_invalid_ids() {
    for (k, extra) in
        [(PTR, None), (TYPEDEF, None), (FUNC, None), (VAR, Some(0)), (DECL_TAG, Some(u32::MAX))]
    {
        let btf = with(|b| {
            b.t("x", k, 0, false, N + 5);
            if let Some(w) = extra {
                b.u(w);
            }
        });
        let btf = if k == PTR {
            with(|b| {
                b.t("", PTR, 0, false, N + 5);
            })
        } else {
            btf
        };
        assert_eq!(fails(&btf), Some(Some(N)), "kind {k}");
        if k != TYPEDEF {
            // Module level does not resolve.
            run(&btf, Level::Module, false).unwrap();
        }
    }
    // The kinds whose resolve checks meet an id past last_id as a bad part of theirs
    // word it as the kernel does (`r1_message`).
    let worded = |f: &dyn Fn(&mut B), m: &str| {
        let btf = with(|b| f(b));
        assert_eq!(fails(&btf), Some(Some(N)), "{m}");
        assert_eq!(msg(&btf, Level::Strict), m);
    };
    worded(
        &|b| {
            b.t("", ARRAY, 0, false, 0).u(1).u(N + 1).u(1);
        },
        "Invalid index",
    );
    worded(
        &|b| {
            b.t("", ARRAY, 0, false, 0).u(N + 1).u(1).u(1);
        },
        "Invalid elem",
    );
    worded(
        &|b| {
            b.t("s", STRUCT, 1, false, 4).m("a", N + 1, 0);
        },
        "member #0: Invalid member",
    );
    worded(
        &|b| {
            b.t("", PROTO, 1, false, 1).u(0).u(N + 1);
        },
        "Invalid arg#1",
    );
    worded(
        &|b| {
            b.t("", PROTO, 0, false, N + 1);
        },
        "Invalid return type",
    );
    worded(
        &|b| {
            b.t(".d", DATASEC, 1, false, 4).u(N + 1).u(0).u(4);
        },
        "secinfo #0: Not a VAR kind member",
    );
    worded(
        &|b| {
            b.t("x", TYPEDEF, 0, false, N + 5);
        },
        "Invalid type_id",
    );
}

#[test]
fn resolve_r2_loops() {
    // struct a { struct b x; }; struct b { struct a y; }; plus a holder reaching them.
    let btf = with(|b| {
        b.t("h", STRUCT, 1, false, 4).m("z", N + 1, 0); // N: reaches the cycle
        b.t("a", STRUCT, 1, false, 4).m("x", N + 2, 0); // N+1
        b.t("b", STRUCT, 1, false, 4).m("y", N + 1, 0); // N+2
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    assert_eq!(msg(&btf, Level::Strict), "Loop detected");
    run(&btf, Level::Module, false).unwrap();
    // The same cycle listed before its holder: the lowest id is the cycle's.
    let btf = with(|b| {
        b.t("a", STRUCT, 1, false, 4).m("x", N + 1, 0); // N
        b.t("b", STRUCT, 1, false, 4).m("y", N, 0); // N+1
        b.t("h", STRUCT, 1, false, 4).m("z", N, 0); // N+2
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    // A pointer breaks the cycle.
    let btf = with(|b| {
        b.t("node", STRUCT, 2, false, 16).m("v", 1, 0).m("next", N + 1, 64);
        b.t("", PTR, 0, false, N);
    });
    assert_eq!(fails(&btf), None);
    // Arrays, protos and decl tags are by-value edges too.
    let btf = with(|b| {
        b.t("", ARRAY, 0, false, 0).u(N).u(1).u(1); // self-loop
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    let btf = with(|b| {
        b.t("", PROTO, 0, false, N); // returns itself
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    // Func -> proto whose param is a typedef of ... the func: loop through decl tag.
    let btf = with(|b| {
        b.t("t", DECL_TAG, 0, false, N + 1).u(u32::MAX); // N
        b.t("s", STRUCT, 1, false, 4).m("a", N + 2, 0); // N+1
        b.t("", ARRAY, 0, false, 0).u(N + 1).u(1).u(1); // N+2 -> N+1: cycle
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    // A huge by-value chain, looping or not: no recursion, no quadratic behaviour. The
    // kernel's stack is full after 32 of its types.
    let n = 200_000u32;
    for last in [N, 1] {
        let btf = with(|b| {
            for i in 0..n {
                let next = if i + 1 == n { last } else { N + i + 1 };
                b.t("", ARRAY, 0, false, 0).u(next).u(1).u(1);
            }
        });
        let e = run(&btf, Level::Strict, false).unwrap_err();
        assert_eq!(e.type_id(), Some(N));
        assert!(e.to_string().starts_with("Exceeded max resolving depth:32"), "{e}");
    }
    // The same chain the other way round (each ARRAY names the one before) resolves one
    // type per search.
    let btf = with(|b| {
        for i in 0..n {
            let elem = if i == 0 { 1 } else { N + i - 1 };
            b.t("", ARRAY, 0, false, 0).u(elem).u(1).u(1);
        }
    });
    assert_eq!(fails(&btf), None);
}

#[test]
fn resolve_r3_sized() {
    let member = |ty: u32| {
        fails(&with(|b| {
            b.t("s", STRUCT, 1, false, 64).m("a", ty, 0);
        }))
    };
    // Sized: INT, PTR, ARRAY, STRUCT, UNION, ENUM, ENUM64, FLOAT, through modifiers.
    for ty in [1, 2, 3, 4, 5, 6, 19, 16, 8, 9, 10, 11, 18, 22] {
        assert_eq!(member(ty), None, "member type {ty}");
    }
    // Not sized: FWD, FUNC, FUNC_PROTO, VAR, DATASEC, DECL_TAG.
    for ty in [7, 12, 13, 14, 15, 17] {
        assert_eq!(member(ty), Some(Some(N)), "member type {ty}");
    }
    // const void / typedef of a forward declaration.
    let btf = with(|b| {
        b.t("", CONST, 0, false, 0); // N
        b.t("s", STRUCT, 1, false, 4).m("a", N, 0); // N+1
        b.t("tf", TYPEDEF, 0, false, 7); // N+2
        b.t("v", VAR, 0, false, N + 2).u(0); // N+3
    });
    assert_eq!(fails(&btf), Some(Some(N + 1)));
    assert!(msg(&btf, Level::Strict).contains("Invalid member"));
    let btf = with(|b| {
        b.t("tf", TYPEDEF, 0, false, 7); // N
        b.t("v", VAR, 0, false, N).u(0); // N+1
    });
    assert_eq!(fails(&btf), Some(Some(N + 1)));
    assert_eq!(msg(&btf, Level::Strict), "Invalid type_id"); // btf_var_resolve's words
    let btf = with(|b| {
        b.t("", ARRAY, 0, false, 0).u(13).u(1).u(1);
    });
    assert_eq!(fails(&btf), Some(Some(N)));
    assert_eq!(msg(&btf, Level::Strict), "Invalid elem");
    // A typedef of a FUNC_PROTO is fine by itself (a function pointer's target).
    let btf = with(|b| {
        b.t("fnt", TYPEDEF, 0, false, 12);
        b.t("", PTR, 0, false, N);
    });
    assert_eq!(fails(&btf), None);
}

#[test]
fn resolve_r4_index() {
    let arr = |f: &dyn Fn(&mut B)| {
        fails(&with(|b| {
            f(b); // N
            b.t("", ARRAY, 0, false, 0).u(1).u(N).u(3); // N+1
        }))
    };
    assert_eq!(
        arr(&|b| {
            b.int("u8", 1, 8);
        }),
        None
    );
    // `btf_type_int_is_regular` accepts 1, 2, 4, 8 or (__int128) 16 whole bytes only.
    assert_eq!(
        arr(&|b| {
            b.int("u128", 16, 128);
        }),
        None
    );
    assert_eq!(
        arr(&|b| {
            b.int("u96", 16, 96);
        }),
        Some(Some(N + 1))
    );
    assert_eq!(
        arr(&|b| {
            b.int("b", 1, 4 << 24 | 8);
        }),
        None
    ); // bool is still regular
    assert_eq!(
        arr(&|b| {
            b.int("x", 4, 24);
        }),
        Some(Some(N + 1))
    );
    assert_eq!(
        arr(&|b| {
            b.int("x", 8, 32);
        }),
        None
    ); // the size word is not consulted, only the bit count
    assert_eq!(
        arr(&|b| {
            b.int("x", 4, 8 << 16 | 8);
        }),
        Some(Some(N + 1))
    );
    assert_eq!(
        arr(&|b| {
            b.t("f", FLOAT, 0, false, 4);
        }),
        Some(Some(N + 1))
    );
    assert_eq!(
        arr(&|b| {
            b.t("", PTR, 0, false, 1);
        }),
        Some(Some(N + 1))
    );
    assert_eq!(
        arr(&|b| {
            b.t("", CONST, 0, false, 1);
        }),
        None
    );
    assert_eq!(
        arr(&|b| {
            b.t("", CONST, 0, false, 0);
        }),
        Some(Some(N + 1))
    );
    let btf = with(|b| {
        b.t("", ARRAY, 0, false, 0).u(1).u(6).u(3);
    });
    assert_eq!(msg(&btf, Level::Strict), "Invalid index");
}

/// R8 (`btf_array_resolve`): an element INT, through modifiers, must be regular; the
/// index is checked before the element.
#[test]
fn resolve_r8_array_of_int() {
    let arr = |elem: &dyn Fn(&mut B)| {
        let btf = with(|b| {
            elem(b); // N (and N + 1 when the element is a TYPEDEF)
        });
        let last = btf.last_id();
        let btf = with(|b| {
            elem(b);
            b.t("", ARRAY, 0, false, 0).u(last).u(1).u(2);
        });
        (fails(&btf), run(&btf, Level::Strict, false).err().map(|e| e.to_string()))
    };
    let bad = |id: u32| (Some(Some(id)), Some("Invalid array of int".to_string()));
    assert_eq!(
        arr(&|b| {
            b.int("x", 4, 24);
        }),
        bad(N + 1)
    );
    assert_eq!(
        arr(&|b| {
            b.int("x", 4, 1 << 16 | 8);
        }),
        bad(N + 1)
    );
    assert_eq!(
        arr(&|b| {
            b.int("x", 1, 4);
            b.t("t", TYPEDEF, 0, false, N);
        }),
        bad(N + 2)
    );
    assert_eq!(
        arr(&|b| {
            b.int("u128", 16, 128);
        }),
        (None, None)
    );
    assert_eq!(
        arr(&|b| {
            b.int("b", 1, 4 << 24 | 8);
        }),
        (None, None)
    );
    // Both the index (a FLOAT) and the element (a bitfield INT) are bad: the index wins.
    let btf = with(|b| {
        b.int("x", 4, 24); // N
        b.t("f", FLOAT, 0, false, 4); // N + 1
        b.t("", ARRAY, 0, false, 0).u(N).u(N + 1).u(2);
    });
    assert_eq!(msg(&btf, Level::Strict), "Invalid index");
}

#[test]
fn resolve_r5_func() {
    let func = |params: &[(&str, u32)], target_kind: u32| {
        fails(&with(|b| {
            if target_kind == PROTO {
                b.t("", PROTO, params.len() as u32, false, 0);
                for &(n, t) in params {
                    let o = if n.is_empty() { 0 } else { b.s(n) };
                    b.u(o).u(t);
                }
            } else {
                b.t("", CONST, 0, false, 1);
            }
            b.t("f", FUNC, 0, false, N);
        }))
    };
    assert_eq!(func(&[], PROTO), None);
    assert_eq!(func(&[("a", 1), ("b", 2)], PROTO), None);
    assert_eq!(func(&[("a", 1), ("", 0)], PROTO), None); // varargs
    assert_eq!(func(&[("", 0)], PROTO), None); // f(...)
                                               // R9 (`btf_func_proto_check`) fails at the FUNC_PROTO: void only as a last,
                                               // unnamed parameter.
    assert_eq!(func(&[("", 0), ("a", 1)], PROTO), Some(Some(N)));
    assert_eq!(func(&[("a", 0)], PROTO), Some(Some(N)));
    // R5 (`btf_func_check`) fails at the FUNC: a parameter with a type but no name.
    assert_eq!(func(&[("", 1)], PROTO), Some(Some(N + 1)));
    assert_eq!(func(&[("a", 1), ("", 1), ("", 0)], PROTO), Some(Some(N + 1)));
    assert_eq!(func(&[], CONST), Some(Some(N + 1)));
    // FUNC -> void.
    assert_eq!(
        fails(&with(|b| {
            b.t("f", FUNC, 0, false, 0);
        })),
        Some(Some(N))
    );
    // `btf_func_check` wants the FUNC_PROTO itself, not a modifier of one (a typedef
    // of a function type resolves fine on its own), whether the FUNC comes before or
    // after its target.
    let via = |modifier: u32, func_first: bool| {
        fails(&with(|b| {
            if func_first {
                b.t("f", FUNC, 0, false, N + 1);
                b.t("fn_t", modifier, 0, false, N + 2);
                b.t("", PROTO, 0, false, 0);
            } else {
                b.t("", PROTO, 0, false, 0);
                b.t("fn_t", modifier, 0, false, N);
                b.t("f", FUNC, 0, false, N + 1);
            }
        }))
    };
    assert_eq!(via(TYPEDEF, false), Some(Some(N + 2)));
    assert_eq!(via(TYPEDEF, true), Some(Some(N)));
    assert_eq!(
        msg(
            &with(|b| {
                b.t("", PROTO, 0, false, 0);
                b.t("fn_t", TYPEDEF, 0, false, N);
                b.t("f", FUNC, 0, false, N + 1);
            }),
            Level::Strict
        ),
        "Invalid type_id"
    );
    assert_eq!(
        fails(&with(|b| {
            b.t("", PROTO, 0, false, 0);
            b.t("fn_t", TYPEDEF, 0, false, N);
        })),
        None
    );
    // A bare FUNC_PROTO with unnamed params is fine (only FUNCs check names).
    assert_eq!(
        fails(&with(|b| {
            b.t("", PROTO, 1, false, 0).u(0).u(1);
        })),
        None
    );
}

/// A failing clean type's message names the right field when its other targets are
/// later types without edges (their resolve bytes come from their records).
#[test]
fn clean_failure_messages_with_later_targets() {
    let mut b = B::new();
    b.int("int", 4, 32); // 1
    b.t("", ARRAY, 0, false, 0).u(3).u(4).u(2); // 2: elem INT 3 (fine), index FLOAT 4
    b.int("x", 4, 32); // 3
    b.t("float", FLOAT, 0, false, 4); // 4
    let btf = b.btf();
    assert_eq!(fails(&btf), Some(Some(2)));
    assert_eq!(msg(&btf, Level::Strict), "Invalid index");

    let mut b = B::new();
    b.int("int", 4, 32); // 1
    b.t("s", STRUCT, 2, false, 8).m("a", 3, 0).m("b", 4, 32); // 2
    b.int("x", 4, 32); // 3
    b.t("f", FWD, 0, false, 0); // 4: not sized
    let btf = b.btf();
    assert_eq!(fails(&btf), Some(Some(2)));
    assert_eq!(msg(&btf, Level::Strict), "member #1: Invalid member");
}

/// Many clean FUNCs of one FUNC_PROTO whose last parameter is bad: the lowest FUNC is
/// reported, with the parameter's number (the walk checks only up to the first clean
/// failure; before, this input cost FUNCs × parameters).
#[test]
fn many_funcs_of_one_bad_proto() {
    let (params, funcs) = (4_000u32, 4_000u32);
    let mut b = B::new();
    b.int("int", 4, 32); // 1
    b.t("", PROTO, params, false, 1); // 2
    let p = b.s("p");
    for _ in 1..params {
        b.u(p).u(1);
    }
    b.u(0).u(1); // a type but no name: bad for a FUNC (R5), fine for the proto (R9)
    for _ in 0..funcs {
        b.t("f", FUNC, 0, false, 2); // 3..
    }
    let btf = b.btf();
    assert_eq!(fails(&btf), Some(Some(3)));
    assert_eq!(msg(&btf, Level::Strict), format!("Invalid arg#{params}"));
}

/// R9 (`btf_func_proto_check`), in its order: the return type, a named void last
/// parameter, then each parameter's name and type.
#[test]
fn resolve_r9_func_proto() {
    // [N] FWD "s", [N + 1] FUNC_PROTO returning `ret` with `params`.
    let proto = |ret: u32, params: &[(&str, u32)]| {
        let btf = with(|b| {
            b.t("s", FWD, 0, false, 0);
            b.t("", PROTO, params.len() as u32, false, ret);
            for &(n, t) in params {
                let o = if n.is_empty() { 0 } else { b.s(n) };
                b.u(o).u(t);
            }
        });
        (fails(&btf), run(&btf, Level::Strict, false).err().map(|e| e.to_string()))
    };
    let bad = |m: &str| (Some(Some(N + 1)), Some(m.to_string()));
    assert_eq!(proto(0, &[("a", 1), ("", 0)]), (None, None));
    assert_eq!(proto(1, &[("", 1)]), (None, None)); // R5 is the FUNC's business
    assert_eq!(proto(N, &[]), bad("Invalid return type"));
    assert_eq!(proto(1, &[("a", N)]), bad("Invalid arg#1"));
    assert_eq!(proto(1, &[("a", 1), ("1a", 1)]), bad("Invalid arg#2"));
    assert_eq!(proto(1, &[("a", 1), ("", 0), ("b", 1)]), bad("Invalid arg#2"));
    assert_eq!(proto(1, &[("a b", 1), ("c", 0)]), bad("Invalid arg#2")); // last rule first
    assert_eq!(proto(N, &[("a b", 1)]), bad("Invalid return type"));
}

/// R10 (`btf_modifier_resolve`, `btf_ptr_resolve`): no modifier or PTR names a VAR,
/// DATASEC or DECL_TAG, whether it comes before or after its target.
#[test]
fn resolve_r10_modifier_targets() {
    for kind in [PTR, TYPEDEF, CONST, TYPE_TAG] {
        let name = if matches!(kind, TYPEDEF | TYPE_TAG) { "m" } else { "" };
        // [N] VAR v, [N + 1] the modifier on it; then the other way round.
        let btf = with(|b| {
            b.t("v", VAR, 0, false, 1).u(0);
            b.t(name, kind, 0, false, N);
        });
        assert_eq!(fails(&btf), Some(Some(N + 1)), "kind {kind}");
        assert_eq!(msg(&btf, Level::Strict), "Invalid type_id");
        let btf = with(|b| {
            b.t(name, kind, 0, false, N + 1);
            b.t("v", VAR, 0, false, 1).u(0);
        });
        assert_eq!(fails(&btf), Some(Some(N)), "kind {kind}");
        // Through another modifier, only the one that names the VAR fails.
        let btf = with(|b| {
            b.t("v", VAR, 0, false, 1).u(0); // N
            b.t("", CONST, 0, false, N); // N + 1
            b.t(name, kind, 0, false, N + 1); // N + 2
        });
        assert_eq!(fails(&btf), Some(Some(N + 1)), "kind {kind}");
    }
    // A TYPEDEF of a DECL_TAG.
    let btf = with(|b| {
        b.t("s", STRUCT, 1, false, 4).m("a", 1, 0); // N
        b.t("t", DECL_TAG, 0, false, N).u(u32::MAX); // N + 1
        b.t("m", TYPEDEF, 0, false, N + 1); // N + 2
    });
    assert_eq!(fails(&btf), Some(Some(N + 2)));
}

#[test]
fn resolve_r6_r7() {
    let ds = |t: u32| {
        fails(&with(|b| {
            b.t(".d", DATASEC, 1, false, 8).u(t).u(0).u(4);
        }))
    };
    assert_eq!(ds(14), None);
    assert_eq!(ds(13), Some(Some(N))); // a FUNC: "Not a VAR kind member"
    assert_eq!(ds(1), Some(Some(N)));
    assert_eq!(ds(8), Some(Some(N)));

    let dt = |t: u32, comp: i32| {
        fails(&with(|b| {
            b.t("tag", DECL_TAG, 0, false, t).u(comp as u32);
        }))
    };
    for t in [4, 5, 13, 14, 8] {
        assert_eq!(dt(t, -1), None, "target {t}");
    }
    for t in [0, 1, 2, 3, 6, 7, 9, 12, 15, 16, 17, 18, 19] {
        assert_eq!(dt(t, -1), Some(Some(N)), "target {t}");
    }
    assert_eq!(dt(4, 1), None); // struct s has 2 members
    assert_eq!(dt(4, 2), Some(Some(N)));
    assert_eq!(dt(5, 0), None);
    assert_eq!(dt(5, 1), Some(Some(N)));
    assert_eq!(dt(13, 1), None); // fn's proto has 2 params
    assert_eq!(dt(13, 2), Some(Some(N)));
    assert_eq!(dt(14, 0), Some(Some(N)));
    assert_eq!(dt(8, 0), Some(Some(N)));
    // On a FUNC whose type is not a FUNC_PROTO, `btf_decl_tag_resolve` counts the
    // entries of that type (here a STRUCT's 2 members), and the FUNC fails R5 itself.
    let mut b = B::new();
    b.int("int", 4, 32); // 1
    b.t("tag", DECL_TAG, 0, false, 3).u(1); // 2
    b.t("f", FUNC, 0, false, 4); // 3
    b.t("s", STRUCT, 2, false, 8).m("a", 1, 0).m("b", 1, 32); // 4
    let btf = b.btf();
    assert_eq!(fails(&btf), Some(Some(3)));
    assert_eq!(msg(&btf, Level::Strict), "Invalid type_id");
}

#[test]
fn global_limits() {
    // G1: the string section ends past 0xffffff.
    let mut b = B::new();
    b.strs = vec![0; MAX_NAME_OFFSET as usize];
    b.int("i", 4, 32); // + "i\0": MAX + 2 bytes
    let btf = b.btf();
    let e = run(&btf, Level::Module, false).unwrap_err();
    assert_eq!((e.type_id(), e.to_string().as_str()), (None, "String section too large"));
    let mut b = B::new();
    b.strs = vec![0; MAX_NAME_OFFSET as usize - 1];
    b.int("i", 4, 32); // MAX + 1 bytes: last offset is MAX
    let btf = b.btf();
    assert_eq!(fails_module(&btf), None);
    // G0: but with its header and type, the blob is past what BPF_BTF_LOAD takes.
    let e = run(&btf, Level::Strict, false).unwrap_err();
    let size = btf.raw().len();
    let want = format!("BTF too large ({size} bytes; BPF_BTF_LOAD takes {})", 16 << 20);
    assert_eq!((e.type_id(), e.to_string()), (None, want));
    let mut b = B::new();
    b.strs = vec![0; (16 << 20) - 24 - 16 - 2];
    b.int("i", 4, 32); // exactly 16 MiB
    let btf = b.btf();
    assert_eq!(btf.raw().len(), 16 << 20);
    assert_eq!(fails(&btf), None);
    // G2: more than 0xfffff types.
    let mut b = B::new();
    for _ in 0..MAX_TYPE_ID {
        b.t("", PTR, 0, false, 0);
    }
    assert_eq!(fails(&b.btf()), None);
    b.t("", PTR, 0, false, 0);
    let btf = b.btf();
    let e = run(&btf, Level::Module, false).unwrap_err();
    assert_eq!((e.type_id(), e.to_string().as_str()), (Some(MAX_TYPE_ID + 1), "Too many types"));
}

fn base() -> Arc<Btf> {
    Arc::new(all_kinds().btf())
}

#[test]
fn split_valid_uses_base_strings_and_ids() {
    let base = base();
    let mut b = B::split(&base);
    let s_name = base.type_by_id(4).unwrap().name_off(); // "s" from the base
    b.raw(s_name, STRUCT, 2, false, 16); // N: base name
    b.m("own", 4, 0).m("td", 8, 0); // base struct and base typedef
    b.t("", PTR, 0, false, N); // N+1: to the struct
    b.t("x", TYPEDEF, 0, false, 10); // N+2 -> base const -> int
    b.t("", ARRAY, 0, false, 0).u(N + 2).u(8).u(4); // N+3: base typedef index
    b.t("tag", DECL_TAG, 0, false, 13).u(1); // N+4: base func, param #1
    b.t("g", FUNC, 0, false, 12); // N+5: base proto
    b.t(".x", DATASEC, 1, false, 4).u(14).u(0).u(4); // N+6: base var
    let btf = b.btf_on(&base);
    assert_eq!(btf.start_id(), N);
    run(&btf, Level::Strict, false).unwrap();
    run(&btf, Level::Module, false).unwrap();
}

#[test]
fn split_failures_name_own_ids() {
    let base = base();
    let one = |f: &dyn Fn(&mut B)| {
        let mut b = B::split(&base);
        b.t("pad", TYPEDEF, 0, false, 1); // N, valid
        f(&mut b); // N+1...
        fails(&b.btf_on(&base))
    };
    // Name offset 0 in split BTF is the base's empty string.
    assert_eq!(
        one(&|b| {
            b.raw(0, TYPEDEF, 0, false, 1);
        }),
        Some(Some(N + 1))
    );
    // Name offsets past the split's own strings.
    assert_eq!(
        one(&|b| {
            let end = b.str_base + b.strs.len() as u32 + 4;
            b.raw(end, STRUCT, 0, false, 4);
        }),
        Some(Some(N + 1))
    );
    // Ids past the split's last id.
    assert_eq!(
        one(&|b| {
            b.t("", PTR, 0, false, N + 2);
        }),
        Some(Some(N + 1))
    );
    // Type tag after a base const (chain enters the base: stops).
    assert_eq!(
        one(&|b| {
            b.t("tt", TYPE_TAG, 0, false, 10);
        }),
        None
    );
    // Own const -> base type tag.
    assert_eq!(
        one(&|b| {
            b.t("", CONST, 0, false, 18);
        }),
        Some(Some(N + 1))
    );
    // Member whose type is a base FWD / base VAR.
    assert_eq!(
        one(&|b| {
            b.t("s", STRUCT, 1, false, 4).m("a", 7, 0);
        }),
        Some(Some(N + 1))
    );
    assert_eq!(
        one(&|b| {
            b.t("s", STRUCT, 1, false, 4).m("a", 14, 0);
        }),
        Some(Some(N + 1))
    );
    // Cycle among own types reaching into the base: still found.
    assert_eq!(
        one(&|b| {
            b.t("s", STRUCT, 2, false, 8).m("a", 4, 0).m("b", N + 2, 0);
            b.t("t", TYPEDEF, 0, false, N + 1);
        }),
        Some(Some(N + 1))
    );
    // Module level stops before resolve.
    let mut b = B::split(&base);
    b.t("s", STRUCT, 1, false, 4).m("a", 7, 0);
    run(&b.btf_on(&base), Level::Module, false).unwrap();
}

#[test]
fn base_is_not_checked() {
    // A base with an invalid type still lets a valid split validate.
    let mut bb = all_kinds();
    bb.t("bad name", TYPEDEF, 0, false, 1); // id 23 in base
    let base = Arc::new(bb.btf());
    assert!(fails(&base).is_some());
    let mut b = B::split(&base);
    b.t("", PTR, 0, false, 23);
    run(&b.btf_on(&base), Level::Strict, false).unwrap();
}

/// Standalone BTF without types is user BTF the kernel refuses ("No type found", G3);
/// module BTF (split) may add none.
#[test]
fn empty_btf() {
    let b = B::new();
    let e = run(&b.btf(), Level::Strict, false).unwrap_err();
    assert_eq!((e.type_id(), e.to_string().as_str()), (None, "No type found"));
    run(&b.btf(), Level::Module, false).unwrap();
    let base = base();
    run(&B::split(&base).btf_on(&base), Level::Module, false).unwrap();
    run(&B::split(&base).btf_on(&base), Level::Strict, false).unwrap();
}

/// The base-chain table gives, for every base id, what walking its modifier chain with a
/// budget of `start_id` links gives: a chain longer than `LONG_WALK`, loops with and
/// without lead-ins, a self-loop, links to void, to an own id, and an irregular INT.
#[test]
fn base_chain_table_is_the_budgeted_walk() {
    let mut b = B::new();
    b.int("int", 4, 32); // [1]
    for i in 2..=101 {
        b.t("", CONST, 0, false, if i == 101 { 1 } else { i + 1 }); // [2..=101] -> ... -> [1]
    }
    // [102] -> [103] -> [104] -> [102], entered from [105] and [106] -> [105].
    b.t("", CONST, 0, false, 103).t("", VOLATILE, 0, false, 104).t("", TYPEDEF, 0, false, 102);
    b.t("", VOLATILE, 0, false, 102).t("t", TYPEDEF, 0, false, 105);
    b.t("", CONST, 0, false, 107).t("", RESTRICT, 0, false, 107); // [107] self-loop, [108]
    b.t("", CONST, 0, false, 114).t("", CONST, 0, false, 0); // [109] -> own [114], [110] -> void
    b.int("bits", 4, 3); // [111]
    b.t("", TYPE_TAG, 0, false, 111); // [112] -> [111]
    b.t("", CONST, 0, false, 500); // [113] -> past the last id
    let base = Arc::new(b.btf());
    let mut s = B::split(&base);
    s.t("", PTR, 0, false, 0); // [114]
    let split = s.btf_on(&base);
    let v = Validator::<Le>::new(&split, &ValidateOptions::default(), 1);
    let table = v.base_chain_table();
    for id in 0..v.start_id {
        // The walk as it was before the table: at most `start_id` links.
        let want = if id == 0 {
            K_NONE
        } else {
            let (mut cur, mut budget, mut via) = (id, v.start_id, 0);
            while cur != 0 && cur < v.start_id && budget > 0 && is_mod(v.kind_of(cur)) {
                cur = v.word_of(cur, 8);
                budget -= 1;
                via = graph::RES_VIA_MOD;
            }
            v.res_at(cur, via)
        };
        assert_eq!(table[id as usize], want, "base id {id}");
        assert_eq!(v.walk_res(id), want, "base id {id}, walked");
    }
    assert!(v.base_res.get().is_some(), "the 100-link chain used the table");
}

/// The strict error message for `all_kinds()` plus a STRUCT (id N) of `size` with
/// members `(type, offset word)`, and extra types from N + 1 (`more`); None if valid.
fn struct_msg(kflag: bool, size: u32, ms: &[(u32, u32)], more: &dyn Fn(&mut B)) -> Option<String> {
    let btf = with(|b| {
        b.t("s", STRUCT, ms.len() as u32, kflag, size);
        for &(t, o) in ms {
            b.m("m", t, o);
        }
        more(b);
    });
    let e = run(&btf, Level::Strict, false).err()?;
    assert_eq!(e.type_id(), Some(N), "{e}");
    // The walk's quick path and the general one, on one and two threads, agree.
    for threads in [1, 2] {
        let again = validate_on(&btf, &ValidateOptions::default(), threads).unwrap_err();
        assert_eq!(again.to_string(), e.to_string());
    }
    match e {
        Error::Validation { message, .. } => Some(message),
        e => panic!("{e:?}"),
    }
}

/// kflag, struct size, members (type, offset word), the expected message.
type R11Case = (bool, u32, &'static [(u32, u32)], Option<String>);

#[test]
fn resolve_r11_member_checks() {
    let none = |_: &mut B| {};
    let m = |s: &str| Some(format!("member #0: {s}"));
    // Types of all_kinds(): 1 int (4 bytes), 2 PTR, 3 int[4] (16 bytes), 4 STRUCT of 16,
    // 6 ENUM of 4, 8 TYPEDEF of int, 16 FLOAT of 8, 19 ENUM64 of 8.
    let cases: &[R11Case] = &[
        // PTR, ARRAY, STRUCT, ENUM: byte aligned and within the struct.
        (false, 16, &[(2, 64)], None),
        (false, 16, &[(2, 4)], m("Member is not byte aligned")),
        (false, 12, &[(2, 64)], m("Member exceeds struct_size")),
        (false, 16, &[(3, 0)], None),
        (false, 16, &[(3, 8)], m("Member exceeds struct_size")),
        (false, 20, &[(4, 32)], None),
        (false, 20, &[(4, 33)], m("Member is not byte aligned")),
        (false, 4, &[(6, 0)], None),
        (false, 4, &[(19, 0)], m("Member exceeds struct_size")),
        // FLOAT: aligned to min(8, size) bytes.
        (false, 16, &[(16, 64)], None),
        (false, 16, &[(16, 32)], m("Member is not properly aligned")),
        (false, 12, &[(16, 64)], m("Member exceeds struct_size")),
        // INT without kflag: any bit offset, as long as its bits fit.
        (false, 8, &[(1, 3)], None),
        (false, 4, &[(8, 8)], m("Member exceeds struct_size")),
        // With kflag: a regular INT, bitfield sizes, byte-aligned plain members.
        (true, 8, &[(1, 3 << 24 | 5)], None),
        (true, 8, &[(1, 33 << 24)], m("Invalid member bitfield_size")),
        (true, 8, &[(1, 4)], m("Invalid member offset")),
        (true, 8, &[(1, 17 << 24 | 56)], m("Member exceeds struct_size")),
        // ENUM with kflag: 32 bits without a bitfield, whatever its size.
        (true, 4, &[(19, 0)], None),
        (true, 3, &[(6, 0)], m("Member exceeds struct_size")),
        (true, 8, &[(6, 33 << 24)], m("Invalid member bitfield_size")),
        (true, 8, &[(6, 3)], m("Member is not byte aligned")),
        // Other kinds with kflag: no bitfield.
        (true, 16, &[(2, 1 << 24)], m("Invalid member bitfield_size")),
        (true, 16, &[(16, 1 << 24)], m("Invalid member bitfield_size")),
        (true, 16, &[(3, 0)], None),
        // Member by member: the first failing member's message.
        (false, 6, &[(1, 0), (2, 0)], Some("member #1: Member exceeds struct_size".into())),
    ];
    for (kflag, size, ms, want) in cases {
        assert_eq!(&struct_msg(*kflag, *size, ms, &none), want, "{kflag} {size} {ms:?}");
    }
    // Irregular INTs (directly or through a TYPEDEF, N + 1 and N + 2) need no kflag.
    let irregular = |b: &mut B| {
        b.int("i5", 1, 5);
        b.t("t", TYPEDEF, 0, false, N + 1);
    };
    for t in [N + 1, N + 2] {
        assert_eq!(struct_msg(false, 1, &[(t, 0)], &irregular), None);
        assert_eq!(struct_msg(true, 1, &[(t, 0)], &irregular), m("Invalid member base type"));
    }
    // An INT's own bit offset moves the member; 128 bits from a bit offset of 4 are
    // 132 bits to copy.
    let odd = |b: &mut B| {
        b.int("o", 4, 8 << 16 | 16);
        b.int("w", 16, 128);
    };
    assert_eq!(struct_msg(false, 4, &[(N + 1, 8)], &odd), None);
    assert_eq!(struct_msg(false, 4, &[(N + 1, 16)], &odd), m("Member exceeds struct_size"));
    assert_eq!(struct_msg(false, 17, &[(N + 2, 4)], &odd), m("nr_copy_bits exceeds 128"));
    let huge = 0x2000_0000; // holds a member at bit u32::MAX - 4 (phase 1)
    assert_eq!(
        struct_msg(false, huge, &[(N + 1, u32::MAX - 4)], &odd),
        m("bits_offset exceeds U32_MAX")
    );
    // A later ARRAY (not clean: phase 3 sizes it) and a later STRUCT.
    let later = |b: &mut B| {
        b.t("", ARRAY, 0, false, 0).u(1).u(1).u(3);
        b.t("l", STRUCT, 0, false, 12);
    };
    assert_eq!(struct_msg(false, 12, &[(N + 1, 0), (N + 2, 0)], &later), None);
    assert_eq!(struct_msg(false, 8, &[(N + 1, 0)], &later), m("Member exceeds struct_size"));
    assert_eq!(struct_msg(false, 8, &[(N + 2, 0)], &later), m("Member exceeds struct_size"));
}

#[test]
fn resolve_r12_array_size() {
    let arr = |elem: u32, nelems: u32, more: &dyn Fn(&mut B)| {
        let btf = with(|b| {
            more(b);
            b.t("", ARRAY, 0, false, 0).u(elem).u(1).u(nelems);
        });
        let e = run(&btf, Level::Strict, false).err();
        e.map(|e| (e.type_id(), e.to_string().starts_with("Array size overflows U32_MAX")))
    };
    let none = |_: &mut B| {};
    assert_eq!(arr(1, 0x3fff_ffff, &none), None);
    assert_eq!(arr(1, 0x4000_0000, &none), Some((Some(N), true)));
    // int[4] (16 bytes) of all_kinds: 0x1000_0000 of them overflow.
    assert_eq!(arr(3, 0x0fff_ffff, &none), None);
    assert_eq!(arr(3, 0x1000_0000, &none), Some((Some(N), true)));
    // Through a TYPEDEF of an ARRAY that comes later (sized by phase 3), and an ARRAY
    // that overflows counts as 0 bytes for the types on it.
    let btf = with(|b| {
        b.t("", ARRAY, 0, false, 0).u(N + 1).u(1).u(0x0800_0000); // N
        b.t("t", TYPEDEF, 0, false, N + 2); // N + 1
        b.t("", ARRAY, 0, false, 0).u(1).u(1).u(8); // N + 2: 32 bytes
    });
    let e = run(&btf, Level::Strict, false).unwrap_err();
    assert_eq!((e.type_id(), e.to_string().starts_with("Array size")), (Some(N), true));
    let btf = with(|b| {
        b.t("s", STRUCT, 1, false, 4).m("a", N + 1, 0); // N: fits if N + 1 counts 0
        b.t("", ARRAY, 0, false, 0).u(1).u(1).u(0x4000_0000); // N + 1
    });
    assert_eq!(run(&btf, Level::Strict, false).unwrap_err().type_id(), Some(N + 1));
}

#[test]
fn resolve_r6_datasec_sizes() {
    // Entries of all_kinds(): 14 is a VAR of int (4 bytes), 13 a FUNC.
    let ds = |entries: &[(u32, u32)], more: &dyn Fn(&mut B)| {
        let btf = with(|b| {
            b.t(".d", DATASEC, entries.len() as u32, false, 64);
            for (j, &(t, size)) in entries.iter().enumerate() {
                b.u(t).u(16 * j as u32).u(size);
            }
            more(b);
        });
        run(&btf, Level::Strict, false).err().map(|e| (e.type_id(), e.to_string()))
    };
    let none = |_: &mut B| {};
    assert_eq!(ds(&[(14, 4)], &none), None);
    assert!(ds(&[(14, 4), (13, 4)], &none)
        .unwrap()
        .1
        .starts_with("secinfo #1: Not a VAR kind member"));
    assert!(ds(&[(14, 3)], &none).unwrap().1.starts_with("secinfo #0: Invalid size"));
    // The kernel resolves a later VAR when it meets it and resumes after its entry
    // without checking the entry's size; an entry naming it again is checked.
    let var = |b: &mut B| {
        b.t("v", VAR, 0, false, 1).u(0); // N + 1: an int
    };
    assert_eq!(ds(&[(N + 1, 2)], &var), None);
    assert!(ds(&[(N + 1, 2), (N + 1, 2)], &var).unwrap().1.starts_with("secinfo #1: Invalid size"));
    // A later VAR of an unsized type fails itself (R3), and the DATASEC stops there.
    let later = |b: &mut B| {
        b.t("v", VAR, 0, false, 7).u(0); // N + 1: a VAR of a FWD
    };
    assert_eq!(ds(&[(N + 1, 4), (13, 4)], &later).map(|e| e.0), Some(Some(N + 1)));
}

#[test]
fn resolve_r2_func_proto_is_never_followed() {
    let check = |f: &dyn Fn(&mut B)| {
        let btf = with(f);
        run(&btf, Level::Strict, false).err().map(|e| (e.type_id(), e.to_string()))
    };
    let starts = |got: Option<(Option<u32>, String)>, id: u32, msg: &str| {
        let (got_id, got_msg) = got.expect("rejected");
        assert_eq!(got_id, Some(id));
        assert!(got_msg.starts_with(msg), "{got_msg}");
    };
    // A FUNC_PROTO returning a TYPEDEF of itself, in both orders: R9, not R2.
    starts(
        check(&|b| {
            b.t("t", TYPEDEF, 0, false, N + 1);
            b.t("", PROTO, 0, false, N);
        }),
        N + 1,
        "Invalid return type",
    );
    starts(
        check(&|b| {
            b.t("", PROTO, 0, false, N + 1);
            b.t("t", TYPEDEF, 0, false, N);
        }),
        N,
        "Invalid return type",
    );
    // A FUNC_PROTO whose return type reaches a loop does not fail; that type does.
    starts(
        check(&|b| {
            b.t("", PROTO, 0, false, N + 1);
            b.t("t", TYPEDEF, 0, false, N + 2);
            b.t("", CONST, 0, false, N + 1);
        }),
        N + 1,
        "Loop detected",
    );
    // A FUNC on a later FUNC_PROTO, and a TYPEDEF of one, are fine.
    assert_eq!(
        check(&|b| {
            b.t("f", FUNC, 0, false, N + 2);
            b.t("t", TYPEDEF, 0, false, N + 2);
            b.t("", PROTO, 0, false, 1);
        }),
        None
    );
}

#[test]
fn resolve_r13_pointer_loops() {
    let check = |f: &dyn Fn(&mut B)| {
        let btf = with(f);
        let e = run(&btf, Level::Strict, false).err();
        for threads in [1, 2] {
            let again = validate_on(&btf, &ValidateOptions::default(), threads).err();
            assert_eq!(again.map(|e| e.to_string()), e.as_ref().map(|e| e.to_string()));
        }
        // Module level does not resolve.
        run(&btf, Level::Module, false).unwrap();
        e.map(|e| (e.type_id(), e.to_string().starts_with("Loop detected")))
    };
    let looped = |id: u32| Some((Some(id), true));
    // A PTR to itself, and PTR -> TYPEDEF -> PTR in both orders.
    assert_eq!(
        check(&|b| {
            b.t("", PTR, 0, false, N);
        }),
        looped(N)
    );
    assert_eq!(
        check(&|b| {
            b.t("", PTR, 0, false, N + 1);
            b.t("t", TYPEDEF, 0, false, N);
        }),
        looped(N)
    );
    assert_eq!(
        check(&|b| {
            b.t("t", TYPEDEF, 0, false, N + 1);
            b.t("", PTR, 0, false, N);
        }),
        looped(N)
    );
    // A VAR, DECL_TAG or DATASEC resolved into one fails first.
    assert_eq!(
        check(&|b| {
            b.t(".d", DATASEC, 1, false, 8).u(N + 1).u(0).u(8);
            b.t("v", VAR, 0, false, N + 2).u(0);
            b.t("", PTR, 0, false, N + 3);
            b.t("t", TYPEDEF, 0, false, N + 2);
        }),
        looped(N)
    );
    assert_eq!(
        check(&|b| {
            b.t("x", DECL_TAG, 0, false, N + 1).u(u32::MAX);
            b.t("t", TYPEDEF, 0, false, N + 2);
            b.t("", PTR, 0, false, N + 1);
        }),
        looped(N)
    );
    // The STRUCT resolves the loop's TYPEDEF (its size is the PTR's); the PTR's own
    // search then meets itself: the kernel names the PTR.
    assert_eq!(
        check(&|b| {
            b.t("s", STRUCT, 1, false, 8).m("m", N + 1, 0);
            b.t("t", TYPEDEF, 0, false, N + 2);
            b.t("", PTR, 0, false, N + 1);
        }),
        looped(N + 2)
    );
    // A loop of 30 PTRs fits the kernel's resolve stack: "Loop detected". One of 80 (or
    // 80 ending at an int) fills the stack first, which is reported on the same root.
    let too_deep = |id: u32| Some((Some(id), false));
    for (len, last, want) in [(30, N, looped(N)), (80, N, too_deep(N)), (80, 1, too_deep(N))] {
        assert_eq!(
            check(&|b| {
                for j in 1..len {
                    b.t("", PTR, 0, false, N + j);
                }
                b.t("", PTR, 0, false, last);
            }),
            want
        );
    }
    // Past a PTR, a loop of modifiers alone is met in the PTR's resolve too (phase 2
    // rejects it at module level).
    let btf = with(|b| {
        b.t("", PTR, 0, false, N + 1);
        b.t("a", TYPEDEF, 0, false, N + 2);
        b.t("b", TYPEDEF, 0, false, N + 1);
    });
    let e = run(&btf, Level::Strict, false).unwrap_err();
    assert_eq!((e.type_id(), e.to_string().starts_with("Loop detected")), (Some(N), true));
    // Loops through a STRUCT are fine (R2 is for loops by value).
    assert_eq!(
        check(&|b| {
            b.t("", PTR, 0, false, N + 1);
            b.t("s", STRUCT, 1, false, 8).m("p", N, 0);
        }),
        None
    );
}

/// Strict validation of `with(f)`: the failing type id and message without its location,
/// the same on one and two threads.
fn strict_verdict(f: &dyn Fn(&mut B)) -> Option<(Option<u32>, String)> {
    let btf = with(f);
    let e = run(&btf, Level::Strict, false).err().map(|e| (e.type_id(), e.to_string()));
    for threads in [1, 2] {
        let again = validate_on(&btf, &ValidateOptions::default(), threads).err();
        assert_eq!(again.map(|e| (e.type_id(), e.to_string())), e);
    }
    e.map(|(id, msg)| (id, msg.split(" (").next().unwrap_or_default().to_owned()))
}

#[test]
fn resolve_in_kernel_order() {
    // What the kernel reports (checked with BPF_BTF_LOAD on 6.18), on one and two threads.
    let check = strict_verdict;
    let want = |id: u32, msg: &str| Some((Some(id), msg.to_owned()));
    // The STRUCT's search meets its ARRAY's bad index before the lower TYPEDEF's turn.
    assert_eq!(
        check(&|b| {
            b.t("s", STRUCT, 1, false, 8).m("m", N + 2, 0);
            b.t("t", TYPEDEF, 0, false, 14); // a TYPEDEF of a VAR
            b.t("", ARRAY, 0, false, 0).u(1).u(14).u(1); // indexed by a VAR
        }),
        want(N + 2, "Invalid index")
    );
    // A PTR's search resolves the TYPEDEF without the STRUCT behind it: the by-value loop
    // STRUCT -> TYPEDEF -> STRUCT is never met.
    assert_eq!(
        check(&|b| {
            b.t("", PTR, 0, false, N + 1);
            b.t("t", TYPEDEF, 0, false, N + 2);
            b.t("s", STRUCT, 1, false, 4).m("m", N + 1, 0);
        }),
        None
    );
    // A PTR naming a FUNC: accepted once the FUNC is resolved (it stands for its
    // FUNC_PROTO), rejected before.
    assert_eq!(
        check(&|b| {
            b.t("", PTR, 0, false, 13);
        }),
        None
    );
    assert_eq!(
        check(&|b| {
            b.t("", PTR, 0, false, N + 1);
            b.t("g", FUNC, 0, false, 12);
        }),
        want(N, "Invalid type_id")
    );
    // A bad parameter name comes after the failure its FUNC_PROTO's return type meets.
    assert_eq!(
        check(&|b| {
            b.t("", PROTO, 1, false, N + 1);
            let bad = b.s("0bad");
            b.u(bad).u(1);
            b.t("t", TYPEDEF, 0, false, 14); // resolved as the return type: fails first
        }),
        want(N + 1, "Invalid type_id")
    );
}

#[test]
fn resolve_stack_limit() {
    // The kernel's resolve stack holds 32 types; one search needing more fails on its
    // root. Each pair below is one type short of that and just past it (the kernel on
    // 6.18 accepts the first and rejects the second with this type and message).
    let check = strict_verdict;
    let deep = |id: u32| Some((Some(id), "Exceeded max resolving depth:32".to_owned()));
    // `k` PTRs from N + first on, each naming the one before, the first an int.
    let ptrs = |b: &mut B, first: u32, k: u32| {
        for j in 0..k {
            b.t("", PTR, 0, false, if j == 0 { 1 } else { N + first + j - 1 });
        }
    };
    for (k, want) in [(31, None), (32, deep(N))] {
        // A STRUCT holding the last of `k` STRUCTs, each holding the one before.
        let got = check(&|b| {
            b.t("r", STRUCT, 1, false, 4).m("m", N + k, 0);
            for j in 0..k {
                b.t("s", STRUCT, 1, false, 4).m("m", if j == 0 { 1 } else { N + j }, 0);
            }
        });
        assert_eq!(got, want, "struct {k}");
        // A VAR of the last of `k` PTRs.
        let got = check(&|b| {
            b.t("v", VAR, 0, false, N + k).u(0);
            ptrs(b, 1, k);
        });
        assert_eq!(got, want, "var {k}");
        // A VAR of a TYPEDEF that a lower STRUCT resolved without the PTR behind it: the
        // VAR pushes that PTR itself (`btf_var_resolve`), and the same from a PTR.
        for kind in [VAR, PTR] {
            let got = check(&|b| {
                b.t("s", STRUCT, 1, false, 8).m("m", N + 1, 0);
                b.t("t", TYPEDEF, 0, false, N + 2 + k);
                if kind == VAR {
                    b.t("v", VAR, 0, false, N + 1).u(0);
                } else {
                    b.t("", PTR, 0, false, N + 1);
                }
                ptrs(b, 3, k);
            });
            assert_eq!(got, want.clone().map(|(_, m)| (Some(N + 2), m)), "via {kind} {k}");
        }
    }
    // A FUNC_PROTO resolves its parameter's type at its turn, from an empty stack.
    for (k, want) in [(32, None), (33, deep(N + 33))] {
        let got = check(&|b| {
            b.t("", PROTO, 1, false, 1).u(0).u(N + k);
            ptrs(b, 1, k);
        });
        assert_eq!(got, want, "proto {k}");
    }
    // A DATASEC takes one entry more.
    for (k, want) in [(30, None), (31, deep(N))] {
        let got = check(&|b| {
            b.t(".d", DATASEC, 1, false, 8).u(N + 1).u(0).u(8);
            b.t("v", VAR, 0, false, N + 1 + k).u(0);
            ptrs(b, 2, k);
        });
        assert_eq!(got, want, "datasec {k}");
    }
    // A full stack fails before a loop does.
    for (k, msg) in [(31, "Loop detected"), (32, "Exceeded max resolving depth:32")] {
        let got = check(&|b| {
            for j in 0..k {
                b.t("", CONST, 0, false, N + (j + 1) % k);
            }
        });
        assert_eq!(got, Some((Some(N), msg.to_owned())), "loop {k}");
    }
}

#[test]
fn stack_bound_is_tight_on_chains() {
    // The bound leaves the exact pass out when a chain fits the stack, and only then.
    let fits = |k: u32| {
        let btf = with(|b| {
            b.t("r", STRUCT, 1, false, 4).m("m", N + k, 0);
            for j in 0..k {
                b.t("s", STRUCT, 1, false, 4).m("m", if j == 0 { 1 } else { N + j }, 0);
            }
        });
        let v = Validator::<Le>::new(&btf, &ValidateOptions::default(), 1);
        v.build_idents(1);
        let mut kinds = vec![0u8; v.st_len()];
        let (failed, _, finds) = v.meta_strict(&mut kinds);
        assert!(failed.is_none());
        v.depth_fits(&kinds, &finds.later)
    };
    assert!(fits(31));
    assert!(!fits(32));
}

#[test]
fn phase1_finds_the_pushed_later_types() {
    // Phase 1's per-kind reading of the (type, later type) pairs equals the field table's
    // (`depth::for_each_pushed`), on every kind, with later ids everywhere they can be.
    let btf = with(|b| {
        let (int, proto) = (N + 10, N + 11);
        b.t("", PTR, 0, false, int); // N
        b.t("t", TYPEDEF, 0, false, int);
        b.t("", ARRAY, 0, false, 0).u(int).u(int).u(2);
        b.t("s", STRUCT, 2, false, 8).m("a", 1, 0).m("b", int, 32);
        b.t("u", UNION, 1, false, 8).m("a", int, 0);
        b.t(".d", DATASEC, 1, false, 8).u(N + 6).u(0).u(8); // N + 5
        b.t("v", VAR, 0, false, int).u(0);
        b.t("x", DECL_TAG, 0, false, int).u(u32::MAX);
        b.t("", PROTO, 2, false, int).u(0).u(1).u(0).u(proto);
        b.t("g", FUNC, 0, false, proto); // N + 9: a FUNC's type is never pushed
        b.int("int", 4, 32);
        b.t("", PROTO, 0, false, 1);
    });
    let v = Validator::<Le>::new(&btf, &ValidateOptions::default(), 1);
    v.build_idents(1);
    let mut kinds = vec![0u8; v.st_len()];
    let (failed, _, finds) = v.meta_strict(&mut kinds);
    assert!(failed.is_none());
    let mut want = Vec::new();
    for (i, &off) in btf.type_offsets().iter().enumerate() {
        let id = btf.start_id() + i as u32;
        depth::for_each_pushed::<Le>(btf.type_section(), off as usize, |t| {
            if t > id {
                want.push((id, t));
            }
        });
    }
    assert_eq!(finds.later, want);
    assert_eq!(want.len(), 11, "{want:?}");
}
