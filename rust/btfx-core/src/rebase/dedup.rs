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
use crate::rebase::shift::check_standalone;
use crate::rebase::{remap_record, Rebased};
use crate::types::field_offsets;

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
    dedup_impl(m, index, true)
}

/// `resolve_fwds: false` skips `btf_dedup_resolve_fwds` (libbpf before v1.1's sync
/// with Linux 6.2), for comparisons with older libbpf builds.
fn dedup_impl(m: &Btf, index: &BaseIndex, resolve_fwds: bool) -> Result<Rebased> {
    check_standalone(m)?;
    let base = index.base().as_ref();
    if m.byte_order() != base.byte_order() {
        return Err(Error::rebase(
            None,
            "standalone BTF and base differ in byte order",
        ));
    }
    let k = base.last_id();
    let n = m.nr_types();
    if u64::from(k) + u64::from(n) > u64::from(MAX_MAPPED) {
        return Err(Error::rebase(None, "too many types"));
    }
    let mut d = Dedup::new(m, index)?;
    d.prim_types();
    d.struct_types()?;
    if resolve_fwds {
        d.resolve_fwds();
    }
    d.ref_types()?;
    d.finish()
}

/// The string canonicalization of the standalone BTF.
struct Strings<'m> {
    /// Every non-zero string field value, sorted, unique.
    used: Vec<u32>,
    /// Canonical value of each `used` entry.
    canon: Vec<u32>,
    /// Contents of the strings the base lacks, by index.
    own: Vec<&'m [u8]>,
}

impl<'m> Strings<'m> {
    fn new(m: &'m Btf, index: &BaseIndex) -> Strings<'m> {
        let order = m.byte_order();
        let mut used = Vec::new();
        for t in m.types() {
            let rec = t.bytes();
            used.extend(
                t.str_field_offsets()
                    .map(|o| order.u32_at(rec, o))
                    .filter(|&s| s != 0),
            );
        }
        used.sort_unstable();
        used.dedup();
        let mut own_idx: IdMap<&'m [u8], u32> = IdMap::default();
        let mut own = Vec::new();
        let canon = used
            .iter()
            .map(|&off| {
                let s = m.str_at(off).unwrap_or(b"");
                if s.is_empty() {
                    return 0;
                }
                if let Some(b) = index.strings().find(s) {
                    return b;
                }
                *own_idx.entry(s).or_insert_with(|| {
                    own.push(s);
                    MOD_STR | (own.len() as u32 - 1)
                })
            })
            .collect();
        Strings { used, canon, own }
    }

    #[inline]
    fn canon_of(&self, off: u32) -> u32 {
        if off == 0 {
            return 0;
        }
        match self.used.binary_search(&off) {
            Ok(i) => self.canon[i],
            Err(_) => 0,
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
    hypot: Vec<u32>,
    hypot_list: Vec<u32>,
    hypot_adjust_canon: bool,
    /// The split part of the dedup table: key → canonical split ids, ascending.
    table: IdMap<u64, Vec<u32>>,
    scratch: Vec<u32>,
}

impl<'a> Dedup<'a> {
    fn new(m: &'a Btf, index: &'a BaseIndex) -> Result<Dedup<'a>> {
        let base = index.base().as_ref();
        let k = base.last_id();
        let order = m.byte_order();
        let strings = Strings::new(m, index);
        let mut work = m.type_section().to_vec();
        let n = m.nr_types() as usize;
        let mut offs = Vec::with_capacity(n);
        let mut map = Vec::with_capacity(k as usize + n + 1);
        map.extend(0..=k);
        for t in m.types() {
            let off = t.section_offset();
            offs.push(off as u32);
            let kind = t.kind();
            // libbpf `btf_dedup_new`: VAR and DATASEC are never deduplicated.
            let self_canon = matches!(kind, Some(Kind::Var) | Some(Kind::Datasec));
            map.push(if self_canon { k + t.id() } else { UNPROCESSED });
            let Some(kind) = kind else { continue };
            let Some(rec) = work.get_mut(off..off + t.record_size()) else {
                continue;
            };
            remap_record(
                rec,
                kind,
                t.vlen(),
                order,
                |x| if x == 0 { 0 } else { x + k },
                |s| strings.canon_of(s),
            );
        }
        let len = map.len();
        Ok(Dedup {
            index,
            base,
            order,
            k,
            work,
            offs,
            strings,
            map,
            hypot: vec![UNPROCESSED; len],
            hypot_list: Vec::new(),
            hypot_adjust_canon: false,
            table: IdMap::default(),
            scratch: Vec::new(),
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
                    let end = self
                        .offs
                        .get(i + 1)
                        .map_or(self.work.len(), |&e| e as usize);
                    self.work.get(off as usize..end).unwrap_or(&VOID_RECORD)
                }
                None => &VOID_RECORD,
            }
        };
        Rec {
            b,
            order: self.order,
        }
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
        if let Some(own) = self.table.get(&key) {
            out.extend_from_slice(own);
        }
        if cfg!(test) && std::env::var_os("BTFX_HIGHEST_FIRST").is_some() {
            out.reverse();
        }
        out
    }

    fn table_add(&mut self, key: u64, id: u32) {
        let list = self.table.entry(key).or_default();
        let at = list.partition_point(|&x| x < id);
        list.insert(at, id);
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
        let mut stack: Vec<(u32, u32)> = vec![(cand, canon)];
        while let Some((cand_id, canon_id)) = stack.pop() {
            if self.resolve(cand_id) == self.resolve(canon_id) {
                continue;
            }
            let canon_id = self.resolve_fwd(canon_id);
            let hypot = self
                .hypot
                .get(canon_id as usize)
                .copied()
                .unwrap_or(UNPROCESSED);
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

    /// libbpf `btf_dedup_identical_structs`: same STRUCT/UNION down to member type ids.
    fn identical_structs(&self, a: u32, b: u32) -> bool {
        let (ta, tb) = (self.rec(a), self.rec(b));
        if !matches!(ta.kind(), K_STRUCT | K_UNION) || ta.kind() != tb.kind() {
            return false;
        }
        if !shallow_equal_struct(ta, tb) {
            return false;
        }
        (0..ta.vlen()).all(|i| {
            let o = 12 + 12 * i + 4;
            ta.w(o) == tb.w(o)
        })
    }

    /// libbpf `btf_dedup_merge_hypot_map`: record FWD → STRUCT/UNION resolutions and,
    /// as a shortcut, STRUCT/UNION mappings found by a successful `is_equiv`.
    fn merge_hypot(&mut self) {
        for i in 0..self.hypot_list.len() {
            let canon = self.hypot_list[i];
            let targ = self
                .hypot
                .get(canon as usize)
                .copied()
                .unwrap_or(UNPROCESSED);
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

    /// Offsets of the id fields `ref_type` resolves, in libbpf's order.
    fn ref_fields(&self, id: u32) -> Vec<usize> {
        let t = self.rec(id);
        field_offsets(Kind::from_raw(t.kind()), t.vlen() as u32, true).collect()
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
                format!(
                    "libbpf btf__dedup fails (EINVAL): unexpected {} type",
                    kind_name(kind)
                ),
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
        // Frames: (id, its id-field offsets, index of the next field).
        let mut stack: Vec<(u32, Vec<usize>, usize)> = vec![(root, self.ref_fields(root), 0)];
        let mut done: Option<u32> = None;
        while let Some(top) = stack.last_mut() {
            let id = top.0;
            let next_field = top.1.get(top.2).copied();
            if let Some(v) = done.take() {
                // The child at field `top.2` resolved to `v`.
                top.2 += 1;
                if let Some(field) = next_field {
                    self.write_field(id, field, v);
                }
                continue;
            }
            if let Some(field) = next_field {
                let child = self.rec(id).w(field);
                match self.ref_enter(child)? {
                    Some(v) => done = Some(v),
                    None => {
                        let fields = self.ref_fields(child);
                        stack.push((child, fields, 0));
                    }
                }
                continue;
            }
            let new_id = self.ref_finish(id);
            stack.pop();
            done = Some(new_id);
        }
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

    fn finish(self) -> Result<Rebased> {
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
                new_of
                    .get((r - k - 1) as usize)
                    .copied()
                    .filter(|&x| x != 0)
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
                if off > u64::from(limits::MAX_NAME_OFFSET) {
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
            // Strings first, in record order (name_off, then elements).
            for off in field_offsets(Some(kind), vlen, false) {
                let c = self.order.u32_at(&rec_buf, off);
                let v = out_str(c, &mut str_bytes)?;
                self.order.set_u32(&mut rec_buf, off, v);
            }
            let mut bad = None;
            for off in field_offsets(Some(kind), vlen, true) {
                let x = self.order.u32_at(&rec_buf, off);
                match final_id(x) {
                    Some(v) => self.order.set_u32(&mut rec_buf, off, v),
                    None if x == 0 => {}
                    None => bad = Some(x),
                }
            }
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
        for (&old, &canon) in self.strings.used.iter().zip(&self.strings.canon) {
            str_map.push((old, out_str(canon, &mut str_bytes)?));
        }
        let btf = w.finish(&str_bytes);
        Ok(Rebased {
            btf,
            id_map,
            str_map,
        })
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

/// `btf_compat_enum`: equal, or same name when either side is a forward declaration
/// (size and kind may differ then).
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
        let (Ok(b), Ok(mp), Ok(lp)) = (
            std::env::var("BTFX_BASE"),
            std::env::var("BTFX_MOD"),
            std::env::var("BTFX_LIBBPF"),
        ) else {
            eprintln!("BTFX_BASE/BTFX_MOD/BTFX_LIBBPF not set");
            return;
        };
        let base = Arc::new(Btf::from_slice(&std::fs::read(b).unwrap(), None).unwrap());
        let m = Btf::from_slice(&std::fs::read(mp).unwrap(), None).unwrap();
        let lib = Btf::from_slice(&std::fs::read(lp).unwrap(), Some(base.clone())).unwrap();
        let index = BaseIndex::new(base.clone());
        let r = dedup_impl(&m, &index, std::env::var_os("BTFX_NO_RESOLVE_FWDS").is_none()).unwrap();
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
