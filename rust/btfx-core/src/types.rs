//! Borrowed, zero-copy views of one type record and its trailing data.

use crate::btf::Btf;
use crate::kind::{info, Kind};

/// One type record of a [`Btf`], read in place.
#[derive(Clone, Copy)]
pub struct TypeRef<'a> {
    btf: &'a Btf,
    id: u32,
    /// The type section of the BTF that owns this record.
    sec: &'a [u8],
    /// Offset of the record in `sec`.
    off: usize,
}

/// A STRUCT/UNION member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub name_off: u32,
    pub type_id: u32,
    /// Raw `offset` word: with kflag, `bitfield_size << 24 | bit_offset`.
    pub offset: u32,
    kflag: bool,
}

impl Member {
    /// Bit offset of the member (kflag-aware).
    pub fn bit_offset(&self) -> u32 {
        if self.kflag {
            self.offset & 0x00ff_ffff
        } else {
            self.offset
        }
    }
    /// Bitfield size with kflag, else 0.
    pub fn bitfield_size(&self) -> u32 {
        if self.kflag {
            self.offset >> 24
        } else {
            0
        }
    }
}

/// An ENUM or ENUM64 value; `val` holds the raw bits (sign-extended for 32-bit signed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumValue {
    pub name_off: u32,
    /// Low 32 bits for ENUM; the 64-bit value for ENUM64.
    pub lo: u32,
    pub hi: u32,
}

/// A FUNC_PROTO parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name_off: u32,
    pub type_id: u32,
}

/// A DATASEC entry (`btf_var_secinfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSecinfo {
    pub type_id: u32,
    pub offset: u32,
    pub size: u32,
}

/// ARRAY data (`btf_array`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array {
    pub elem_type: u32,
    pub index_type: u32,
    pub nelems: u32,
}

impl<'a> TypeRef<'a> {
    #[inline]
    pub(crate) fn new(btf: &'a Btf, id: u32, sec: &'a [u8], off: usize) -> Self {
        TypeRef { btf, id, sec, off }
    }

    #[inline]
    fn word(&self, byte: usize) -> u32 {
        self.btf.byte_order().u32_at(self.sec, self.off + byte)
    }

    /// The BTF this type belongs to (the base for base ids).
    pub fn btf(&self) -> &'a Btf {
        self.btf
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// Offset of the record inside its type section.
    pub fn section_offset(&self) -> usize {
        self.off
    }

    /// Offset of the record inside the raw BTF blob.
    pub fn blob_offset(&self) -> u64 {
        let h = self.btf.header();
        u64::from(h.hdr_len) + u64::from(h.type_off) + self.off as u64
    }

    pub fn name_off(&self) -> u32 {
        self.word(0)
    }

    pub fn info(&self) -> u32 {
        self.word(4)
    }

    /// The kind (always known: parsing rejects unknown kinds).
    pub fn kind(&self) -> Option<Kind> {
        Kind::from_raw(info::kind(self.info()))
    }

    pub fn kind_name(&self) -> &'static str {
        self.kind().map_or("UNKN", Kind::name)
    }

    pub fn vlen(&self) -> u32 {
        info::vlen(self.info())
    }

    pub fn kflag(&self) -> bool {
        info::kflag(self.info())
    }

    /// The raw third word (`size` or `type`).
    pub fn size_or_type(&self) -> u32 {
        self.word(8)
    }

    /// Size for sized kinds.
    pub fn size(&self) -> Option<u32> {
        self.kind().filter(|k| k.has_size()).map(|_| self.word(8))
    }

    /// Referenced type for kinds whose third word is a type id.
    pub fn type_id(&self) -> Option<u32> {
        self.kind().filter(|k| k.has_type()).map(|_| self.word(8))
    }

    /// Name bytes (empty for anonymous or invalid offsets).
    pub fn name(&self) -> &'a [u8] {
        self.btf.str_at(self.name_off()).unwrap_or(b"")
    }

    /// Record length in bytes.
    pub fn record_size(&self) -> usize {
        self.kind().map_or(12, |k| k.record_size(self.vlen()) as usize)
    }

    /// The whole record.
    pub fn bytes(&self) -> &'a [u8] {
        self.sec.get(self.off..self.off + self.record_size()).unwrap_or(&[])
    }

    /// INT: the raw `int_data` word.
    pub fn int_data(&self) -> u32 {
        self.word(12)
    }
    pub fn int_bits(&self) -> u32 {
        self.int_data() & 0xff
    }
    pub fn int_offset(&self) -> u32 {
        (self.int_data() >> 16) & 0xff
    }
    pub fn int_encoding(&self) -> u32 {
        (self.int_data() >> 24) & 0x0f
    }

    /// ARRAY data.
    pub fn array(&self) -> Array {
        Array { elem_type: self.word(12), index_type: self.word(16), nelems: self.word(20) }
    }

    /// VAR linkage / FUNC linkage (vlen).
    pub fn var_linkage(&self) -> u32 {
        self.word(12)
    }

    /// DECL_TAG `component_idx`.
    pub fn component_idx(&self) -> i32 {
        self.word(12) as i32
    }

    fn elem_base(&self) -> usize {
        12 + self.kind().map_or(0, |k| k.layout().info_size as usize)
    }

    fn elems(&self, size: usize) -> impl ExactSizeIterator<Item = usize> + 'a {
        let base = self.elem_base();
        (0..self.vlen() as usize).map(move |i| base + i * size)
    }

    /// STRUCT/UNION members.
    pub fn members(&self) -> impl ExactSizeIterator<Item = Member> + 'a {
        let this = *self;
        let kflag = self.kflag();
        self.elems(12).map(move |o| Member {
            name_off: this.word(o),
            type_id: this.word(o + 4),
            offset: this.word(o + 8),
            kflag,
        })
    }

    /// ENUM/ENUM64 values.
    pub fn enum_values(&self) -> impl ExactSizeIterator<Item = EnumValue> + 'a {
        let this = *self;
        let is64 = self.kind() == Some(Kind::Enum64);
        let step = if is64 { 12 } else { 8 };
        self.elems(step).map(move |o| EnumValue {
            name_off: this.word(o),
            lo: this.word(o + 4),
            hi: if is64 { this.word(o + 8) } else { 0 },
        })
    }

    /// FUNC_PROTO parameters.
    pub fn params(&self) -> impl ExactSizeIterator<Item = Param> + 'a {
        let this = *self;
        self.elems(8).map(move |o| Param { name_off: this.word(o), type_id: this.word(o + 4) })
    }

    /// DATASEC entries.
    pub fn secinfos(&self) -> impl ExactSizeIterator<Item = VarSecinfo> + 'a {
        let this = *self;
        self.elems(12).map(move |o| VarSecinfo {
            type_id: this.word(o),
            offset: this.word(o + 4),
            size: this.word(o + 8),
        })
    }

    /// Byte offsets (within the record) of every type-id field, per the kind table.
    pub fn id_field_offsets(&self) -> impl Iterator<Item = usize> + 'a {
        field_offsets(self.kind(), self.vlen(), true)
    }

    /// Byte offsets (within the record) of every string-offset field, per the kind table.
    pub fn str_field_offsets(&self) -> impl Iterator<Item = usize> + 'a {
        field_offsets(self.kind(), self.vlen(), false)
    }

    /// Values of every type-id field.
    pub fn referenced_ids(&self) -> impl Iterator<Item = u32> + 'a {
        let this = *self;
        self.id_field_offsets().map(move |o| this.word(o))
    }
}

/// Offsets within a record of the id (or string) fields of a kind with `vlen` elements.
pub fn field_offsets(kind: Option<Kind>, vlen: u32, ids: bool) -> impl Iterator<Item = usize> {
    let (head, info, elem, elem_size, n, base): (
        Option<usize>,
        &[u32],
        &[u32],
        usize,
        usize,
        usize,
    ) = match kind {
        None => (None, &[], &[], 0, 0, 12),
        Some(k) => {
            let l = k.layout();
            let head = if ids {
                (l.size_word == crate::kind::SizeWord::TypeId).then_some(8)
            } else {
                Some(0)
            };
            let info: &[u32] = if ids { l.info_ids } else { &[] };
            let elem: &[u32] = if ids { l.elem_ids } else { l.elem_strs };
            let n = if l.elem_size == 0 { 0 } else { vlen as usize };
            (head, info, elem, l.elem_size as usize, n, 12 + l.info_size as usize)
        }
    };
    head.into_iter().chain(info.iter().map(|&o| 12 + o as usize)).chain(
        (0..n).flat_map(move |i| elem.iter().map(move |&o| base + i * elem_size + o as usize)),
    )
}

impl std::fmt::Debug for TypeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {} '{}'", self.id, self.kind_name(), String::from_utf8_lossy(self.name()))
    }
}
