//! Per-base precomputation for the dedup rebase (docs/rebase.md §2).
//!
//! libbpf's `btf_dedup_prep` hashes every base type into the dedup table before
//! deduplicating split types; the base never changes, so [`BaseIndex`] does that once
//! per base and shares the result between any number of concurrent `dedup` calls.
//! It also keeps the base string index and the table of unique struct/union names
//! that `btf_dedup_resolve_fwds` consults.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use crate::btf::Btf;
use crate::builder::BaseStrings;
use crate::endian::ByteOrder;

// Raw kind numbers (uapi `BTF_KIND_*`); dedup compares raw kinds like libbpf does.
pub(crate) const K_INT: u32 = 1;
pub(crate) const K_PTR: u32 = 2;
pub(crate) const K_ARRAY: u32 = 3;
pub(crate) const K_STRUCT: u32 = 4;
pub(crate) const K_UNION: u32 = 5;
pub(crate) const K_ENUM: u32 = 6;
pub(crate) const K_FWD: u32 = 7;
pub(crate) const K_TYPEDEF: u32 = 8;
pub(crate) const K_VOLATILE: u32 = 9;
pub(crate) const K_CONST: u32 = 10;
pub(crate) const K_RESTRICT: u32 = 11;
pub(crate) const K_FUNC: u32 = 12;
pub(crate) const K_FUNC_PROTO: u32 = 13;
pub(crate) const K_FLOAT: u32 = 16;
pub(crate) const K_DECL_TAG: u32 = 17;
pub(crate) const K_TYPE_TAG: u32 = 18;
pub(crate) const K_ENUM64: u32 = 19;

/// A hasher for keys that are already well-mixed 64-bit values (or small ids).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only used for byte-string keys: FxHash-style word mixing, 8 bytes at a time,
        // the tail read as (possibly overlapping) words instead of copied out.
        let mut h = self.0;
        let mut rest = bytes;
        while let Some((w, r)) = rest.split_first_chunk::<8>() {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(*w)).wrapping_mul(SEED);
            rest = r;
        }
        if !rest.is_empty() {
            h = (h.rotate_left(5) ^ tail_word(rest)).wrapping_mul(SEED);
        }
        self.0 = fmix(h ^ bytes.len() as u64);
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        // `[u8]`'s Hash writes a length prefix then the bytes; keep both.
        self.0 = (self.0.rotate_left(5) ^ u64::from(v)).wrapping_mul(SEED);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.0 = fmix(self.0 ^ u64::from(v));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.0 = (self.0.rotate_left(5) ^ v as u64).wrapping_mul(SEED);
    }
}

pub(crate) type IdBuild = BuildHasherDefault<IdHasher>;
pub(crate) type IdMap<K, V> = HashMap<K, V, IdBuild>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// 1 to 7 bytes as one word (the length is mixed in by the caller): two overlapping
/// 4-byte reads, or the first, middle and last byte.
#[inline]
fn tail_word(b: &[u8]) -> u64 {
    let n = b.len();
    if let (Some(lo), Some(hi)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << 32
    } else {
        let at = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
        at(0) | at(n / 2) << 8 | at(n.wrapping_sub(1)) << 16
    }
}

/// murmur3's 64-bit finalizer.
#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[inline]
fn mix(h: u64, v: u32) -> u64 {
    (h.rotate_left(5) ^ u64::from(v)).wrapping_mul(SEED)
}

/// One type record read in place (the record bytes and their byte order). Void is a
/// record of zeros, like libbpf's `btf_void`.
#[derive(Clone, Copy)]
pub(crate) struct Rec<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) order: ByteOrder,
}

pub(crate) static VOID_RECORD: [u8; 12] = [0; 12];

impl<'a> Rec<'a> {
    /// The word at byte offset `off` (0 past the end: never panics).
    #[inline]
    pub(crate) fn w(&self, off: usize) -> u32 {
        self.order.u32_at(self.b, off)
    }
    #[inline]
    pub(crate) fn name(&self) -> u32 {
        self.w(0)
    }
    #[inline]
    pub(crate) fn info(&self) -> u32 {
        self.w(4)
    }
    #[inline]
    pub(crate) fn kind(&self) -> u32 {
        crate::kind::info::kind(self.info())
    }
    #[inline]
    pub(crate) fn vlen(&self) -> usize {
        crate::kind::info::vlen(self.info()) as usize
    }
    #[inline]
    pub(crate) fn kflag(&self) -> bool {
        crate::kind::info::kflag(self.info())
    }
    /// The `size`/`type` word.
    #[inline]
    pub(crate) fn st(&self) -> u32 {
        self.w(8)
    }
}

/// Kind tag folded into every key so that unrelated kinds rarely share a bucket.
/// ENUM and ENUM64 share one tag: libbpf hashes them by name only so that enum
/// forward declarations meet full enums of either kind (`btf_hash_enum`).
fn tag(kind: u32) -> u64 {
    match kind {
        K_ENUM | K_ENUM64 => 0xe0,
        k => u64::from(k),
    }
}

/// The dedup-table key of a record, for the kinds libbpf hashes (`btf_dedup_prep`):
/// a function of exactly the fields its equality check for that kind compares
/// (`btf_hash_common`, `btf_hash_int_decl_tag`, `btf_hash_enum`, `btf_hash_struct`,
/// `btf_hash_array`, `btf_hash_fnproto`). `None` for VAR/DATASEC (never deduped).
pub(crate) fn type_key(r: Rec<'_>) -> Option<u64> {
    let kind = r.kind();
    let mut h = mix(tag(kind), r.name());
    match kind {
        K_CONST | K_VOLATILE | K_RESTRICT | K_PTR | K_FWD | K_TYPEDEF | K_FUNC | K_FLOAT
        | K_TYPE_TAG => {
            h = mix(mix(h, r.info()), r.st());
        }
        K_INT | K_DECL_TAG => {
            h = mix(mix(mix(h, r.info()), r.st()), r.w(12));
        }
        K_ENUM | K_ENUM64 => {}
        K_STRUCT | K_UNION => {
            h = mix(mix(h, r.info()), r.st());
            for i in 0..r.vlen() {
                let o = 12 + 12 * i;
                h = mix(mix(h, r.w(o)), r.w(o + 8));
            }
        }
        K_ARRAY => {
            h = mix(mix(h, r.info()), r.st());
            h = mix(mix(mix(h, r.w(12)), r.w(16)), r.w(20));
        }
        K_FUNC_PROTO => {
            h = mix(mix(h, r.info()), r.st());
            for i in 0..r.vlen() {
                let o = 12 + 8 * i;
                h = mix(mix(h, r.w(o)), r.w(o + 4));
            }
        }
        _ => return None,
    }
    Some(fmix(h))
}

/// An open-addressing table from 64-bit keys (already well mixed) to a pair of u32,
/// with inline slots: one cache miss per lookup on big bases, where a `HashMap`
/// costs two (control bytes, then the entry). First insertion of a key wins.
/// Slots with `b == 0` are empty, so stored `b` values must be non-zero.
#[derive(Debug, Default)]
pub(crate) struct OpenTable {
    slots: Vec<(u64, u32, u32)>,
    mask: usize,
}

impl OpenTable {
    fn with_entries(n: usize) -> OpenTable {
        let cap = (n.max(4) * 2).next_power_of_two();
        OpenTable { slots: vec![(0, 0, 0); cap], mask: cap - 1 }
    }

    /// Inserts `key → (a, b)` unless `key` is present; `b` must be non-zero.
    fn insert(&mut self, key: u64, a: u32, b: u32) {
        let mut i = key as usize & self.mask;
        loop {
            let Some(slot) = self.slots.get_mut(i) else { return };
            if slot.2 == 0 {
                *slot = (key, a, b);
                return;
            }
            if slot.0 == key {
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    #[inline]
    fn get(&self, key: u64) -> Option<(u32, u32)> {
        let mut i = key as usize & self.mask;
        for _ in 0..self.slots.len() {
            let &(k, a, b) = self.slots.get(i)?;
            if b == 0 {
                return None;
            }
            if k == key {
                return Some((a, b));
            }
            i = (i + 1) & self.mask;
        }
        None
    }
}

/// 64-bit hash of a string's bytes.
#[inline]
pub(crate) fn str_key(s: &[u8]) -> u64 {
    let mut h = IdHasher(0);
    h.write(s);
    h.finish()
}

/// `str_key` → first offset, over the strings of `base` and its own bases, in the
/// order `BaseStrings::new` visits them.
fn hash_strings(base: &Btf) -> OpenTable {
    // Sized by the exact string count (NULs per level, plus an unterminated tail), so
    // that the table stays as small, and as cache-friendly, as its load factor allows.
    let mut count = 0usize;
    let mut cur = Some(base);
    while let Some(b) = cur {
        count += memchr::memchr_iter(0, b.string_section()).count() + 1;
        cur = b.base().map(|a| a.as_ref());
    }
    let mut table = OpenTable::with_entries(count);
    for (off, s) in crate::builder::chain_strings(base) {
        table.insert(str_key(s), off, 1);
    }
    table
}

/// Everything `dedup` needs to know about one base, computed once.
///
/// Shareable across threads (`Send + Sync`); `dedup` only reads it.
pub struct BaseIndex {
    base: Arc<Btf>,
    strings: BaseStrings,
    /// Key → range in `cands`: the base types with that key, ascending ids.
    table: OpenTable,
    cands: Vec<u32>,
    /// STRUCT/UNION `name_off` → its id, or 0 when several share the name
    /// (the base part of `btf_dedup_fill_unique_names_map`).
    names: IdMap<u32, u32>,
    /// 64-bit content hash → offset of the first base string with that hash (a fast
    /// front for `strings`; a hit is verified, a collision falls back to `strings`).
    str_hash: OpenTable,
    /// Base-sized work arrays of finished `dedup` calls, handed to the next ones so
    /// that each call does not allocate and fill them again.
    scratch: Mutex<Vec<Scratch>>,
}

/// The base part (ids `0..=K`) of `dedup`'s id map and hypothetical map, in their
/// resting state: the map is the identity, the hypothetical map all `UNPROCESSED`.
#[derive(Debug)]
pub(crate) struct Scratch {
    pub(crate) map: Vec<u32>,
    pub(crate) hypot: Vec<u32>,
}

impl std::fmt::Debug for BaseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseIndex")
            .field("base", &self.base)
            .field("keys", &self.table.slots.len())
            .field("names", &self.names.len())
            .finish()
    }
}

impl BaseIndex {
    /// Indexes `base` (any BTF, base or split: the whole chain is the base).
    pub fn new(base: Arc<Btf>) -> BaseIndex {
        let strings = BaseStrings::new(&base);
        let order = base.byte_order();
        let last = base.last_id();
        let mut pairs: Vec<(u64, u32)> = Vec::with_capacity(last as usize);
        let mut names: IdMap<u32, u32> = IdMap::default();
        for id in 1..=last {
            let Some(t) = base.type_by_id(id) else {
                continue;
            };
            let r = Rec { b: t.bytes(), order };
            if let Some(key) = type_key(r) {
                pairs.push((key, id));
            }
            if matches!(r.kind(), K_STRUCT | K_UNION) {
                names.entry(r.name()).and_modify(|v| *v = 0).or_insert(id);
            }
        }
        pairs.sort_unstable();
        let keys = pairs.chunk_by(|a, b| a.0 == b.0).count();
        let mut table = OpenTable::with_entries(keys);
        let mut cands = Vec::with_capacity(pairs.len());
        let mut i = 0;
        while i < pairs.len() {
            let key = pairs[i].0;
            let start = cands.len() as u32;
            while i < pairs.len() && pairs[i].0 == key {
                cands.push(pairs[i].1);
                i += 1;
            }
            table.insert(key, start, cands.len() as u32 - start);
        }
        let str_hash = hash_strings(&base);
        BaseIndex { base, strings, table, cands, names, str_hash, scratch: Mutex::default() }
    }

    /// Work arrays in their resting state for a `dedup` call (reused or new).
    pub(crate) fn take_scratch(&self, unprocessed: u32) -> Scratch {
        let reused = self.scratch.lock().ok().and_then(|mut pool| pool.pop());
        reused.unwrap_or_else(|| {
            let k = self.base.last_id();
            Scratch { map: (0..=k).collect(), hypot: vec![unprocessed; k as usize + 1] }
        })
    }

    /// Returns work arrays, which the caller has put back in their resting state.
    pub(crate) fn give_back(&self, s: Scratch) {
        if let Ok(mut pool) = self.scratch.lock() {
            pool.push(s);
        }
    }

    /// The offset stored for a string hash, unverified: first step of finding a
    /// string's first base occurrence (as `BaseStrings::find`), separate so that
    /// callers can run many lookups back to back.
    #[inline]
    pub(crate) fn str_candidate(&self, key: u64) -> Option<u32> {
        self.str_hash.get(key).map(|(off, _)| off)
    }

    /// Second step: check the candidate's bytes (on a 64-bit hash
    /// collision, ask the exact index).
    #[inline]
    pub(crate) fn confirm_str(&self, cand: Option<u32>, s: &[u8]) -> Option<u32> {
        let off = cand?;
        if self.base.str_at(off) == Some(s) {
            Some(off)
        } else {
            self.strings.find(s)
        }
    }

    /// The base BTF.
    pub fn base(&self) -> &Arc<Btf> {
        &self.base
    }

    /// The base's string index (first occurrence of each string).
    pub fn strings(&self) -> &BaseStrings {
        &self.strings
    }

    /// Base types whose dedup key is `key`, ascending ids.
    #[inline]
    pub(crate) fn candidates(&self, key: u64) -> &[u32] {
        match self.table.get(key) {
            Some((s, n)) => self.cands.get(s as usize..(s + n) as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    /// The unique base STRUCT/UNION named `name_off` (0: several), if any.
    #[inline]
    pub(crate) fn unique_name(&self, name_off: u32) -> Option<u32> {
        self.names.get(&name_off).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<BaseIndex>();
    }
}
