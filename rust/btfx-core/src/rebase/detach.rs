//! `detach`: split BTF + the closure of the base types it reaches → standalone BTF with
//! ids from 1 (docs/rebase.md §3).

use crate::btf::Btf;
use crate::builder::TypeWriter;
use crate::error::{Error, Result};
use crate::kind::{limits, Kind};
use crate::rebase::base_index::IdMap;
use crate::rebase::remap_record;
use crate::rebase::shift::record_at;

/// The record of `id` anywhere in `btf`'s chain, with the level that owns it.
#[inline]
fn record_in(btf: &Btf, id: u32) -> Option<(Kind, u32, &[u8], &Btf)> {
    let mut b = btf;
    while id < b.start_id() {
        b = b.base()?.as_ref();
    }
    let (kind, vlen, rec) = record_at(b.type_section(), b.type_offset(id)?, b.byte_order())?;
    Some((kind, vlen, rec, b))
}

/// Base ids (below `split.start_id`) reachable from the split types through id fields,
/// transitively through the base types' own id fields; `reach[id]` is true for those.
pub fn reachable_base_ids(split: &Btf) -> Vec<bool> {
    reachable_from(split, &[]).0
}

/// Calls `visit` on every id field of a record; returns its first id past `last` (0: none).
#[inline]
fn visit_ids(
    kind: Kind,
    vlen: u32,
    rec: &[u8],
    order: crate::endian::ByteOrder,
    last: u32,
    mut visit: impl FnMut(u32),
) -> u32 {
    let mut bad = 0;
    kind.for_each_field(vlen, true, |o| {
        let x = order.u32_at(rec, o);
        if x > last && bad == 0 {
            bad = x;
        }
        visit(x);
    });
    bad
}

/// The first type, in detached order (base ids ascending, then split ids), with an id
/// field past `last`: (type id, that field's value).
type Dangling = Option<(u32, u32)>;

/// [`reachable_base_ids`] with extra base ids as roots; also reports dangling ids among
/// the types it visits (exactly the types `detach` keeps).
fn reachable_from(split: &Btf, roots: &[u32]) -> (Vec<bool>, Dangling) {
    let start = split.start_id();
    let last = split.last_id();
    let order = split.byte_order();
    let mut reach = vec![false; start as usize];
    let mut stack: Vec<u32> = Vec::new();
    let visit = |id: u32, reach: &mut Vec<bool>, stack: &mut Vec<u32>| {
        if id != 0 && id < start {
            if let Some(r) = reach.get_mut(id as usize) {
                if !*r {
                    *r = true;
                    stack.push(id);
                }
            }
        }
    };
    for &id in roots {
        visit(id, &mut reach, &mut stack);
    }
    let (mut bad_split, mut bad_base): (Dangling, Dangling) = (None, None);
    let sec = split.type_section();
    for (i, &off) in split.type_offsets().iter().enumerate() {
        let Some((kind, vlen, rec)) = record_at(sec, off, order) else { continue };
        let bad = visit_ids(kind, vlen, rec, order, last, |x| visit(x, &mut reach, &mut stack));
        if bad != 0 && bad_split.is_none() {
            bad_split = Some((start + i as u32, bad));
        }
    }
    while let Some(id) = stack.pop() {
        let Some((kind, vlen, rec, _)) = record_in(split, id) else { continue };
        let bad = visit_ids(kind, vlen, rec, order, last, |x| visit(x, &mut reach, &mut stack));
        if bad != 0 && bad_base.is_none_or(|(b, _)| id < b) {
            bad_base = Some((id, bad));
        }
    }
    (reach, bad_base.or(bad_split))
}

/// Detaches `split` from its base. The result's `btf` is standalone (ids from 1); its
/// `id_map` covers `0..=split.last_id` (unreached base ids map to 0).
pub fn detach(split: &Btf) -> Result<crate::rebase::Rebased> {
    detach_with_roots(split, &[])
}

/// The detached string table: a fresh base table (leading NUL) where every string is
/// interned once by content, in first-use order.
struct Strings<'a> {
    bytes: Vec<u8>,
    by_content: IdMap<&'a [u8], u32>,
    /// Old (chain-logical) offset → new offset, for offsets valid in the whole chain.
    by_old: IdMap<u32, u32>,
    /// (old, new) for every non-zero string field value met.
    str_map: Vec<(u32, u32)>,
}

impl<'a> Strings<'a> {
    fn new(capacity: usize) -> Self {
        let mut by_content = IdMap::with_capacity_and_hasher(capacity, Default::default());
        by_content.insert(&b""[..], 0);
        Strings {
            bytes: vec![0],
            by_content,
            by_old: IdMap::with_capacity_and_hasher(capacity, Default::default()),
            str_map: Vec::with_capacity(capacity),
        }
    }

    /// The new offset of old offset `s` of a record owned by `src`.
    #[inline]
    fn intern(&mut self, s: u32, src: &'a Btf) -> Result<u32> {
        if s == 0 {
            return Ok(0);
        }
        // An offset below the owner's end reads the same string at every level of the
        // chain; one past it reads as empty for this owner only (not cached).
        let cacheable = s < src.str_end();
        if cacheable {
            if let Some(&n) = self.by_old.get(&s) {
                return Ok(n);
            }
        }
        let text = if cacheable { src.str_at(s).unwrap_or(b"") } else { b"" };
        let n = match self.by_content.get(text) {
            Some(&n) => n,
            None => {
                let off = self.bytes.len() as u64;
                if off + text.len() as u64 > u64::from(limits::MAX_NAME_OFFSET) {
                    return Err(Error::input("string section exceeds BTF_MAX_NAME_OFFSET"));
                }
                self.bytes.extend_from_slice(text);
                self.bytes.push(0);
                self.by_content.insert(text, off as u32);
                off as u32
            }
        };
        if cacheable {
            self.by_old.insert(s, n);
        }
        self.str_map.push((s, n));
        Ok(n)
    }
}

/// [`detach`], also keeping the base types `roots` (and what they reach).
pub fn detach_with_roots(split: &Btf, roots: &[u32]) -> Result<crate::rebase::Rebased> {
    if !split.is_split() {
        return Err(Error::rebase(None, "BTF is not split: nothing to detach"));
    }
    let (reach, dangling) = reachable_from(split, roots);
    // A dangling id cannot be carried over (it would silently become void).
    if let Some((old, bad)) = dangling {
        return Err(Error::rebase(
            Some(old),
            format!("type [{old}] refers to id {bad} past the last id {}", split.last_id()),
        ));
    }
    let mut id_map = vec![0u32; split.type_cnt() as usize];
    let mut order: Vec<u32> = Vec::new();
    for (id, &r) in reach.iter().enumerate() {
        if r {
            order.push(id as u32);
        }
    }
    order.extend(split.start_id()..split.type_cnt());
    for (i, &old) in order.iter().enumerate() {
        if let Some(e) = id_map.get_mut(old as usize) {
            *e = i as u32 + 1;
        }
    }
    let byte_order = split.byte_order();
    let mut strs = Strings::new(order.len() * 2);
    let mut writer = TypeWriter::new(byte_order, split.type_section().len() + order.len() * 16);
    for &old in &order {
        // Records of a base in another byte order cannot be mixed in (parse forbids it).
        let Some((kind, vlen, src_rec, src)) = record_in(split, old) else {
            return Err(Error::rebase(Some(old), format!("type [{old}] cannot be read")));
        };
        let rec = writer.push_raw_mut(src_rec);
        let mut failed = None;
        remap_record(
            rec,
            kind,
            vlen,
            byte_order,
            |x| id_map.get(x as usize).copied().unwrap_or(0),
            |s| {
                strs.intern(s, src).unwrap_or_else(|e| {
                    failed.get_or_insert(e);
                    0
                })
            },
        );
        if let Some(e) = failed {
            return Err(e);
        }
    }
    let Strings { bytes, mut str_map, .. } = strs;
    str_map.sort_unstable();
    str_map.dedup();
    Ok(crate::rebase::Rebased { btf: writer.finish(&bytes), id_map, str_map })
}
