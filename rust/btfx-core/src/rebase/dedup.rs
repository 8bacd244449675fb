//! `dedup` rebase (docs/rebase.md §2): the type mapping libbpf's `btf__dedup` computes
//! for `btf__new_empty_split(base)` + `btf__add_btf(split, standalone)`, written anew
//! from its algorithm, with our own output conventions.
//!
//! Ids are handled in split numbering: standalone id `x` is `K + x`. A working copy of
//! the standalone type section holds those ids and *canonical* string values (the base
//! offset of the string's first occurrence, or a tag for strings the base lacks), so
//! that, as in libbpf after `btf_dedup_strings`, equal strings compare as equal words.
//!
//! Phases, as in libbpf: `btf_dedup_prep` (precomputed by [`BaseIndex`]),
//! `btf_dedup_prim_types`, `btf_dedup_struct_types` (with `btf_dedup_is_equiv` and
//! `btf_dedup_merge_hypot_map`), `btf_dedup_resolve_fwds`, `btf_dedup_ref_types`,
//! then compaction and remapping. Where libbpf walks a hash bucket, candidates are
//! visited lowest id first. The graph walks use explicit stacks, not recursion.

use crate::btf::Btf;
use crate::builder::TypeWriter;
use crate::error::{Error, Result};
use crate::kind::{limits, Kind};
use crate::rebase::base_index::*;
use crate::rebase::shift::{check_standalone, record_at};
use crate::rebase::{remap_record, Rebased};

/// Not yet processed (`BTF_UNPROCESSED_ID`).
const UNPROCESSED: u32 = u32::MAX;
/// On the current ref-type path (`BTF_IN_PROGRESS_ID`).
const IN_PROGRESS: u32 = u32::MAX - 1;
/// Map values up to this are ids (`is_type_mapped`).
const MAX_MAPPED: u32 = 0x7fff_ffff;
/// Canonical string values of strings the base lacks: `MOD_STR | index`.
const MOD_STR: u32 = 0x8000_0000;

/// Rebases standalone `m` onto the base of `index` by deduplication.
pub fn dedup(m: &Btf, index: &BaseIndex) -> Result<Rebased> {
    dedup_with(m, index, CandidateOrder::HighestFirst)
}

/// The order in which candidates sharing a dedup-table key are tried.
///
/// libbpf's hashmap prepends to its bucket chains, so real `btf__dedup` tries the most
/// recently added candidate first; `HighestFirst` (docs/rebase.md §2) reproduces that,
/// which makes our output identical to libbpf 1.1.2's where the order matters
/// (duplicated graphs with FWDs). `LowestFirst` is kept for tests of that difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CandidateOrder {
    #[allow(dead_code)]
    LowestFirst,
    HighestFirst,
}

pub(crate) fn dedup_with(m: &Btf, index: &BaseIndex, order: CandidateOrder) -> Result<Rebased> {
    check_standalone(m)?;
    let base = index.base().as_ref();
    if m.byte_order() != base.byte_order() {
        return Err(Error::rebase(None, "standalone BTF and base differ in byte order"));
    }
    let k = base.last_id();
    let n = m.nr_types();
    if u64::from(k) + u64::from(n) > u64::from(MAX_MAPPED) {
        return Err(Error::rebase(None, "too many types"));
    }
    let mut d = Dedup::new(m, index, order)?;
    d.prim_types();
    d.struct_types()?;
    d.resolve_fwds();
    d.ref_types()?;
    d.finish()
}

/// The string canonicalization of the standalone BTF.
struct Strings<'m> {
    /// Every non-zero string field value, sorted, unique.
    used: Vec<u32>,
    /// Canonical value by string offset (`UNSET` where no field points).
    canon_at: Vec<u32>,
    /// Contents of the strings the base lacks, by index.
    own: Vec<&'m [u8]>,
}

const UNSET: u32 = u32::MAX;

impl<'m> Strings<'m> {
    /// Canonicalizes every string field value of `m`. The base lookups run as
    /// separate tight loops (hash probe, then byte check) so that their cache misses
    /// overlap instead of queueing behind each other.
    fn new(m: &'m Btf, index: &BaseIndex) -> Strings<'m> {
        let order = m.byte_order();
        let mut canon_at = vec![UNSET; m.string_section().len()];
        let mut used = Vec::new();
        let sec = m.type_section();
        for &at in m.type_offsets() {
            let Some((kind, vlen, rec)) = record_at(sec, at, order) else { continue };
            kind.for_each_field(vlen, false, |o| {
                let off = order.u32_at(rec, o);
                if off == 0 {
                    return;
                }
                if let Some(slot) = canon_at.get_mut(off as usize) {
                    if *slot == UNSET {
                        *slot = 0;
                        used.push(off);
                    }
                }
            });
        }
        let strs: Vec<&'m [u8]> = used.iter().map(|&o| m.str_at(o).unwrap_or(b"")).collect();
        let keys: Vec<u64> = strs.iter().map(|s| str_key(s)).collect();
        let cands: Vec<Option<u32>> = keys.iter().map(|&k| index.str_candidate(k)).collect();
        let found: Vec<Option<u32>> =
            cands.iter().zip(&strs).map(|(&c, s)| index.confirm_str(c, s)).collect();
        let mut own: Vec<&'m [u8]> = Vec::new();
        let mut own_idx: IdMap<&'m [u8], u32> = IdMap::default();
        for ((&off, &s), f) in used.iter().zip(&strs).zip(found) {
            let v = match f {
                _ if s.is_empty() => 0,
                Some(b) => b,
                None => *own_idx.entry(s).or_insert_with(|| {
                    own.push(s);
                    MOD_STR | (own.len() as u32 - 1)
                }),
            };
            if let Some(slot) = canon_at.get_mut(off as usize) {
                *slot = v;
            }
        }
        used.sort_unstable();
        Strings { used, canon_at, own }
    }

    #[inline]
    fn canon_of(&self, off: u32) -> u32 {
        match self.canon_at.get(off as usize) {
            Some(&v) if v != UNSET => v,
            _ => 0,
        }
    }
}

struct Dedup<'a> {
    index: &'a BaseIndex,
    base: &'a Btf,
    order: crate::endian::ByteOrder,
    /// Last base id.
    k: u32,
    /// Standalone type section: ids in split numbering, canonical strings; reference
    /// types get their ids resolved in place during `ref_types`, as libbpf does.
    work: Vec<u8>,
    /// Record offset in `work` of split id `k + 1 + i`.
    offs: Vec<u32>,
    strings: Strings<'a>,
    /// `btf_dedup->map` over ids `0..=k+n` (base ids start mapped to themselves).
    map: Vec<u32>,
    /// Base ids whose `map` entry was changed (a base FWD or enum forward declaration
    /// resolved to a split type): restored before the map goes back to the index.
    base_touched: Vec<u32>,
    hypot: Vec<u32>,
    hypot_list: Vec<u32>,
    hypot_adjust_canon: bool,
    /// The split part of the dedup table: key → first node of an ascending list of
    /// canonical split ids in `nodes` (node index + 1; 0 ends a list).
    table: IdMap<u64, u32>,
    nodes: Vec<(u32, u32)>,
    ref_stack: Vec<(u32, usize)>,
    equiv_stack: Vec<(u32, u32)>,
    scratch: Vec<u32>,
    cand_order: CandidateOrder,
}

/// Puts the base part of the maps back in its resting state and hands it to the index.
impl Drop for Dedup<'_> {
    fn drop(&mut self) {
        self.clear_hypot();
        let k = self.k as usize;
        for &id in &self.base_touched {
            if let Some(e) = self.map.get_mut(id as usize) {
                *e = id;
            }
        }
        self.map.truncate(k + 1);
        self.hypot.truncate(k + 1);
        if self.map.len() == k + 1 && self.hypot.len() == k + 1 {
            let map = std::mem::take(&mut self.map);
            let hypot = std::mem::take(&mut self.hypot);
            self.index.give_back(Scratch { map, hypot });
        }
    }
}

impl<'a> Dedup<'a> {
    fn new(m: &'a Btf, index: &'a BaseIndex, cand_order: CandidateOrder) -> Result<Dedup<'a>> {
        let base = index.base().as_ref();
        let k = base.last_id();
        let order = m.byte_order();
        let strings = Strings::new(m, index);
        let n = m.nr_types() as usize;
        let mut work = m.type_section().to_vec();
        let mut offs = Vec::with_capacity(n);
        let Scratch { mut map, mut hypot } = index.take_scratch(UNPROCESSED);
        map.reserve(n);
        offs.extend_from_slice(m.type_offsets());
        for (i, &off) in offs.iter().enumerate() {
            let id = k + 1 + i as u32;
            let Some((kind, vlen, _)) = record_at(&work, off, order) else {
                map.push(UNPROCESSED);
                continue;
            };
            // libbpf `btf_dedup_new`: VAR and DATASEC are never deduplicated.
            let self_canon = matches!(kind, Kind::Var | Kind::Datasec);
            map.push(if self_canon { id } else { UNPROCESSED });
            let off = off as usize;
            let Some(rec) = work.get_mut(off..off + kind.record_size(vlen) as usize) else {
                continue;
            };
            remap_record(
                rec,
                kind,
                vlen,
                order,
                |x| if x == 0 { 0 } else { x + k },
                |s| strings.canon_of(s),
            );
        }
        hypot.resize(map.len(), UNPROCESSED);
        Ok(Dedup {
            index,
            base,
            order,
            k,
            work,
            offs,
            strings,
            map,
            hypot,
            base_touched: Vec::new(),
            hypot_list: Vec::new(),
            hypot_adjust_canon: false,
            table: IdMap::with_capacity_and_hasher(n, Default::default()),
            nodes: Vec::with_capacity(n),
            ref_stack: Vec::new(),
            equiv_stack: Vec::new(),
            scratch: Vec::new(),
            cand_order,
        })
    }

    fn last_id(&self) -> u32 {
        self.k + self.offs.len() as u32
    }

    /// The record of `id` (base or split; void and unknown ids read as zeros).
    #[inline]
    fn rec(&self, id: u32) -> Rec<'_> {
        let b: &[u8] = if id == 0 {
            &VOID_RECORD
        } else if id <= self.k {
            match self.base.type_by_id(id) {
                Some(t) => t.bytes(),
                None => &VOID_RECORD,
            }
        } else {
            let i = (id - self.k - 1) as usize;
            match self.offs.get(i) {
                Some(&off) => {
                    let end = self.offs.get(i + 1).map_or(self.work.len(), |&e| e as usize);
                    self.work.get(off as usize..end).unwrap_or(&VOID_RECORD)
                }
                None => &VOID_RECORD,
            }
        };
        Rec { b, order: self.order }
    }

    #[inline]
    fn kind_of(&self, id: u32) -> u32 {
        self.rec(id).kind()
    }

    #[inline]
    fn map_at(&self, id: u32) -> u32 {
        self.map.get(id as usize).copied().unwrap_or(UNPROCESSED)
    }

    #[inline]
    fn set_map(&mut self, id: u32, to: u32) {
        if let Some(e) = self.map.get_mut(id as usize) {
            *e = to;
            if id <= self.k {
                self.base_touched.push(id);
            }
        }
    }

    #[inline]
    fn is_mapped(&self, id: u32) -> bool {
        self.map_at(id) <= MAX_MAPPED
    }

    /// libbpf `resolve_type_id`: follow the map to a self-mapped (or unmapped) id.
    /// Bounded, so that a malformed map can never hang.
    #[inline]
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..self.map.len() {
            let next = self.map_at(id);
            if next > MAX_MAPPED || next == id {
                break;
            }
            id = next;
        }
        id
    }

    /// libbpf `resolve_fwd_id`: a FWD resolves to its STRUCT/UNION, if it has one.
    fn resolve_fwd(&self, id: u32) -> u32 {
        if self.kind_of(id) != K_FWD {
            return id;
        }
        let r = self.resolve(id);
        if self.kind_of(r) != K_FWD {
            r
        } else {
            id
        }
    }

    /// Candidates for `key`, lowest id first: base ones, then split ones.
    fn candidates(&mut self, key: u64) -> Vec<u32> {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.extend_from_slice(self.index.candidates(key));
        let mut next = self.table.get(&key).copied().unwrap_or(0);
        while let Some(&(id, after)) = self.nodes.get((next as usize).wrapping_sub(1)) {
            out.push(id);
            next = after;
        }
        if self.cand_order == CandidateOrder::HighestFirst {
            out.reverse();
        }
        out
    }

    fn table_add(&mut self, key: u64, id: u32) {
        let node = self.nodes.len() as u32 + 1;
        let head = self.table.entry(key).or_insert(0);
        // Keep the list ascending: find the link to rewrite.
        let mut prev: Option<usize> = None;
        let mut cur = *head;
        while let Some(&(x, after)) = self.nodes.get((cur as usize).wrapping_sub(1)) {
            if x > id {
                break;
            }
            prev = Some(cur as usize - 1);
            cur = after;
        }
        self.nodes.push((id, cur));
        match prev.and_then(|p| self.nodes.get_mut(p)) {
            Some(p) => p.1 = node,
            None => *head = node,
        }
    }

    fn split_ids(&self) -> std::ops::RangeInclusive<u32> {
        self.k + 1..=self.last_id()
    }

    // ---- btf_dedup_prim_types ----

    fn prim_types(&mut self) {
        for id in self.split_ids() {
            self.prim_type(id);
        }
    }

    fn prim_type(&mut self, id: u32) {
        let t = self.rec(id);
        let kind = t.kind();
        if !matches!(kind, K_INT | K_ENUM | K_ENUM64 | K_FWD | K_FLOAT) {
            return;
        }
        let Some(key) = type_key(t) else { return };
        let cands = self.candidates(key);
        let mut new_id = id;
        for &c in &cands {
            let t = self.rec(id);
            let cand = self.rec(c);
            match kind {
                K_INT => {
                    if equal_int_tag(t, cand) {
                        new_id = c;
                        break;
                    }
                }
                K_ENUM | K_ENUM64 => {
                    if equal_enum(t, cand) {
                        new_id = c;
                        break;
                    }
                    if compat_enum(t, cand) {
                        if is_enum_fwd(t) {
                            // An enum forward declaration resolves to the full enum.
                            new_id = c;
                            break;
                        }
                        // A canonical enum forward declaration resolves to this enum.
                        self.set_map(c, id);
                    }
                }
                _ => {
                    if equal_common(t, cand) {
                        new_id = c;
                        break;
                    }
                }
            }
        }
        self.scratch = cands;
        self.set_map(id, new_id);
        if new_id == id {
            self.table_add(key, id);
        }
    }

    // ---- btf_dedup_struct_types ----

    fn struct_types(&mut self) -> Result<()> {
        for id in self.split_ids() {
            self.struct_type(id)?;
        }
        Ok(())
    }

    fn struct_type(&mut self, id: u32) -> Result<()> {
        if self.is_mapped(id) {
            return Ok(());
        }
        let t = self.rec(id);
        if !matches!(t.kind(), K_STRUCT | K_UNION) {
            return Ok(());
        }
        let Some(key) = type_key(t) else {
            return Ok(());
        };
        let cands = self.candidates(key);
        let mut new_id = id;
        let mut result = Ok(());
        for &c in &cands {
            // Guard against a FWD (or anything else) sharing the bucket.
            if !shallow_equal_struct(self.rec(id), self.rec(c)) {
                continue;
            }
            self.clear_hypot();
            match self.is_equiv(id, c) {
                Err(e) => {
                    result = Err(e);
                    break;
                }
                Ok(false) => continue,
                Ok(true) => {}
            }
            self.merge_hypot();
            if self.hypot_adjust_canon {
                // Equivalent only if a base FWD were resolved: the base is immutable.
                continue;
            }
            new_id = c;
            break;
        }
        self.scratch = cands;
        result?;
        self.set_map(id, new_id);
        if new_id == id {
            self.table_add(key, id);
        }
        Ok(())
    }

    fn clear_hypot(&mut self) {
        for &c in &self.hypot_list {
            if let Some(e) = self.hypot.get_mut(c as usize) {
                *e = UNPROCESSED;
            }
        }
        self.hypot_list.clear();
        self.hypot_adjust_canon = false;
    }

    fn hypot_add(&mut self, canon: u32, cand: u32) {
        if let Some(e) = self.hypot.get_mut(canon as usize) {
            *e = cand;
            self.hypot_list.push(canon);
        }
    }

    /// libbpf `btf_dedup_is_equiv`: are the graphs from `cand` (the split type being
    /// deduplicated) and `canon` (a canonical candidate) equivalent? Records the
    /// hypothetical canonical → candidate mapping on the way. libbpf recurses; this
    /// walks the same pairs in the same (depth-first, field) order with a stack, and
    /// stops at the first mismatch as libbpf's early returns do.
    fn is_equiv(&mut self, cand: u32, canon: u32) -> Result<bool> {
        let mut stack = std::mem::take(&mut self.equiv_stack);
        stack.clear();
        stack.push((cand, canon));
        let r = self.is_equiv_with(&mut stack);
        self.equiv_stack = stack;
        r
    }

    fn is_equiv_with(&mut self, stack: &mut Vec<(u32, u32)>) -> Result<bool> {
        while let Some((cand_id, canon_id)) = stack.pop() {
            if self.resolve(cand_id) == self.resolve(canon_id) {
                continue;
            }
            let canon_id = self.resolve_fwd(canon_id);
            let hypot = self.hypot.get(canon_id as usize).copied().unwrap_or(UNPROCESSED);
            if hypot <= MAX_MAPPED {
                if hypot == cand_id
                    || self.identical_arrays(hypot, cand_id)
                    || self.identical_structs(hypot, cand_id)
                {
                    continue;
                }
                return Ok(false);
            }
            self.hypot_add(canon_id, cand_id);
            let ct = self.rec(cand_id);
            let nt = self.rec(canon_id);
            let (ck, nk) = (ct.kind(), nt.kind());
            if ct.name() != nt.name() {
                return Ok(false);
            }
            if (ck == K_FWD || nk == K_FWD) && ck != nk {
                let (real, fwd) = if ck == K_FWD {
                    (nk, fwd_kind(ct))
                } else {
                    let fwd = fwd_kind(nt);
                    if fwd == ck && canon_id <= self.k {
                        // Would need to resolve a base FWD into a split STRUCT/UNION.
                        self.hypot_adjust_canon = true;
                    }
                    (ck, fwd)
                };
                if fwd != real {
                    return Ok(false);
                }
                continue;
            }
            if ck != nk {
                return Ok(false);
            }
            let eq = match ck {
                K_INT => equal_int_tag(ct, nt),
                K_ENUM | K_ENUM64 => compat_enum(ct, nt),
                K_FWD | K_FLOAT => equal_common(ct, nt),
                K_CONST | K_VOLATILE | K_RESTRICT | K_PTR | K_TYPEDEF | K_FUNC | K_TYPE_TAG => {
                    if ct.info() != nt.info() {
                        return Ok(false);
                    }
                    stack.push((ct.st(), nt.st()));
                    true
                }
                K_ARRAY => {
                    if !compat_array(ct, nt) {
                        return Ok(false);
                    }
                    // Index type first, then element type (pushed in reverse).
                    stack.push((ct.w(12), nt.w(12)));
                    stack.push((ct.w(16), nt.w(16)));
                    true
                }
                K_STRUCT | K_UNION => {
                    if !shallow_equal_struct(ct, nt) {
                        return Ok(false);
                    }
                    for i in (0..ct.vlen()).rev() {
                        let o = 12 + 12 * i + 4;
                        stack.push((ct.w(o), nt.w(o)));
                    }
                    true
                }
                K_FUNC_PROTO => {
                    if !compat_fnproto(ct, nt) {
                        return Ok(false);
                    }
                    for i in (0..ct.vlen()).rev() {
                        let o = 12 + 8 * i + 4;
                        stack.push((ct.w(o), nt.w(o)));
                    }
                    stack.push((ct.st(), nt.st()));
                    true
                }
                _ => {
                    return Err(self.fail(
                        cand_id,
                        format!(
                            "libbpf btf__dedup fails (EINVAL): cannot compare {} types",
                            kind_name(ck)
                        ),
                    ))
                }
            };
            if !eq {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// libbpf `btf_dedup_identical_arrays`.
    fn identical_arrays(&self, a: u32, b: u32) -> bool {
        let (ta, tb) = (self.rec(a), self.rec(b));
        ta.kind() == K_ARRAY && tb.kind() == K_ARRAY && equal_array(ta, tb)
    }

    /// libbpf `btf_dedup_identical_structs` (1.1): same STRUCT/UNION shape, and each member
    /// pair is the same id, identical arrays, or (recursively) identical structs. Walked
    /// with an explicit stack; a pair met again while being compared counts as identical.
    fn identical_structs(&self, a: u32, b: u32) -> bool {
        let mut stack = vec![(a, b)];
        let mut seen: std::collections::HashSet<(u32, u32), IdBuild> = Default::default();
        while let Some((x, y)) = stack.pop() {
            if !seen.insert((x, y)) {
                continue;
            }
            let (tx, ty) = (self.rec(x), self.rec(y));
            if !matches!(tx.kind(), K_STRUCT | K_UNION) || tx.kind() != ty.kind() {
                return false;
            }
            if !shallow_equal_struct(tx, ty) {
                return false;
            }
            for i in 0..tx.vlen() {
                let o = 12 + 12 * i + 4;
                let (mx, my) = (tx.w(o), ty.w(o));
                if mx != my && !self.identical_arrays(mx, my) {
                    stack.push((mx, my));
                }
            }
        }
        true
    }

    /// libbpf `btf_dedup_merge_hypot_map`: record FWD → STRUCT/UNION resolutions and,
    /// as a shortcut, STRUCT/UNION mappings found by a successful `is_equiv`.
    fn merge_hypot(&mut self) {
        for i in 0..self.hypot_list.len() {
            let canon = self.hypot_list[i];
            let targ = self.hypot.get(canon as usize).copied().unwrap_or(UNPROCESSED);
            let t_id = self.resolve(targ);
            let c_id = self.resolve(canon);
            let t_kind = self.kind_of(t_id);
            let c_kind = self.kind_of(c_id);
            // A FWD on the canonical side (even a base one) points to the STRUCT/UNION.
            if t_kind != K_FWD && c_kind == K_FWD {
                self.set_map(c_id, t_id);
            }
            if self.hypot_adjust_canon {
                continue;
            }
            if t_kind == K_FWD && c_kind != K_FWD {
                self.set_map(t_id, c_id);
            }
            if matches!(t_kind, K_STRUCT | K_UNION)
                && c_kind != K_FWD
                && self.is_mapped(c_id)
                && !self.is_mapped(t_id)
            {
                self.set_map(t_id, c_id);
            }
        }
    }

    // ---- btf_dedup_resolve_fwds ----

    fn resolve_fwds(&mut self) {
        // Split part of `btf_dedup_fill_unique_names_map`; the base part is in the index.
        let mut names: IdMap<u32, u32> = IdMap::default();
        for id in self.split_ids() {
            let t = self.rec(id);
            if matches!(t.kind(), K_STRUCT | K_UNION) && self.map_at(id) == id {
                names.entry(t.name()).and_modify(|v| *v = 0).or_insert(id);
            }
        }
        for id in self.split_ids() {
            let t = self.rec(id);
            if t.kind() != K_FWD || self.map_at(id) != id {
                continue;
            }
            let name = t.name();
            let cand = match (self.index.unique_name(name), names.get(&name)) {
                (Some(_), Some(_)) => 0,
                (Some(b), None) => b,
                (None, Some(&s)) => s,
                (None, None) => continue,
            };
            if cand == 0 {
                continue;
            }
            let ck = self.kind_of(cand);
            let fk = fwd_kind(t);
            if (ck == K_STRUCT && fk != K_STRUCT) || (ck == K_UNION && fk != K_UNION) {
                continue;
            }
            self.set_map(id, cand);
        }
    }

    // ---- btf_dedup_ref_types ----

    fn ref_types(&mut self) -> Result<()> {
        for id in self.split_ids() {
            self.ref_type(id)?;
        }
        Ok(())
    }

    /// Byte offset of split `id`'s record in `work`.
    fn work_off(&self, id: u32) -> Option<usize> {
        let i = id.checked_sub(self.k + 1)? as usize;
        self.offs.get(i).map(|&o| o as usize)
    }

    /// Offset of the `i`-th id field `ref_type` resolves, in libbpf's order (ARRAY:
    /// element then index type; FUNC_PROTO: return type then parameters).
    fn ref_field(&self, id: u32, i: usize) -> Option<usize> {
        let t = self.rec(id);
        match t.kind() {
            K_ARRAY => [12, 16].get(i).copied(),
            K_FUNC_PROTO => match i {
                0 => Some(8),
                _ if i <= t.vlen() => Some(12 + 8 * (i - 1) + 4),
                _ => None,
            },
            _ => (i == 0).then_some(8),
        }
    }

    /// Enter `id`: `Ok(Some(resolved))` when already processed, `Ok(None)` when it
    /// starts being processed now.
    fn ref_enter(&mut self, id: u32) -> Result<Option<u32>> {
        let m = self.map_at(id);
        if m == IN_PROGRESS {
            return Err(self.fail(id, "libbpf btf__dedup fails (ELOOP): reference type loop"));
        }
        if m <= MAX_MAPPED {
            return Ok(Some(self.resolve(id)));
        }
        let kind = self.kind_of(id);
        if !matches!(
            kind,
            K_CONST
                | K_VOLATILE
                | K_RESTRICT
                | K_PTR
                | K_TYPEDEF
                | K_FUNC
                | K_TYPE_TAG
                | K_DECL_TAG
                | K_ARRAY
                | K_FUNC_PROTO
        ) {
            return Err(self.fail(
                id,
                format!("libbpf btf__dedup fails (EINVAL): unexpected {} type", kind_name(kind)),
            ));
        }
        self.set_map(id, IN_PROGRESS);
        Ok(None)
    }

    /// libbpf `btf_dedup_ref_type` with an explicit stack: resolve the referenced ids
    /// (post-order, fields in order), write them into the record, then look for an
    /// exactly equal canonical type.
    fn ref_type(&mut self, root: u32) -> Result<u32> {
        if let Some(r) = self.ref_enter(root)? {
            return Ok(r);
        }
        // Frames: (id, index of the next id field to resolve).
        let mut stack = std::mem::take(&mut self.ref_stack);
        stack.clear();
        stack.push((root, 0usize));
        let mut done: Option<u32> = None;
        let mut result = Ok(());
        while let Some(top) = stack.last_mut() {
            let (id, i) = *top;
            let field = self.ref_field(id, i);
            if let Some(v) = done.take() {
                // The child at field `i` resolved to `v`.
                top.1 += 1;
                if let Some(field) = field {
                    self.write_field(id, field, v);
                }
                continue;
            }
            if let Some(field) = field {
                let child = self.rec(id).w(field);
                match self.ref_enter(child) {
                    Ok(Some(v)) => done = Some(v),
                    Ok(None) => stack.push((child, 0)),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
                continue;
            }
            let new_id = self.ref_finish(id);
            stack.pop();
            done = Some(new_id);
        }
        self.ref_stack = stack;
        result?;
        Ok(done.unwrap_or_else(|| self.resolve(root)))
    }

    fn write_field(&mut self, id: u32, field: usize, v: u32) {
        if let Some(off) = self.work_off(id) {
            self.order.set_u32(&mut self.work, off + field, v);
        }
    }

    /// Second half of `btf_dedup_ref_type`: find an equal canonical type or become one.
    fn ref_finish(&mut self, id: u32) -> u32 {
        let t = self.rec(id);
        let kind = t.kind();
        let Some(key) = type_key(t) else {
            self.set_map(id, id);
            return id;
        };
        let cands = self.candidates(key);
        let mut new_id = id;
        for &c in &cands {
            let (t, cand) = (self.rec(id), self.rec(c));
            let eq = match kind {
                K_DECL_TAG => equal_int_tag(t, cand),
                K_ARRAY => equal_array(t, cand),
                K_FUNC_PROTO => equal_fnproto(t, cand),
                _ => equal_common(t, cand),
            };
            if eq {
                new_id = c;
                break;
            }
        }
        self.scratch = cands;
        self.set_map(id, new_id);
        if new_id == id {
            self.table_add(key, id);
        }
        new_id
    }

    // ---- compaction, remapping, output ----

    fn finish(&mut self) -> Result<Rebased> {
        let k = self.k;
        let n = self.offs.len();
        // New id of each kept split type (`btf_dedup_compact_types`).
        let mut new_of = vec![0u32; n];
        let mut next = k;
        for (i, slot) in new_of.iter_mut().enumerate() {
            let id = k + 1 + i as u32;
            if self.map_at(id) == id {
                next += 1;
                *slot = next;
            }
        }
        let kept = next - k;
        if next > limits::MAX_TYPE_ID {
            return Err(Error::rebase(
                None,
                format!(
                    "{k} base types + {kept} kept types exceed BTF_MAX_TYPE ({:#x})",
                    limits::MAX_TYPE_ID
                ),
            ));
        }
        // `btf_dedup_remap_type_id`: resolve, then compact.
        let final_id = |id: u32| -> Option<u32> {
            let r = self.resolve(id);
            if r <= k {
                Some(r)
            } else {
                new_of.get((r - k - 1) as usize).copied().filter(|&x| x != 0)
            }
        };
        let mut id_map = Vec::with_capacity(n + 1);
        id_map.push(0);
        for x in 1..=n as u32 {
            match final_id(k + x) {
                Some(v) => id_map.push(v),
                None => {
                    return Err(Error::rebase(
                        Some(x),
                        "dedup left a type without a canonical image",
                    ))
                }
            }
        }

        // Strings: walk kept types in new order, fields in record order.
        let l = self.base.str_end();
        let mut own_out = vec![u32::MAX; self.strings.own.len()];
        let mut str_bytes: Vec<u8> = Vec::new();
        let mut out_str = |canon: u32, bytes: &mut Vec<u8>| -> Result<u32> {
            if canon & MOD_STR == 0 {
                return Ok(canon);
            }
            let i = (canon & !MOD_STR) as usize;
            let Some(slot) = own_out.get_mut(i) else {
                return Ok(0);
            };
            if *slot == u32::MAX {
                let off = u64::from(l) + bytes.len() as u64;
                // The kernel limit applies to the last byte (the NUL) of the string.
                let last = off + self.strings.own[i].len() as u64;
                if last > u64::from(limits::MAX_NAME_OFFSET) {
                    return Err(Error::rebase(
                        None,
                        format!(
                            "string offset {off} exceeds BTF_MAX_NAME_OFFSET ({:#x})",
                            limits::MAX_NAME_OFFSET
                        ),
                    ));
                }
                bytes.extend_from_slice(self.strings.own[i]);
                bytes.push(0);
                *slot = off as u32;
            }
            Ok(*slot)
        };

        let mut w = TypeWriter::new(self.order, self.work.len());
        let mut rec_buf: Vec<u8> = Vec::new();
        for (i, &slot) in new_of.iter().enumerate() {
            if slot == 0 {
                continue;
            }
            let id = k + 1 + i as u32;
            let t = self.rec(id);
            let kind = Kind::from_raw(t.kind());
            rec_buf.clear();
            rec_buf.extend_from_slice(t.b);
            let Some(kind) = kind else { continue };
            let vlen = t.vlen() as u32;
            let order = self.order;
            // Strings first, in record order (name_off, then elements).
            let mut failed = None;
            kind.for_each_field(vlen, false, |off| {
                let c = order.u32_at(&rec_buf, off);
                match out_str(c, &mut str_bytes) {
                    Ok(v) => order.set_u32(&mut rec_buf, off, v),
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            let mut bad = None;
            kind.for_each_field(vlen, true, |off| {
                let x = order.u32_at(&rec_buf, off);
                match final_id(x) {
                    Some(v) => order.set_u32(&mut rec_buf, off, v),
                    None if x == 0 => {}
                    None => bad = Some(x),
                }
            });
            if let Some(x) = bad {
                return Err(Error::rebase(
                    Some(id - k),
                    format!("dedup left reference {x} without a canonical image"),
                ));
            }
            w.push_raw(&rec_buf);
        }

        // String map over every non-zero string field value of the standalone BTF.
        let mut str_map = Vec::with_capacity(self.strings.used.len());
        for &old in &self.strings.used {
            let canon = self.strings.canon_of(old);
            str_map.push((old, out_str(canon, &mut str_bytes)?));
        }
        let btf = w.finish(&str_bytes);
        Ok(Rebased { btf, id_map, str_map })
    }

    fn fail(&self, id: u32, msg: impl Into<String>) -> Error {
        let orig = id.checked_sub(self.k).filter(|&x| x > 0);
        Error::rebase(orig, msg)
    }
}

fn kind_name(k: u32) -> &'static str {
    Kind::from_raw(k).map_or("UNKN", Kind::name)
}

// ---- libbpf's structural comparisons (`btf_equal_*`, `btf_compat_*`) ----

/// `btf_fwd_kind`.
fn fwd_kind(t: Rec<'_>) -> u32 {
    if t.kflag() {
        K_UNION
    } else {
        K_STRUCT
    }
}

/// `btf_equal_common`: name, info and size/type word.
fn equal_common(a: Rec<'_>, b: Rec<'_>) -> bool {
    a.name() == b.name() && a.info() == b.info() && a.st() == b.st()
}

/// `btf_equal_int_tag`: common part plus the INT data / DECL_TAG component index.
fn equal_int_tag(a: Rec<'_>, b: Rec<'_>) -> bool {
    equal_common(a, b) && a.w(12) == b.w(12)
}

/// `btf_equal_enum`: common part and every value (names and values).
fn equal_enum(a: Rec<'_>, b: Rec<'_>) -> bool {
    if !equal_common(a, b) {
        return false;
    }
    let (step, words) = if a.kind() == K_ENUM { (8, 2) } else { (12, 3) };
    (0..a.vlen())
        .all(|i| (0..words).all(|j| a.w(12 + step * i + 4 * j) == b.w(12 + step * i + 4 * j)))
}

/// `btf_is_enum_fwd`.
fn is_enum_fwd(t: Rec<'_>) -> bool {
    matches!(t.kind(), K_ENUM | K_ENUM64) && t.vlen() == 0
}

/// `btf_compat_enum`: equal, or same name (the empty name of anonymous enums included)
/// when either side is a forward declaration (kflag, i.e. signedness, size and kind may
/// differ then).
fn compat_enum(a: Rec<'_>, b: Rec<'_>) -> bool {
    if !is_enum_fwd(a) && !is_enum_fwd(b) {
        return equal_enum(a, b);
    }
    a.name() == b.name()
        && matches!(a.kind(), K_ENUM | K_ENUM64)
        && matches!(b.kind(), K_ENUM | K_ENUM64)
}

/// `btf_shallow_equal_struct`: common part, member names and offsets.
fn shallow_equal_struct(a: Rec<'_>, b: Rec<'_>) -> bool {
    if !equal_common(a, b) {
        return false;
    }
    (0..a.vlen()).all(|i| {
        let o = 12 + 12 * i;
        a.w(o) == b.w(o) && a.w(o + 8) == b.w(o + 8)
    })
}

/// `btf_equal_array`: common part, element and index type ids, element count.
fn equal_array(a: Rec<'_>, b: Rec<'_>) -> bool {
    equal_common(a, b) && a.w(12) == b.w(12) && a.w(16) == b.w(16) && a.w(20) == b.w(20)
}

/// `btf_compat_array`: like `equal_array` but ignoring type ids.
fn compat_array(a: Rec<'_>, b: Rec<'_>) -> bool {
    equal_common(a, b) && a.w(20) == b.w(20)
}

/// `btf_equal_fnproto`: common part (incl. return type), parameter names and types.
fn equal_fnproto(a: Rec<'_>, b: Rec<'_>) -> bool {
    if !equal_common(a, b) {
        return false;
    }
    (0..a.vlen()).all(|i| {
        let o = 12 + 8 * i;
        a.w(o) == b.w(o) && a.w(o + 4) == b.w(o + 4)
    })
}

/// `btf_compat_fnproto`: name, info and parameter names (no type ids).
fn compat_fnproto(a: Rec<'_>, b: Rec<'_>) -> bool {
    if a.name() != b.name() || a.info() != b.info() {
        return false;
    }
    (0..a.vlen()).all(|i| {
        let o = 12 + 8 * i;
        a.w(o) == b.w(o)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::builder::{StrTable, TypeWriter};
    use crate::endian::ByteOrder;

    use crate::kind::test_info::*;

    /// Hand-built BTF: each method appends one type and returns its id.
    struct B {
        w: TypeWriter,
        s: StrTable<'static>,
        next: u32,
    }

    impl B {
        fn new() -> B {
            B { w: TypeWriter::new(ByteOrder::Little, 0), s: StrTable::new_base(), next: 1 }
        }
        fn name(&mut self, n: &str) -> u32 {
            self.s.intern(n.as_bytes()).unwrap()
        }
        fn raw(&mut self, name: &str, info: u32, st: u32, rest: &[u32]) -> u32 {
            let n = self.name(name);
            let mut words = vec![n, info, st];
            words.extend_from_slice(rest);
            self.w.push(&words);
            self.next += 1;
            self.next - 1
        }
        fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
            let enc = if signed { 1 << 24 } else { 0 };
            self.raw(name, INT, size, &[enc | (size * 8)])
        }
        fn ptr(&mut self, to: u32) -> u32 {
            self.raw("", PTR, to, &[])
        }
        fn konst(&mut self, to: u32) -> u32 {
            self.raw("", CONST, to, &[])
        }
        fn typedef(&mut self, name: &str, to: u32) -> u32 {
            self.raw(name, TYPEDEF, to, &[])
        }
        fn fwd(&mut self, name: &str, union: bool) -> u32 {
            self.raw(name, FWD | if union { KFLAG } else { 0 }, 0, &[])
        }
        fn array(&mut self, elem: u32, index: u32, n: u32) -> u32 {
            self.raw("", ARRAY, 0, &[elem, index, n])
        }
        /// Members: (name, type, bit offset, bitfield size).
        fn composite(
            &mut self,
            kind: u32,
            name: &str,
            size: u32,
            m: &[(&str, u32, u32, u32)],
        ) -> u32 {
            let kflag = m.iter().any(|x| x.3 != 0);
            let mut rest = Vec::new();
            for &(n, t, off, bits) in m {
                rest.extend_from_slice(&[
                    self.name(n),
                    t,
                    if kflag { bits << 24 | off } else { off },
                ]);
            }
            let info = kind | m.len() as u32 | if kflag { KFLAG } else { 0 };
            self.raw(name, info, size, &rest)
        }
        fn strukt(&mut self, name: &str, size: u32, m: &[(&str, u32, u32)]) -> u32 {
            let m: Vec<_> = m.iter().map(|&(n, t, o)| (n, t, o, 0)).collect();
            self.composite(STRUCT, name, size, &m)
        }
        fn enm(&mut self, name: &str, vals: &[(&str, u32)]) -> u32 {
            let mut rest = Vec::new();
            for &(n, v) in vals {
                rest.extend_from_slice(&[self.name(n), v]);
            }
            self.raw(name, ENUM | vals.len() as u32, 4, &rest)
        }
        fn proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
            let mut rest = Vec::new();
            for &(n, t) in params {
                rest.extend_from_slice(&[self.name(n), t]);
            }
            self.raw("", FUNC_PROTO | params.len() as u32, ret, &rest)
        }
        fn build(self) -> Btf {
            let blob = self.w.finish(self.s.bytes());
            Btf::from_slice(&blob, None).unwrap()
        }
    }

    /// Base used by most tests:
    /// [1] int, [2] list_head {next,prev: [3]}, [3] *list_head, [4] foo {a: int, l: list_head},
    /// [5] *foo, [6] enum e {A=1,B=2}, [7] anon struct {x: int}, [8] bf {a:3, b:5 bits},
    /// [9] unsigned int, [10] FWD bar, [11] proto int(*)(struct foo *), [12] typedef foo_t.
    fn base() -> Arc<Btf> {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        b.strukt("list_head", 16, &[("next", 3, 0), ("prev", 3, 64)]);
        b.ptr(2);
        b.strukt("foo", 24, &[("a", int, 0), ("l", 2, 64)]);
        b.ptr(4);
        b.enm("e", &[("A", 1), ("B", 2)]);
        b.strukt("", 4, &[("x", int, 0)]);
        b.composite(STRUCT, "bf", 4, &[("a", 9, 0, 3), ("b", 9, 3, 5)]);
        b.int("unsigned int", 4, false);
        b.fwd("bar", false);
        b.proto(int, &[("f", 5)]);
        b.typedef("foo_t", 4);
        Arc::new(b.build())
    }

    fn base_off(base: &Btf, s: &[u8]) -> u32 {
        crate::builder::BaseStrings::new(base).find(s).unwrap()
    }

    fn run(base: &Arc<Btf>, m: &Btf) -> (Rebased, Btf) {
        let index = BaseIndex::new(base.clone());
        let r = dedup(m, &index).unwrap();
        let out = Btf::from_slice(&r.btf, Some(base.clone())).unwrap();
        (r, out)
    }

    /// A standalone copy of the base's list_head/foo graph.
    fn foo_graph(b: &mut B) -> (u32, u32, u32) {
        let int = b.int("int", 4, true);
        let lh = b.strukt("list_head", 16, &[("next", int + 2, 0), ("prev", int + 2, 64)]);
        b.ptr(lh);
        let foo = b.strukt("foo", 24, &[("a", int, 0), ("l", lh, 64)]);
        (int, lh, foo)
    }

    #[test]
    fn identical_struct_maps_to_base() {
        let base = base();
        let mut b = B::new();
        let (int, lh, foo) = foo_graph(&mut b);
        let (r, out) = run(&base, &b.build());
        assert_eq!(out.nr_types(), 0);
        assert_eq!(r.id_map, vec![0, 1, 2, 3, 4]);
        assert_eq!(
            (r.id_map[int as usize], r.id_map[lh as usize], r.id_map[foo as usize]),
            (1, 2, 4)
        );
        // Empty split BTF: header only, no strings.
        assert_eq!(r.btf.len(), 24);
        assert!(r.str_map.iter().all(|&(_, new)| new < base.str_end()));
    }

    #[test]
    fn pointer_to_base_struct_maps_to_base_ptr() {
        let base = base();
        let mut b = B::new();
        let (_, _, foo) = foo_graph(&mut b);
        let p = b.ptr(foo);
        let proto = b.proto(1, &[("f", p)]);
        let td = b.typedef("foo_t", foo);
        let (r, out) = run(&base, &b.build());
        assert_eq!(out.nr_types(), 0);
        assert_eq!(
            (r.id_map[p as usize], r.id_map[proto as usize], r.id_map[td as usize]),
            (5, 11, 12)
        );
    }

    #[test]
    fn differing_struct_stays() {
        let base = base();
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let foo = b.strukt("foo", 24, &[("a", int, 32)]); // other offset, other vlen
        let p = b.ptr(foo);
        let (r, out) = run(&base, &b.build());
        let k = base.last_id();
        assert_eq!(out.nr_types(), 2);
        assert_eq!(r.id_map, vec![0, 1, k + 1, k + 2]);
        let t = out.type_by_id(k + 1).unwrap();
        assert_eq!(t.name(), b"foo");
        assert_eq!(t.members().next().unwrap().type_id, 1);
        assert_eq!(out.type_by_id(k + 2).unwrap().type_id(), Some(k + 1));
        // "foo" and "a" are base strings: no new strings.
        assert_eq!(out.header().str_len, 0);
        let _ = p;
    }

    #[test]
    fn duplicates_collapse_and_strings_follow_the_contract() {
        let base = base();
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let m1 = b.strukt("mine", 8, &[("zz", int, 0), ("a", int, 32)]);
        let m2 = b.strukt("mine", 8, &[("zz", int, 0), ("a", int, 32)]);
        let p1 = b.ptr(m1);
        let p2 = b.ptr(m2);
        let o = b.strukt("other", 4, &[("yy", int, 0)]);
        let m = b.build();
        let (r, out) = run(&base, &m);
        let k = base.last_id();
        assert_eq!(out.nr_types(), 3);
        assert_eq!(r.id_map, vec![0, 1, k + 1, k + 1, k + 2, k + 2, k + 3]);
        let _ = (m2, p1, p2, o);
        // Strings: "mine" then "zz" (first use, record order), "a" is a base string,
        // "other", "yy"; no leading NUL; absolute offsets from L.
        let l = base.str_end();
        assert_eq!(out.string_section(), b"mine\0zz\0other\0yy\0");
        let t = out.type_by_id(k + 1).unwrap();
        assert_eq!(t.name_off(), l);
        let names: Vec<u32> = t.members().map(|x| x.name_off).collect();
        assert_eq!(names, vec![l + 5, base_off(&base, b"a")]);
        // String map covers every non-zero string field value of the input.
        let find = |s: &[u8]| {
            let off = (0..m.header().str_len).find(|&o| m.str_at(o) == Some(s)).unwrap();
            r.str_map.iter().find(|x| x.0 == off).unwrap().1
        };
        assert_eq!(find(b"mine"), l);
        assert_eq!(find(b"yy"), l + 14);
        assert_eq!(find(b"int"), base_off(&base, b"int"));
    }

    #[test]
    fn fwd_resolves_to_base_struct() {
        let base = base();
        let mut b = B::new();
        let f = b.fwd("foo", false);
        let p = b.ptr(f);
        let fu = b.fwd("foo", true); // union FWD: kind mismatch, stays
        let f2 = b.fwd("bar", false); // base has only a FWD bar
        let (r, out) = run(&base, &b.build());
        let k = base.last_id();
        assert_eq!(r.id_map[f as usize], 4);
        assert_eq!(r.id_map[p as usize], 5);
        assert_eq!(r.id_map[fu as usize], k + 1);
        assert_eq!(r.id_map[f2 as usize], 10);
        assert_eq!(out.nr_types(), 1);
    }

    #[test]
    fn fwd_inside_graph_matches_base_struct() {
        // struct foo { int a; struct list_head l; } where list_head's pointers go to a
        // FWD: the canonical (base) side has the full struct.
        let base = base();
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let fwd = b.fwd("list_head", false);
        let p = b.ptr(fwd);
        let lh = b.strukt("list_head", 16, &[("next", p, 0), ("prev", p, 64)]);
        let foo = b.strukt("foo", 24, &[("a", int, 0), ("l", lh, 64)]);
        let (r, out) = run(&base, &b.build());
        // As libbpf 1.1.2 decides: hypot[base list_head] is already the module struct
        // when the FWD arrives, so the graphs are not equivalent; the FWD stays too
        // (its name is not unique: base and split both have a struct list_head).
        let k = base.last_id();
        assert_eq!(out.nr_types(), 4);
        assert_eq!(r.id_map, vec![0, 1, k + 1, k + 2, k + 3, k + 4]);
        let _ = (int, foo);
    }

    #[test]
    fn cycles_through_pointers_dedup_onto_base() {
        let base = base();
        let mut b = B::new();
        // Pointer first, then the struct: a cycle list_head -> ptr -> list_head.
        let p = b.ptr(2);
        let lh = b.strukt("list_head", 16, &[("next", p, 0), ("prev", p, 64)]);
        let (r, out) = run(&base, &b.build());
        assert_eq!(out.nr_types(), 0);
        assert_eq!((r.id_map[p as usize], r.id_map[lh as usize]), (3, 2));
    }

    #[test]
    fn anonymous_types() {
        let base = base();
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let a1 = b.strukt("", 4, &[("x", int, 0)]);
        let a2 = b.strukt("", 4, &[("y", int, 0)]);
        let a3 = b.strukt("", 4, &[("y", int, 0)]);
        let arr1 = b.array(int, int, 4);
        let arr2 = b.array(int, int, 4);
        let (r, out) = run(&base, &b.build());
        let k = base.last_id();
        assert_eq!(r.id_map[a1 as usize], 7);
        assert_eq!((r.id_map[a2 as usize], r.id_map[a3 as usize]), (k + 1, k + 1));
        assert_eq!((r.id_map[arr1 as usize], r.id_map[arr2 as usize]), (k + 2, k + 2));
        assert_eq!(out.nr_types(), 2);
    }

    #[test]
    fn enums() {
        let base = base();
        let mut b = B::new();
        let same = b.enm("e", &[("A", 1), ("B", 2)]);
        let extra = b.enm("e", &[("A", 1), ("B", 2), ("C", 3)]);
        let fwd = b.enm("e", &[]);
        let own_fwd = b.enm("g", &[]);
        let own = b.enm("g", &[("G", 7)]);
        let (r, out) = run(&base, &b.build());
        let k = base.last_id();
        assert_eq!(r.id_map[same as usize], 6);
        assert_eq!(r.id_map[extra as usize], k + 1);
        // Candidates are tried newest first (libbpf's bucket order): the module's full
        // enum wins over the base enum.
        assert_eq!(r.id_map[fwd as usize], k + 1);
        // A canonical enum FWD is resolved to the later full enum.
        assert_eq!((r.id_map[own_fwd as usize], r.id_map[own as usize]), (k + 2, k + 2));
        assert_eq!(out.nr_types(), 2);
        assert_eq!(out.type_by_id(k + 2).unwrap().vlen(), 1);
    }

    #[test]
    fn bitfields() {
        let base = base();
        let mut b = B::new();
        let u = b.int("unsigned int", 4, false);
        let same = b.composite(STRUCT, "bf", 4, &[("a", u, 0, 3), ("b", u, 3, 5)]);
        let other = b.composite(STRUCT, "bf", 4, &[("a", u, 0, 3), ("b", u, 3, 4)]);
        let union = b.composite(UNION, "bf", 4, &[("a", u, 0, 3), ("b", u, 3, 5)]);
        let (r, out) = run(&base, &b.build());
        let k = base.last_id();
        assert_eq!(r.id_map[same as usize], 8);
        assert_eq!((r.id_map[other as usize], r.id_map[union as usize]), (k + 1, k + 2));
        let t = out.type_by_id(k + 1).unwrap();
        assert!(t.kflag());
        assert_eq!(t.members().nth(1).unwrap().bitfield_size(), 4);
    }

    #[test]
    fn var_and_datasec_are_kept() {
        let base = base();
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let v = b.raw("v", VAR, int, &[1]);
        let v2 = b.raw("v", VAR, int, &[1]);
        b.raw(".data", DATASEC | 2, 8, &[v, 0, 4, v2, 4, 4]);
        b.raw("f", FUNC | 1, 11, &[]);
        let m = b.build();
        // FUNC refers to id 11 > N: not standalone.
        assert!(matches!(dedup(&m, &BaseIndex::new(base.clone())), Err(Error::Rebase { .. })));
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let v = b.raw("v", VAR, int, &[1]);
        let v2 = b.raw("v", VAR, int, &[1]);
        let ds = b.raw(".data", DATASEC | 2, 8, &[v, 0, 4, v2, 4, 4]);
        let (r, out) = run(&base, &b.build());
        let k = base.last_id();
        assert_eq!(r.id_map, vec![0, 1, k + 1, k + 2, k + 3]);
        assert_eq!(out.type_by_id(k + 1).unwrap().type_id(), Some(1));
        let secs: Vec<u32> = out.type_by_id(k + 3).unwrap().secinfos().map(|s| s.type_id).collect();
        assert_eq!(secs, vec![k + 1, k + 2]);
        let _ = (ds, v2);
    }

    #[test]
    fn errors() {
        let base = base();
        let index = BaseIndex::new(base.clone());
        // Reference loop without a struct: libbpf fails with ELOOP.
        let mut b = B::new();
        b.ptr(2);
        b.konst(1);
        let e = dedup(&b.build(), &index).unwrap_err();
        assert!(matches!(e, Error::Rebase { .. }), "{e:?}");
        // Split input.
        let split = Btf::from_slice(&B::new().w.finish(&[]), Some(base.clone())).unwrap();
        assert!(matches!(dedup(&split, &index), Err(Error::Rebase { .. })));
        // Byte order.
        let mut b = B::new();
        b.w = TypeWriter::new(ByteOrder::Big, 0);
        b.int("int", 4, true);
        assert!(matches!(dedup(&b.build(), &index), Err(Error::Rebase { .. })));
        // Empty input: empty output.
        let (r, out) = run(&base, &B::new().build());
        assert_eq!((r.id_map, out.nr_types()), (vec![0], 0));
    }

    #[test]
    fn deep_graphs_do_not_overflow_the_stack() {
        // Chains long enough to overflow a recursive walk on a 2 MiB test thread.
        const N: u32 = 60_000;
        let chain = |b: &mut B| {
            // struct s_i { struct s_{i+1} *next; }: s_i at 2 + 2i, its pointer after it.
            // Distinct names keep one candidate per struct: with 60,000 same-named,
            // same-sized structs every candidate list would be 60,000 long, and trying
            // them newest first (as libbpf does) is quadratic.
            let int = b.int("int", 4, true);
            for i in 0..N {
                let s = 2 + 2 * i;
                b.strukt(&format!("s{i}"), 8, &[("next", s + 1, 0)]);
                b.ptr(if i + 1 < N { s + 2 } else { int });
            }
            // const -> const -> ... -> int, each referring to the next (higher) id.
            let start = b.next;
            for i in 0..N {
                b.konst(if i + 1 < N { start + i + 1 } else { int });
            }
        };
        let mut bb = B::new();
        chain(&mut bb);
        let base = Arc::new(bb.build());
        let mut mb = B::new();
        chain(&mut mb);
        let (r, out) = run(&base, &mb.build());
        assert_eq!(out.nr_types(), 0);
        assert!(r.id_map.iter().enumerate().all(|(i, &x)| x == i as u32));
    }

    #[test]
    fn malformed_inputs_do_not_panic() {
        let base = base();
        let index = BaseIndex::new(base.clone());
        let mut rng = 0x1234_5678_u32;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        for _ in 0..3000 {
            let mut b = B::new();
            let n = 1 + next() % 12;
            for _ in 0..n {
                let kind = 1 + next() % 19;
                let vlen = next() % 3;
                let id = |x: u32| x % (n + 1);
                let (a, c) = (next(), next());
                let rest: Vec<u32> = match kind {
                    1 | 17 => vec![next() % 64],
                    3 => vec![id(a), id(c), next() % 4],
                    4 | 5 => (0..vlen).flat_map(|i| [0, id(next()), i * 32]).collect(),
                    6 => (0..vlen).flat_map(|i| [0, i]).collect(),
                    19 => (0..vlen).flat_map(|i| [0, i, 0]).collect(),
                    13 => (0..vlen).flat_map(|_| [0, id(next())]).collect(),
                    14 => vec![0],
                    15 => (0..vlen).flat_map(|_| [id(next()), 0, 4]).collect(),
                    _ => vec![],
                };
                let vlen = if matches!(kind, 4 | 5 | 6 | 13 | 15 | 19) { vlen } else { 0 };
                let name = ["", "a", "foo", "list_head", "e"][(next() % 5) as usize];
                let st = if matches!(kind, 2 | 7..=14 | 17 | 18) { id(next()) } else { 4 };
                let kflag = if next() % 4 == 0 { KFLAG } else { 0 };
                b.raw(name, (kind << 24) | vlen | kflag, st, &rest);
            }
            let m = b.build();
            if let Ok(r) = dedup(&m, &index) {
                assert_eq!(r.id_map.len(), m.nr_types() as usize + 1);
                Btf::from_slice(&r.btf, Some(base.clone())).unwrap();
            }
        }
    }

    fn vmlinux() -> Option<Arc<Btf>> {
        let data = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
        Btf::from_slice(&data, None).ok().map(Arc::new)
    }

    /// A standalone BTF made of the closure of `roots` in `base` (in base id order,
    /// renumbered from 1, strings re-interned). With `rename`, named structs whose
    /// base id is divisible by it get a different name (so they, and everything
    /// reaching them, cannot dedup).
    fn closure_module(base: &Btf, roots: &[u32], rename: Option<u32>) -> Btf {
        let last = base.last_id() as usize;
        let mut seen = vec![false; last + 1];
        let mut stack: Vec<u32> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if id == 0 || seen[id as usize] {
                continue;
            }
            seen[id as usize] = true;
            stack.extend(base.type_by_id(id).unwrap().referenced_ids());
        }
        let ids: Vec<u32> = (1..=last as u32).filter(|&i| seen[i as usize]).collect();
        let mut new_id = vec![0u32; last + 1];
        for (i, &id) in ids.iter().enumerate() {
            new_id[id as usize] = i as u32 + 1;
        }
        let order = base.byte_order();
        let mut strs = StrTable::new_base();
        let mut w = TypeWriter::new(order, 0);
        for &id in &ids {
            let t = base.type_by_id(id).unwrap();
            let mut rec = t.bytes().to_vec();
            let renamed = rename.is_some_and(|r| id % r == 0)
                && t.kind() == Some(Kind::Struct)
                && t.name_off() != 0;
            remap_record(
                &mut rec,
                t.kind().unwrap(),
                t.vlen(),
                order,
                |x| new_id[x as usize],
                |s| {
                    let name = base.str_at(s).unwrap().to_vec();
                    let name = if renamed && s == t.name_off() {
                        [b"mod_".as_slice(), &name].concat()
                    } else {
                        name
                    };
                    strs.intern(&name).unwrap()
                },
            );
            w.push_raw(&rec);
        }
        Btf::from_slice(&w.finish(strs.bytes()), None).unwrap()
    }

    /// Every `step`-th named struct of the base.
    fn struct_roots(base: &Btf, step: usize) -> Vec<u32> {
        base.types()
            .filter(|t| t.kind() == Some(Kind::Struct) && t.name_off() != 0)
            .step_by(step)
            .map(|t| t.id())
            .collect()
    }

    #[test]
    fn vmlinux_closure_dedups_onto_base() {
        let Some(base) = vmlinux() else {
            eprintln!("note: /sys/kernel/btf/vmlinux not readable, skipped");
            return;
        };
        let roots = struct_roots(&base, 997);
        let m = closure_module(&base, &roots, None);
        let index = BaseIndex::new(base.clone());
        let r = dedup(&m, &index).unwrap();
        let out = Btf::from_slice(&r.btf, Some(base.clone())).unwrap();
        assert_eq!(out.nr_types(), 0);
        // Each closure type maps back to the base type it was copied from.
        let mut seen = 0;
        for (x, &new) in r.id_map.iter().enumerate().skip(1) {
            let (a, b) = (m.type_by_id(x as u32).unwrap(), base.type_by_id(new).unwrap());
            assert_eq!((a.kind(), a.name()), (b.kind(), b.name()), "module type {x}");
            seen += 1;
        }
        assert_eq!(seen, m.nr_types());
    }

    #[test]
    fn vmlinux_closure_with_renamed_structs() {
        let Some(base) = vmlinux() else { return };
        let roots = struct_roots(&base, 1999);
        let m = closure_module(&base, &roots, Some(7));
        let index = BaseIndex::new(base.clone());
        let r = dedup(&m, &index).unwrap();
        let out = Btf::from_slice(&r.btf, Some(base.clone())).unwrap();
        assert!(out.nr_types() > 0 && out.nr_types() < m.nr_types());
        // Kept types are in original order with consecutive new ids.
        let k = base.last_id();
        let mut kept: Vec<u32> = r.id_map.iter().copied().filter(|&x| x > k).collect();
        kept.dedup();
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(kept.len() as u32, out.nr_types());
        // Renamed structs are kept under their new name.
        for t in out.types() {
            if t.name().starts_with(b"mod_") {
                assert_eq!(t.kind(), Some(Kind::Struct));
            }
        }
    }

    fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (std::time::Duration, T) {
        let mut best = std::time::Duration::MAX;
        let mut last = None;
        for _ in 0..n {
            let t0 = std::time::Instant::now();
            let v = f();
            best = best.min(t0.elapsed());
            last = Some(v);
        }
        (best, last.unwrap())
    }

    /// `cargo test --release -p btfx-core timing -- --ignored --nocapture`
    /// (BTFX_MOD=standalone.btf adds that file to the measurements).
    #[test]
    #[ignore]
    fn timing_vmlinux() {
        let Some(base) = vmlinux() else { return };
        let (t, index) = best_of(5, || BaseIndex::new(base.clone()));
        eprintln!(
            "BaseIndex::new on vmlinux ({} types): {:.1} ms",
            base.last_id(),
            t.as_secs_f64() * 1e3
        );
        let mut mods = vec![
            ("closure, all dedup", closure_module(&base, &struct_roots(&base, 1500), None)),
            (
                "closure, 1/7 structs renamed",
                closure_module(&base, &struct_roots(&base, 1500), Some(7)),
            ),
        ];
        if let Some(p) = std::env::var_os("BTFX_MOD") {
            mods.push(("BTFX_MOD", Btf::from_slice(&std::fs::read(p).unwrap(), None).unwrap()));
        }
        for (what, m) in &mods {
            let (t, r) = best_of(50, || dedup(m, &index).unwrap());
            let kept = Btf::from_slice(&r.btf, Some(base.clone())).unwrap().nr_types();
            eprintln!(
                "dedup {what}: {} types -> {kept} kept: {:.3} ms (best of 50)",
                m.nr_types(),
                t.as_secs_f64() * 1e3
            );
        }
    }
    /// One record rendered with string fields resolved (for comparing split BTF made
    /// with different string tables).
    fn render(btf: &Btf, id: u32) -> String {
        let Some(t) = btf.type_by_id(id) else {
            return "void".into();
        };
        let order = btf.byte_order();
        let rec = t.bytes();
        let strs: Vec<usize> = t.str_field_offsets().collect();
        let mut out = String::new();
        for off in (0..rec.len()).step_by(4) {
            let w = order.u32_at(rec, off);
            if strs.contains(&off) {
                let s = btf.str_at(w).unwrap_or(b"<bad>");
                out.push_str(&format!("'{}' ", String::from_utf8_lossy(s)));
            } else {
                out.push_str(&format!("{w:#x} "));
            }
        }
        out
    }

    /// Compares our dedup with libbpf's output (made by a C harness calling
    /// `btf__new_empty_split` + `btf__add_btf` + `btf__dedup`):
    /// BTFX_BASE=vmlinux BTFX_MOD=standalone BTFX_LIBBPF=libbpf-split cargo test ... -- --ignored
    #[test]
    #[ignore]
    fn compare_with_libbpf_output() {
        let (Ok(b), Ok(mp), Ok(lp)) =
            (std::env::var("BTFX_BASE"), std::env::var("BTFX_MOD"), std::env::var("BTFX_LIBBPF"))
        else {
            eprintln!("BTFX_BASE/BTFX_MOD/BTFX_LIBBPF not set");
            return;
        };
        let base = Arc::new(Btf::from_slice(&std::fs::read(b).unwrap(), None).unwrap());
        let m = Btf::from_slice(&std::fs::read(mp).unwrap(), None).unwrap();
        let lib = Btf::from_slice(&std::fs::read(lp).unwrap(), Some(base.clone())).unwrap();
        let index = BaseIndex::new(base.clone());
        let order = if std::env::var_os("BTFX_HIGHEST_FIRST").is_some() {
            CandidateOrder::HighestFirst
        } else {
            CandidateOrder::LowestFirst
        };
        let r = dedup_with(&m, &index, order).unwrap();
        let ours = Btf::from_slice(&r.btf, Some(base.clone())).unwrap();
        eprintln!(
            "module types {}, kept: ours {}, libbpf {}",
            m.nr_types(),
            ours.nr_types(),
            lib.nr_types()
        );
        let mut diffs = 0;
        for id in base.type_cnt()..ours.type_cnt().max(lib.type_cnt()) {
            let (a, b) = (render(&ours, id), render(&lib, id));
            if a != b {
                diffs += 1;
                if diffs <= 10 {
                    eprintln!("[{id}]\n  ours:   {a}\n  libbpf: {b}");
                }
            }
        }
        eprintln!("{diffs} differing records");
        assert_eq!(diffs, 0);
        assert_eq!(ours.nr_types(), lib.nr_types());
    }
}
