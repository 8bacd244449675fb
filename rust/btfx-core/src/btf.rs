//! The parsed BTF object: the blob, its header, and a one-pass index of type offsets.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::endian::ByteOrder;
use crate::error::{Error, Result, Section};
use crate::header::Header;
use crate::index::index_types;
use crate::kind::Kind;
use crate::types::TypeRef;

/// Shared, immutable input bytes (a `Vec<u8>`, a Python `bytes`, an mmap...).
pub type Blob = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A parsed BTF blob, possibly split on a base.
///
/// The blob is kept as is; types are read through borrowed views ([`TypeRef`]).
pub struct Btf {
    blob: Blob,
    /// Where the BTF sits inside `blob` (a sub-range for ELF input).
    range: Range<usize>,
    order: ByteOrder,
    header: Header,
    /// Absolute offset (in `blob`) of the type section.
    types_start: usize,
    /// Absolute offset (in `blob`) of the string section.
    strs_start: usize,
    /// Offset of each own type relative to `types_start`, in id order.
    offsets: Vec<u32>,
    /// First own type id (base type count including void; 1 for base BTF).
    start_id: u32,
    /// First own string offset (base string length; 0 for base BTF).
    start_str_off: u32,
    base: Option<Arc<Btf>>,
    name_index: OnceLock<HashMap<Box<[u8]>, Vec<u32>>>,
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("order", &self.order)
            .field("start_id", &self.start_id)
            .field("nr_types", &self.offsets.len())
            .field("start_str_off", &self.start_str_off)
            .field("header", &self.header)
            .finish()
    }
}

impl Btf {
    /// Parses raw BTF held in `blob[range]`, on top of `base` for split BTF.
    pub fn parse_in(blob: Blob, range: Range<usize>, base: Option<Arc<Btf>>) -> Result<Btf> {
        let data = (*blob)
            .as_ref()
            .get(range.clone())
            .ok_or_else(|| Error::input("BTF range outside the input"))?;
        let (header, order) = Header::parse(data, base.is_some())?;
        if let Some(b) = &base {
            if b.order != order {
                return Err(Error::input(format!(
                    "split BTF is {}-endian but its base is {}-endian",
                    order.as_str(),
                    b.order.as_str()
                )));
            }
        }
        let (start_id, start_str_off) = match &base {
            Some(b) => (b.type_cnt(), b.str_end()),
            None => (1, 0),
        };
        let hdr_len = header.hdr_len as usize;
        let types_rel = hdr_len + header.type_off as usize;
        let types = data.get(types_rel..types_rel + header.type_len as usize).unwrap_or(&[]);
        let offsets = index_types(types, order, start_id, (range.start + types_rel) as u64)?;
        let start_id_u64 = u64::from(start_id) + offsets.len() as u64;
        if start_id_u64 > u64::from(u32::MAX) {
            return Err(Error::format(Section::Types, "too many types"));
        }
        Ok(Btf {
            types_start: range.start + types_rel,
            strs_start: range.start + hdr_len + header.str_off as usize,
            blob,
            range,
            order,
            header,
            offsets,
            start_id,
            start_str_off,
            base,
            name_index: OnceLock::new(),
        })
    }

    /// Parses a raw BTF blob (all of `blob`).
    pub fn parse(blob: Blob, base: Option<Arc<Btf>>) -> Result<Btf> {
        let len = (*blob).as_ref().len();
        Btf::parse_in(blob, 0..len, base)
    }

    /// Parses a copy of `data`.
    pub fn from_slice(data: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
        Btf::parse(Arc::new(data.to_vec()), base)
    }

    /// The raw BTF bytes as given (header included).
    #[inline]
    pub fn raw(&self) -> &[u8] {
        (*self.blob).as_ref().get(self.range.clone()).unwrap_or(&[])
    }

    #[inline]
    fn blob_bytes(&self) -> &[u8] {
        (*self.blob).as_ref()
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    pub fn is_split(&self) -> bool {
        self.base.is_some()
    }

    /// First own type id.
    pub fn start_id(&self) -> u32 {
        self.start_id
    }

    /// First own string offset.
    pub fn start_str_off(&self) -> u32 {
        self.start_str_off
    }

    /// Number of own types (void and base types excluded).
    pub fn nr_types(&self) -> u32 {
        self.offsets.len() as u32
    }

    /// libbpf `btf__type_cnt`: one past the last id, counting void and the base.
    pub fn type_cnt(&self) -> u32 {
        self.start_id + self.nr_types()
    }

    /// Last valid type id of the whole chain (0 when there are no types).
    pub fn last_id(&self) -> u32 {
        self.type_cnt() - 1
    }

    /// One past the last string offset of the chain.
    pub fn str_end(&self) -> u32 {
        self.start_str_off.saturating_add(self.header.str_len)
    }

    /// The own type section bytes.
    pub fn type_section(&self) -> &[u8] {
        let s = self.types_start;
        self.blob_bytes().get(s..s + self.header.type_len as usize).unwrap_or(&[])
    }

    /// The own string section bytes.
    pub fn string_section(&self) -> &[u8] {
        let s = self.strs_start;
        self.blob_bytes().get(s..s + self.header.str_len as usize).unwrap_or(&[])
    }

    /// The layout section bytes, if present.
    pub fn layout_section(&self) -> Option<&[u8]> {
        let (off, len) = self.header.layout()?;
        let s = self.range.start + self.header.hdr_len as usize + off as usize;
        self.blob_bytes().get(s..s + len as usize)
    }

    /// Offsets of the own types inside the type section, in id order (the parse index:
    /// every record there has a known kind and fits in the section).
    #[inline]
    pub fn type_offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// Offset of own type `id` inside the type section.
    #[inline]
    pub fn type_offset(&self, id: u32) -> Option<u32> {
        let idx = id.checked_sub(self.start_id)?;
        self.offsets.get(idx as usize).copied()
    }

    /// A view of type `id` anywhere in the chain (`None` for void and unknown ids).
    #[inline]
    pub fn type_by_id(&self, id: u32) -> Option<TypeRef<'_>> {
        if id < self.start_id {
            return self.base.as_ref()?.type_by_id(id);
        }
        let off = self.type_offset(id)? as usize;
        Some(TypeRef::new(self, id, self.type_section(), off))
    }

    /// Views of the own types in id order.
    pub fn types(&self) -> impl ExactSizeIterator<Item = TypeRef<'_>> + '_ {
        let sec = self.type_section();
        self.offsets
            .iter()
            .enumerate()
            .map(move |(i, &off)| TypeRef::new(self, self.start_id + i as u32, sec, off as usize))
    }

    /// The NUL-terminated string at logical offset `off` (base offsets go to the base).
    pub fn str_at(&self, off: u32) -> Option<&[u8]> {
        if off < self.start_str_off {
            return self.base.as_ref()?.str_at(off);
        }
        let local = (off - self.start_str_off) as usize;
        let rest = self.string_section().get(local..)?;
        let end = memchr::memchr(0, rest)?;
        rest.get(..end)
    }

    /// Whether `off` lies inside the chain's string space.
    pub fn str_offset_valid(&self, off: u32) -> bool {
        off < self.str_end()
    }

    /// Ids of all types named `name` (base first, then own), optionally of one kind.
    pub fn find_by_name(&self, name: &[u8], kind: Option<Kind>) -> Vec<u32> {
        let mut out = match &self.base {
            Some(b) => b.find_by_name(name, kind),
            None => Vec::new(),
        };
        if let Some(ids) = self.name_index().get(name) {
            out.extend(ids.iter().copied().filter(|&id| {
                kind.is_none() || self.type_by_id(id).and_then(|t| t.kind()) == kind
            }));
        }
        out
    }

    fn name_index(&self) -> &HashMap<Box<[u8]>, Vec<u32>> {
        self.name_index.get_or_init(|| {
            let mut map: HashMap<Box<[u8]>, Vec<u32>> = HashMap::new();
            for t in self.types() {
                if t.name_off() == 0 {
                    continue;
                }
                if let Some(name) = self.str_at(t.name_off()) {
                    map.entry(name.into()).or_default().push(t.id());
                }
            }
            map
        })
    }
}
