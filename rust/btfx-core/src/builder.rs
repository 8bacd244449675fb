//! Building new BTF blobs: a string table that reuses base strings, and a writer that
//! appends type records and emits a canonical blob (header, types, strings).

use std::collections::HashMap;

use crate::btf::Btf;
use crate::endian::ByteOrder;
use crate::error::{Error, Result};
use crate::kind::limits;
use crate::write::write_header;

/// Every string of `base`'s chain (its deepest base first) with its logical offset, in
/// section order — the order in which "first occurrence" is defined.
pub fn chain_strings(base: &Btf) -> impl Iterator<Item = (u32, &[u8])> {
    let mut chain = Vec::new();
    let mut cur = Some(base);
    while let Some(b) = cur {
        chain.push(b);
        cur = b.base().map(|a| a.as_ref());
    }
    chain.into_iter().rev().flat_map(|b| {
        let sec = b.string_section();
        let start = b.start_str_off();
        let mut off = 0usize;
        sec.split(|&c| c == 0).map_while(move |s| {
            if off >= sec.len() {
                return None;
            }
            let at = start + off as u32;
            off += s.len() + 1;
            Some((at, s))
        })
    })
}

/// Content → offset index of a base BTF's strings (first occurrence wins, as libbpf's
/// `strset__new` keeps the first of duplicate strings). Built once per base.
#[derive(Debug, Default)]
pub struct BaseStrings {
    index: HashMap<Box<[u8]>, u32>,
}

impl BaseStrings {
    /// Indexes every string of `base` and of its own bases.
    pub fn new(base: &Btf) -> Self {
        let mut index = HashMap::new();
        for (off, s) in chain_strings(base) {
            index.entry(s.into()).or_insert(off);
        }
        BaseStrings { index }
    }

    pub fn find(&self, s: &[u8]) -> Option<u32> {
        self.index.get(s).copied()
    }
}

/// A split string table: strings not found in the base are appended once each.
#[derive(Debug)]
pub struct StrTable<'b> {
    base: Option<&'b BaseStrings>,
    start_off: u32,
    bytes: Vec<u8>,
    own: HashMap<Box<[u8]>, u32>,
}

impl<'b> StrTable<'b> {
    /// A table for base BTF: starts with the empty string at offset 0.
    pub fn new_base() -> Self {
        let mut own = HashMap::new();
        own.insert(Box::from(&b""[..]), 0);
        StrTable { base: None, start_off: 0, bytes: vec![0], own }
    }

    /// A table for split BTF on a base whose strings end at `start_off`; like libbpf's
    /// `btf__add_str` on split BTF it reuses base offsets and starts without a NUL.
    pub fn new_split(base: &'b BaseStrings, start_off: u32) -> Self {
        StrTable { base: Some(base), start_off, bytes: Vec::new(), own: HashMap::new() }
    }

    /// The offset of `s`, adding it if needed. The empty string is offset 0.
    pub fn intern(&mut self, s: &[u8]) -> Result<u32> {
        if s.is_empty() {
            return Ok(0);
        }
        if let Some(off) = self.base.and_then(|b| b.find(s)) {
            return Ok(off);
        }
        if let Some(&off) = self.own.get(s) {
            return Ok(off);
        }
        let off = u64::from(self.start_off) + self.bytes.len() as u64;
        if off + s.len() as u64 > u64::from(limits::MAX_NAME_OFFSET) {
            return Err(Error::input("string section exceeds BTF_MAX_NAME_OFFSET"));
        }
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        self.own.insert(s.into(), off as u32);
        Ok(off as u32)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Appends type records (as u32 words) and emits a canonical 24-byte-header blob.
/// Records go straight into the output buffer, after room for the header.
#[derive(Debug)]
pub struct TypeWriter {
    order: ByteOrder,
    /// 24 placeholder bytes for the header, then the records.
    buf: Vec<u8>,
    count: u32,
}

const HDR: usize = 24;

impl TypeWriter {
    /// A writer with room for `capacity` bytes of records (strings come on top).
    pub fn new(order: ByteOrder, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(HDR + capacity);
        buf.resize(HDR, 0);
        TypeWriter { order, buf, count: 0 }
    }

    /// Appends one record given as words (`name_off`, `info`, `size/type`, trailing...).
    pub fn push(&mut self, words: &[u32]) {
        for &w in words {
            self.order.put_u32(&mut self.buf, w);
        }
        self.count += 1;
    }

    /// Appends raw record bytes already in the writer's byte order.
    pub fn push_raw(&mut self, record: &[u8]) {
        self.buf.extend_from_slice(record);
        self.count += 1;
    }

    /// Appends raw record bytes and returns the copy, for rewriting fields in place.
    pub fn push_raw_mut(&mut self, record: &[u8]) -> &mut [u8] {
        let at = self.buf.len();
        self.buf.extend_from_slice(record);
        self.count += 1;
        self.buf.get_mut(at..).unwrap_or(&mut [])
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// The blob: header (24 bytes), types, strings.
    pub fn finish(self, strings: &[u8]) -> Vec<u8> {
        let mut buf = self.buf;
        let type_len = (buf.len() - HDR) as u32;
        let mut hdr = Vec::with_capacity(HDR);
        write_header(&mut hdr, self.order, HDR as u32, type_len, None, strings.len() as u32);
        if let Some(dst) = buf.get_mut(..HDR) {
            dst.copy_from_slice(&hdr);
        }
        buf.extend_from_slice(strings);
        buf
    }
}
