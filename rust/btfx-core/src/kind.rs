//! The per-kind table: record sizes and where type-id and string-offset fields sit.
//!
//! One table drives parsing (record sizes), byte swapping, validation (id-range checks)
//! and rebasing (which words to remap). The field lists mirror libbpf
//! `btf_field_iter_init` (`src/btf_iter.c`), which the kernel shares since 6.11.

/// Bit layout of `btf_type.info` (uapi `linux/btf.h`), in the 2026 widened form:
/// vlen in bits 0-23, kind in bits 24-30, kind_flag in bit 31. Older kernels used a
/// 16-bit vlen and a 5-bit kind and reject the bits in between (`BTF_INFO_MASK`).
pub mod info {
    pub const VLEN_MASK: u32 = 0x00ff_ffff;
    pub const KIND_SHIFT: u32 = 24;
    pub const KIND_MASK: u32 = 0x7f;
    pub const KFLAG: u32 = 1 << 31;
    /// Largest vlen the classic (pre-2026) encoding allows.
    pub const CLASSIC_VLEN_MAX: u32 = 0xffff;
    /// The bits the classic encoding uses (`BTF_INFO_MASK`): vlen 0-15, kind 24-28,
    /// kind_flag 31; its kernels reject the others first (`btf_check_meta`).
    pub const CLASSIC_MASK: u32 = 0x9f00_ffff;

    #[inline]
    pub fn vlen(info: u32) -> u32 {
        info & VLEN_MASK
    }
    #[inline]
    pub fn kind(info: u32) -> u32 {
        (info >> KIND_SHIFT) & KIND_MASK
    }
    #[inline]
    pub fn kflag(info: u32) -> bool {
        info & KFLAG != 0
    }
}

/// Kernel limits (uapi `enum btf_max`).
pub mod limits {
    /// Largest type id (`BTF_MAX_TYPE`).
    pub const MAX_TYPE_ID: u32 = 0x000f_ffff;
    /// Largest string offset (`BTF_MAX_NAME_OFFSET`).
    pub const MAX_NAME_OFFSET: u32 = 0x00ff_ffff;
    /// Largest BTF blob `BPF_BTF_LOAD` takes (`BTF_MAX_SIZE`, kernel/bpf/btf.c).
    pub const MAX_BTF_SIZE: u64 = 16 << 20;
    /// Longest identifier, exclusive (`KSYM_NAME_LEN`).
    pub const KSYM_NAME_LEN: usize = 512;
}

/// A BTF kind (uapi `BTF_KIND_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

/// What the third word of `struct btf_type` holds for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeWord {
    /// A byte size.
    Size,
    /// A type id (0 = void).
    TypeId,
    /// Unused, must be 0 (ARRAY).
    Zero,
}

/// Static facts about one kind.
#[derive(Debug)]
pub struct KindLayout {
    /// Name as bpftool and the kernel print it.
    pub name: &'static str,
    /// Bytes of fixed trailing data after the 12-byte `btf_type`.
    pub info_size: u32,
    /// Bytes per vlen element after the fixed trailing data.
    pub elem_size: u32,
    pub size_word: SizeWord,
    /// Byte offsets (within the fixed trailing data) of type-id fields.
    pub info_ids: &'static [u32],
    /// Byte offsets (within one element) of type-id fields.
    pub elem_ids: &'static [u32],
    /// Byte offsets (within one element) of string-offset fields.
    pub elem_strs: &'static [u32],
}

const fn layout(
    name: &'static str,
    info_size: u32,
    elem_size: u32,
    size_word: SizeWord,
    info_ids: &'static [u32],
    elem_ids: &'static [u32],
    elem_strs: &'static [u32],
) -> KindLayout {
    KindLayout { name, info_size, elem_size, size_word, info_ids, elem_ids, elem_strs }
}

use SizeWord::{Size, TypeId, Zero};

/// Indexed by kind number; entry 0 (UNKN) is a placeholder.
pub const LAYOUT_TABLE: [KindLayout; 20] = [
    layout("UNKN", 0, 0, Zero, &[], &[], &[]),
    layout("INT", 4, 0, Size, &[], &[], &[]),
    layout("PTR", 0, 0, TypeId, &[], &[], &[]),
    // btf_array {type, index_type, nelems}
    layout("ARRAY", 12, 0, Zero, &[0, 4], &[], &[]),
    // btf_member {name_off, type, offset}
    layout("STRUCT", 0, 12, Size, &[], &[4], &[0]),
    layout("UNION", 0, 12, Size, &[], &[4], &[0]),
    // btf_enum {name_off, val}
    layout("ENUM", 0, 8, Size, &[], &[], &[0]),
    // The FWD type word is always 0, but libbpf's iterator visits it as an id.
    layout("FWD", 0, 0, TypeId, &[], &[], &[]),
    layout("TYPEDEF", 0, 0, TypeId, &[], &[], &[]),
    layout("VOLATILE", 0, 0, TypeId, &[], &[], &[]),
    layout("CONST", 0, 0, TypeId, &[], &[], &[]),
    layout("RESTRICT", 0, 0, TypeId, &[], &[], &[]),
    layout("FUNC", 0, 0, TypeId, &[], &[], &[]),
    // btf_param {name_off, type}
    layout("FUNC_PROTO", 0, 8, TypeId, &[], &[4], &[0]),
    // btf_var {linkage}
    layout("VAR", 4, 0, TypeId, &[], &[], &[]),
    // btf_var_secinfo {type, offset, size}
    layout("DATASEC", 0, 12, Size, &[], &[0], &[]),
    layout("FLOAT", 0, 0, Size, &[], &[], &[]),
    // btf_decl_tag {component_idx}
    layout("DECL_TAG", 4, 0, TypeId, &[], &[], &[]),
    layout("TYPE_TAG", 0, 0, TypeId, &[], &[], &[]),
    // btf_enum64 {name_off, val_lo32, val_hi32}
    layout("ENUM64", 0, 12, Size, &[], &[], &[0]),
];

/// The table as a static, so that `Kind::layout` can hand out `'static` references.
static LAYOUTS: [KindLayout; 20] = LAYOUT_TABLE;

/// `(info_size, elem_size)` by raw kind number (any 7-bit kind), `(0, 0)` for 0 and
/// unknown kinds: the record-size lookup of the parsing loop, without a `Kind`.
pub static RECORD_PARTS: [(u8, u8); 128] = {
    let mut t = [(0u8, 0u8); 128];
    let mut i = 1;
    while i < LAYOUT_TABLE.len() {
        t[i] = (LAYOUT_TABLE[i].info_size as u8, LAYOUT_TABLE[i].elem_size as u8);
        i += 1;
    }
    t
};

/// Bytes of the record whose info word is `info` (kind and vlen read from it; an
/// unknown kind counts its 12-byte head only). u64: vlen is untrusted.
#[inline(always)]
pub fn record_bytes(info: u32) -> u64 {
    let (info_size, elem_size) = RECORD_PARTS[info::kind(info) as usize];
    12 + u64::from(info_size) + u64::from(info::vlen(info)) * u64::from(elem_size)
}

impl Kind {
    /// The kind for a raw kind number, or `None` for 0 and unknown kinds.
    #[inline]
    pub fn from_raw(raw: u32) -> Option<Kind> {
        use Kind::*;
        Some(match raw {
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    #[inline]
    pub fn layout(self) -> &'static KindLayout {
        &LAYOUTS[self as usize]
    }

    #[inline]
    pub fn name(self) -> &'static str {
        self.layout().name
    }

    /// Total record size for this kind with `vlen` elements (u64: vlen is untrusted).
    #[inline]
    pub fn record_size(self, vlen: u32) -> u64 {
        let l = self.layout();
        12 + u64::from(l.info_size) + u64::from(vlen) * u64::from(l.elem_size)
    }

    /// Modifier kinds: the chain kinds `btf_type_is_modifier` follows.
    #[inline]
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }

    /// Calls `f` with the byte offset (within a record of `vlen` elements) of every
    /// type-id field (`ids`) or string-offset field, in record order: the tight-loop form
    /// of `types::field_offsets` (same fields, same order) for the rebase hot paths.
    #[inline(always)]
    pub fn for_each_field(self, vlen: u32, ids: bool, mut f: impl FnMut(usize)) {
        let l = self.layout();
        if ids {
            if l.size_word == SizeWord::TypeId {
                f(8);
            }
            for &o in l.info_ids {
                f(12 + o as usize);
            }
        } else {
            f(0);
        }
        let elem = if ids { l.elem_ids } else { l.elem_strs };
        if elem.is_empty() {
            return;
        }
        let (base, esz) = (12 + l.info_size as usize, l.elem_size as usize);
        for i in 0..vlen as usize {
            let at = base + i * esz;
            for &o in elem {
                f(at + o as usize);
            }
        }
    }

    /// Kinds whose third word is a byte size.
    #[inline]
    pub fn has_size(self) -> bool {
        self.layout().size_word == SizeWord::Size
    }

    /// Kinds whose third word is a type id.
    #[inline]
    pub fn has_type(self) -> bool {
        self.layout().size_word == SizeWord::TypeId
    }

    pub const ALL: [Kind; 19] = [
        Kind::Int,
        Kind::Ptr,
        Kind::Array,
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Fwd,
        Kind::Typedef,
        Kind::Volatile,
        Kind::Const,
        Kind::Restrict,
        Kind::Func,
        Kind::FuncProto,
        Kind::Var,
        Kind::Datasec,
        Kind::Float,
        Kind::DeclTag,
        Kind::TypeTag,
        Kind::Enum64,
    ];
}

/// Info words of the kinds (vlen 0, no kflag) and the kflag bit, for hand-built BTF in
/// unit tests.
#[cfg(test)]
pub(crate) mod test_info {
    use super::info::KIND_SHIFT;
    use super::Kind;

    pub use super::info::KFLAG;
    pub const INT: u32 = (Kind::Int as u32) << KIND_SHIFT;
    pub const PTR: u32 = (Kind::Ptr as u32) << KIND_SHIFT;
    pub const ARRAY: u32 = (Kind::Array as u32) << KIND_SHIFT;
    pub const STRUCT: u32 = (Kind::Struct as u32) << KIND_SHIFT;
    pub const UNION: u32 = (Kind::Union as u32) << KIND_SHIFT;
    pub const ENUM: u32 = (Kind::Enum as u32) << KIND_SHIFT;
    pub const FWD: u32 = (Kind::Fwd as u32) << KIND_SHIFT;
    pub const TYPEDEF: u32 = (Kind::Typedef as u32) << KIND_SHIFT;
    pub const CONST: u32 = (Kind::Const as u32) << KIND_SHIFT;
    pub const FUNC: u32 = (Kind::Func as u32) << KIND_SHIFT;
    pub const FUNC_PROTO: u32 = (Kind::FuncProto as u32) << KIND_SHIFT;
    pub const VAR: u32 = (Kind::Var as u32) << KIND_SHIFT;
    pub const DATASEC: u32 = (Kind::Datasec as u32) << KIND_SHIFT;
    pub const ENUM64: u32 = (Kind::Enum64 as u32) << KIND_SHIFT;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_kind_number() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_raw(k as u32), Some(k));
            assert_eq!(k.layout().name, LAYOUTS[k as usize].name);
        }
        assert_eq!(Kind::from_raw(0), None);
        assert_eq!(Kind::from_raw(20), None);
    }

    #[test]
    fn for_each_field_matches_field_offsets() {
        for k in Kind::ALL {
            for vlen in [0, 1, 3] {
                for ids in [true, false] {
                    let mut got = Vec::new();
                    k.for_each_field(vlen, ids, |o| got.push(o));
                    let want: Vec<usize> =
                        crate::types::field_offsets(Some(k), vlen, ids).collect();
                    assert_eq!(got, want, "{k:?} vlen {vlen} ids {ids}");
                }
            }
        }
    }

    #[test]
    fn record_sizes_match_uapi() {
        assert_eq!(Kind::Int.record_size(0), 16);
        assert_eq!(Kind::Array.record_size(0), 24);
        assert_eq!(Kind::Struct.record_size(2), 36);
        assert_eq!(Kind::Enum.record_size(3), 36);
        assert_eq!(Kind::Enum64.record_size(1), 24);
        assert_eq!(Kind::FuncProto.record_size(2), 28);
        assert_eq!(Kind::Var.record_size(0), 16);
        assert_eq!(Kind::Datasec.record_size(1), 24);
        assert_eq!(Kind::DeclTag.record_size(0), 16);
        assert_eq!(Kind::Ptr.record_size(0), 12);
    }
}
