//! Strict validation's graph walk: the by-value edges and resolve byte of every own
//! type, with phase 3 done on the spot for every type that allows it.
//!
//! Types are visited in id order. A type is *clean* when each of its by-value edges
//! leads to void, to a base type, to a clean own type with a lower id, to an own type
//! that has no by-value edges at all (INT, PTR, ENUM, ENUM64, FWD, FLOAT), or to a
//! FUNC_PROTO (never followed, R2). Nothing a clean type reaches can lie on a loop, and
//! every resolve byte and size ([`super::members`]) its checks read is final, so its
//! R1-R12 checks (`btf_resolve`, `btf_func_check`, `btf_func_proto_check`, the member
//! checks of `btf_struct_resolve`) run at once and its edges are dropped. pahole mostly
//! emits a type after what it contains, and most forward references are to pointers:
//! about 97 kernel types in 100 are clean. The others keep their edges for the depth-first search of phase 3
//! ([`super::resolve`]), which sees clean types as finished.
//!
//! Where a kind's edges sit and what each must resolve to comes from one table
//! ([`SHAPES`], built from `kind::LAYOUT_TABLE`), and one loop serves every kind. The
//! kinds that make up 97 types in 100 of kernel BTF (FUNC, FUNC_PROTO, PTR, STRUCT,
//! UNION, the modifiers, ENUM, ENUM64, FLOAT) also have a path of their own that skips
//! the table: on vmlinux they cut the walk from about 2.5 to 2.0 ms. A test holds the
//! two to the same results.
//!
//! The walk needs nothing from phase 1 and runs on its own thread beside it; on input
//! that phase 1 rejects its results are dropped, so it only has to stay in bounds.

use super::members::{array_size, member_fail, Ext};
use super::meta::{chunks, Failure, Rec};
use super::*;

/// In a resolve byte: an INT that is regular (R4), a FUNC_PROTO whose parameters pass R5.
pub(super) const RES_FLAG: u8 = 0x20;

/// The kind bits of a resolve byte.
pub(super) const RES_KIND: u8 = 0x1f;

/// A state byte with both colours set: a clean type (the DFS never sets both).
pub(super) const ST_CLEAN: u8 = ST_GREY | ST_BLACK;

/// In a resolve byte: the type is a modifier (the rest describes its chain's end).
pub(super) const RES_VIA_MOD: u8 = 0x40;

/// Not a resolve byte: [`Validator::proto_check`] stops at a type that reaches a loop
/// (it fails on its own, R2).
pub(super) const RES_STOP: u8 = 0x80;

/// Where one kind's by-value edges sit in its record, and what each must resolve to
/// for the record to pass R3-R10 (an [`ADMITS`] bit; R11 and R12 need sizes too).
#[derive(Clone, Copy)]
struct Shape {
    /// Byte offsets of up to two single edges (0: none).
    one: [u8; 2],
    one_need: [u8; 2],
    /// Byte offset of the first element's edge and the element size (0: none).
    elem_at: u8,
    stride: u8,
    elem_need: u8,
    /// The kind's checks are not per-edge tests (DATASEC, DECL_TAG, PTR).
    slow: bool,
}

impl Shape {
    const fn has_edges(&self) -> bool {
        self.one[0] != 0 || self.one[1] != 0 || self.stride != 0
    }
}

/// [`ADMITS`] bits: any resolve byte; a sized type (R3: `btf_type_id_size` succeeds,
/// through modifiers); a regular INT, through modifiers (R4); the FUNC_PROTO itself with
/// its parameters passing (R5, no modifiers); an ARRAY element (R3 and R8: sized, and
/// not an INT unless a regular one); a modifier's target (R10: not itself a VAR,
/// DATASEC or DECL_TAG).
const ANY: u8 = 1;
pub(super) const SIZED: u8 = 2;
pub(super) const REGULAR_INT: u8 = 4;
pub(super) const PROTO_OK: u8 = 8;
pub(super) const ARRAY_ELEM: u8 = 16;
const MOD_TARGET: u8 = 32;

/// What a resolve byte satisfies, by resolve byte.
static ADMITS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let rb = b as u8;
        let mut v = ANY;
        if is_sized(rb & RES_KIND) {
            v |= SIZED;
        }
        if rb & !RES_VIA_MOD == k::INT | RES_FLAG {
            v |= REGULAR_INT;
        }
        if is_sized(rb & RES_KIND) && (rb & RES_KIND != k::INT || v & REGULAR_INT != 0) {
            v |= ARRAY_ELEM;
        }
        if rb & RES_VIA_MOD != 0 || !is_source_only(rb & RES_KIND) {
            v |= MOD_TARGET;
        }
        if rb == k::FUNC_PROTO | RES_FLAG {
            v |= PROTO_OK;
        }
        t[b] = v;
        b += 1;
    }
    t
};

/// Whether resolve byte `rb` satisfies `need`.
#[inline(always)]
pub(super) fn admits(rb: u8, need: u8) -> bool {
    ADMITS[usize::from(rb & 0x7f)] & need != 0
}

/// Where `kind`'s type-id fields sit in its record (`kind::LAYOUT_TABLE`): the byte
/// offsets of up to two single words (0: none), and of the first element's id word with
/// the element size (0 and 0: none).
pub(super) const fn id_words(kind: usize) -> ([u8; 2], u8, u8) {
    let l = &crate::kind::LAYOUT_TABLE[kind];
    let mut one = [0u8; 2];
    let mut n = 0;
    if matches!(l.size_word, crate::kind::SizeWord::TypeId) {
        one[n] = 8;
        n += 1;
    }
    let mut j = 0;
    while j < l.info_ids.len() {
        one[n] = 12 + l.info_ids[j] as u8;
        n += 1;
        j += 1;
    }
    if l.elem_ids.len() == 1 {
        (one, 12 + l.info_size as u8 + l.elem_ids[0] as u8, l.elem_size as u8)
    } else {
        (one, 0, 0)
    }
}

/// [`Shape`] by raw kind. Edges are the type-id fields of `kind::LAYOUT_TABLE` except a
/// PTR's target (loops through pointers are allowed) and a FWD's zero word
/// (`btf_type_needs_resolve`).
static SHAPES: [Shape; 20] = {
    let none = Shape {
        one: [0, 0],
        one_need: [ANY, ANY],
        elem_at: 0,
        stride: 0,
        elem_need: ANY,
        slow: false,
    };
    let mut t = [none; 20];
    let mut kind = 1;
    while kind < 20 {
        let mut sh = none;
        (sh.one, sh.elem_at, sh.stride) = id_words(kind);
        if kind == k::PTR as usize || kind == k::FWD as usize {
            sh.one = [0, 0]; // their only id word
        }
        match kind as u8 {
            k::STRUCT | k::UNION => sh.elem_need = SIZED,
            k::ARRAY => sh.one_need = [ARRAY_ELEM, REGULAR_INT],
            k::VAR => sh.one_need[0] = SIZED,
            k::FUNC => sh.one_need[0] = PROTO_OK,
            k::DATASEC | k::DECL_TAG | k::PTR => sh.slow = true,
            k::TYPEDEF | k::VOLATILE | k::CONST | k::RESTRICT | k::TYPE_TAG => {
                sh.one_need[0] = MOD_TARGET
            }
            _ => {}
        }
        t[kind] = sh;
        kind += 1;
    }
    t
};

/// What the walk hands to phase 3.
#[derive(Debug, PartialEq)]
pub(super) struct Graph {
    /// Per own type (index `id - start_id`): see `ST_*`.
    pub(super) st: Vec<u8>,
    /// Per own type, the kind it resolves to plus `RES_*` flags ([`super::resolve`]).
    pub(super) res: Vec<u8>,
    /// Per own type, its size ([`super::members`]): set by the walk, or for a modifier
    /// or ARRAY that is not clean, when phase 3 finishes it.
    pub(super) ext: Vec<Ext>,
    /// By-value edges of the own types that are not clean, in id order.
    pub(super) edges: Vec<u32>,
    /// Own type `i`'s edges are `edges[first[i]..first[i + 1]]`.
    pub(super) first: Vec<u32>,
    /// Lowest own PTR / FWD whose type id is past `last_id` (R1 outside the edges).
    pub(super) r1_ref: u32,
    /// The lowest clean type failing R3-R12, and its message.
    pub(super) clean_fail: Failure,
    /// The indexes of the types that are not clean, in increasing order.
    pub(super) unclean: Vec<u32>,
    /// The indexes of the PTRs and modifiers whose type is itself or a later own PTR or
    /// modifier, in increasing order: where a loop of PTRs and modifiers (R13) would
    /// have to go up.
    pub(super) chains_up: Vec<u32>,
    /// Some own PTR or modifier names a FUNC: whether the kernel accepts that depends on
    /// its order of steps ([`super::exact`]).
    pub(super) func_target: bool,
}

/// The finished own types below index `i`, as an edge from `i` sees them.
struct Seen<'g> {
    st: &'g [u8],
    res: &'g [u8],
    ext: &'g [Ext],
    start_id: u32,
    /// `i`, and at most the length of the slices.
    lim: usize,
}

impl<'g> Seen<'g> {
    #[inline(always)]
    fn new(g: &'g Graph, start_id: u32, i: usize) -> Self {
        let (st, res, ext) = (&g.st[..], &g.res[..], &g.ext[..]);
        let lim = i.min(st.len()).min(res.len()).min(ext.len());
        Seen { st, res, ext, start_id, lim }
    }

    /// Edge target `w`: whether it is clean for `i` (see the module doc), and its
    /// resolve byte when it is. An edge into a FUNC_PROTO is never followed (R2: the
    /// kernel never resolves one through its stack), so every FUNC_PROTO shows as clean
    /// (see [`Graph::show_clean`]).
    #[inline(always)]
    fn look<E: Rd>(&self, v: &Validator<'_, E>, w: u32) -> (bool, u8) {
        let rel = w.wrapping_sub(self.start_id) as usize;
        if rel < self.lim {
            if let (Some(&s), Some(&rb)) = (self.st.get(rel), self.res.get(rel)) {
                return (s & ST_CLEAN == ST_CLEAN, rb);
            }
        }
        if w == 0 {
            return (true, K_NONE);
        }
        v.look_far(w)
    }

    /// Type `w`'s [`Ext`], as [`Validator::ext_in`] gives it.
    #[inline(always)]
    fn ext<E: Rd>(&self, v: &Validator<'_, E>, w: u32) -> Ext {
        let rel = w.wrapping_sub(self.start_id) as usize;
        match self.ext.get(rel) {
            Some(&x) if rel < self.lim => x,
            _ => v.ext_far(w),
        }
    }
}

impl Graph {
    /// The by-value edges of own type index `i`.
    #[inline(always)]
    pub(super) fn edges_of(&self, i: usize) -> &[u32] {
        edges_of(&self.first, &self.edges, i)
    }

    /// Records own type index `i`'s state and resolve bytes, and its [`Ext`] (visited
    /// in index order, so pushed).
    #[inline(always)]
    fn put(&mut self, i: usize, st: u8, res: u8, ext: Ext) {
        if let (Some(s), Some(r), Some(x)) =
            (self.st.get_mut(i), self.res.get_mut(i), self.ext.get_mut(i))
        {
            *s = st;
            *r = res;
            *x = ext;
        }
        if st & ST_CLEAN != ST_CLEAN {
            self.unclean.push(i as u32);
        }
    }

    /// Shows own FUNC_PROTO index `i`, which is not clean, as clean to the types after it
    /// (nothing follows an edge into a FUNC_PROTO); phase 3 undoes it before its search.
    #[inline(always)]
    fn show_clean(&mut self, i: usize) {
        if let Some(s) = self.st.get_mut(i) {
            *s |= ST_CLEAN;
        }
    }

    /// R1 for a PTR or FWD (own type `id`), whose id field is not a by-value edge:
    /// remembers the lowest whose target `w` is past `last`.
    #[inline(always)]
    fn note_r1(&mut self, id: u32, w: u32, last: u32) {
        if w > last && self.r1_ref == u32::MAX {
            self.r1_ref = id;
        }
    }
}

impl<'a, E: Rd> Validator<'a, E> {
    /// The walk over all own types.
    pub(super) fn graph_walk(&self) -> Graph {
        self.walk_all(true)
    }

    /// [`Self::graph_walk`], with the common kinds on their own paths (`quick`) or every
    /// kind through [`SHAPES`] (the tests' oracle for those paths).
    #[inline(always)]
    pub(super) fn walk_all(&self, quick: bool) -> Graph {
        let n = self.st_len();
        let (start, last) = (self.start_id, self.last_id);
        let mut g = Graph {
            st: vec![0u8; n],
            res: vec![0u8; n],
            ext: super::members::ext_table(n),
            // Only unclean types keep edges: few in kernel BTF.
            edges: Vec::with_capacity(n / 4 + 64),
            first: Vec::with_capacity(n + 1),
            r1_ref: u32::MAX,
            clean_fail: None,
            unclean: Vec::new(),
            chains_up: Vec::new(),
            func_target: false,
        };
        let sec = self.sec;
        let mut scratch = Vec::new();
        // Record offsets from the parser's index (see `meta_range`).
        for (i, &off) in self.btf.type_offsets().iter().enumerate().take(n) {
            g.first.push(g.edges.len() as u32);
            let off = off as usize;
            let Some(head) = sec.get(off..).and_then(|r| r.first_chunk::<12>()) else {
                break; // unreachable after parsing (T2): phase 1 reports it
            };
            let inf = E::at(head, 1);
            let w8 = E::at(head, 2);
            // The common kinds on their own paths (see the module doc).
            let kind = info::kind(inf) as u8;
            let done = if !quick {
                false
            } else if kind == k::FUNC {
                self.walk_func(&mut g, i, w8)
            } else if kind == k::FUNC_PROTO {
                self.walk_proto(&mut g, i, off, inf, w8)
            } else if kind == k::PTR {
                g.put(i, k::PTR | ST_CLEAN, k::PTR, 8);
                g.note_r1(start + i as u32, w8, last);
                // R10: not a pointer to a VAR, DATASEC or DECL_TAG.
                let tk = self.kind_in(&g.st, w8);
                g.func_target |= tk == k::FUNC;
                if is_source_only(tk) && g.clean_fail.is_none() {
                    self.check_clean(&mut g, i, k::PTR, &[]);
                }
                self.note_chain_up(&mut g, i, w8, tk);
                true
            } else if kind == k::STRUCT || kind == k::UNION {
                self.walk_members(&mut g, i, off, inf, w8)
            } else if is_mod(kind) {
                self.walk_mod(&mut g, i, kind, w8)
            } else if matches!(kind, k::ENUM | k::ENUM64 | k::FLOAT) {
                // No by-value edges, no resolve flag; the size word.
                g.put(i, kind | ST_CLEAN, kind, u64::from(w8));
                true
            } else {
                false
            };
            if !done && !self.walk_any(&mut g, i, off, &mut scratch) {
                break;
            }
        }
        g.first.resize(n + 1, g.edges.len() as u32);
        g
    }

    /// One own type of any kind, by [`SHAPES`]; false if its record does not decode.
    /// Out of line: the kinds that come here are 3 kernel types in 100.
    #[inline(never)]
    fn walk_any(&self, g: &mut Graph, i: usize, off: usize, scratch: &mut Vec<u32>) -> bool {
        let sec = self.sec;
        let id = self.start_id + i as u32;
        let Some((r, _)) = self.decode(off) else {
            return false;
        };
        let kind = r.kind;
        let sh = &SHAPES[kind as usize];
        let word =
            |at: usize| sec.get(at..).and_then(|b| b.first_chunk::<4>()).map_or(0, |c| E::at(c, 0));
        // The single edges (0: none, which reads as void).
        let mut clean = true;
        let mut ok = true;
        let mut rb0 = K_NONE;
        for (j, (&at, &need)) in sh.one.iter().zip(&sh.one_need).enumerate() {
            let w = if at != 0 { word(off + at as usize) } else { 0 };
            let (c, rb) = self.look(g, i, w);
            clean &= c;
            ok &= admits(rb, need);
            if j == 0 {
                rb0 = rb;
            }
        }
        // The per-element edges (for a STRUCT or UNION, with R11 on each member).
        if sh.stride != 0 {
            let mut at = off + sh.elem_at as usize;
            let seen = Seen::new(g, self.start_id, i);
            let kflag = r.kflag;
            for _ in 0..r.vlen {
                let w = word(at);
                let (c, rb) = seen.look(self, w);
                clean &= c;
                ok &= admits(rb, sh.elem_need);
                if kind == k::STRUCT || kind == k::UNION {
                    let x = seen.ext(self, w);
                    ok &= member_fail(kflag, r.w8, word(at + 4), rb, x).is_none();
                }
                at += sh.stride as usize;
            }
        }
        if kind == k::FUNC_PROTO {
            // R9's types (as `walk_proto`; the per-edge needs above are ANY).
            let res = |w: u32| self.look(g, i, w).1;
            ok = self.proto_check(r.body, r.w8, res, false).is_none();
        }
        let rb = if is_mod(kind) {
            if clean || !self.own(r.w8) {
                rb0 | RES_VIA_MOD
            } else {
                kind // filled when the DFS finishes the modifier
            }
        } else {
            kind | self.res_flag(&r)
        };
        // The size: a modifier's and an ARRAY's once what they reach is finished (else
        // when the DFS finishes them).
        let ext = match kind {
            _ if is_mod(kind) => {
                if clean || !self.own(r.w8) {
                    Seen::new(g, self.start_id, i).ext(self, r.w8)
                } else {
                    0
                }
            }
            k::ARRAY if clean => {
                let (elem, nelems) = (E::u32(r.body, 0), E::u32(r.body, 8));
                let size = array_size(Seen::new(g, self.start_id, i).ext(self, elem), nelems);
                ok &= size.is_some(); // R12
                u64::from(size.unwrap_or(0))
            }
            _ => self.ext_record(&r),
        };
        if clean && (sh.slow || !ok) && g.clean_fail.is_none() {
            // DATASEC, DECL_TAG and PTR run the checks here; any failure, for its message.
            scratch.clear();
            push_edges::<E>(&r, scratch);
            self.check_clean(g, i, kind, scratch);
        }
        if !clean {
            push_edges::<E>(&r, &mut g.edges);
        }
        g.put(i, kind | if clean { ST_CLEAN } else { 0 }, rb, ext);
        if kind == k::FUNC_PROTO && !clean {
            g.show_clean(i);
        }
        if kind == k::PTR || is_mod(kind) {
            let tk = self.kind_of(r.w8);
            g.func_target |= tk == k::FUNC;
            self.note_chain_up(g, i, r.w8, tk);
        }
        if matches!(kind, k::PTR | k::FWD) {
            g.note_r1(id, r.w8, self.last_id);
        }
        true
    }

    /// Phase 3's checks for clean own type index `i` of raw `kind` with by-value edges
    /// `es`, run at once; its failure is kept if it is the first. Only the lowest failure
    /// is reported, so none runs after one: a FUNC's check scans its prototype, and
    /// repeating it for every FUNC of one bad prototype would cost FUNCs × parameters.
    #[cold]
    fn check_clean(&self, g: &mut Graph, i: usize, kind: u8, es: &[u32]) {
        // Sizes of the finished types only: the later ones come from their records.
        let ext = g.ext.get(..i).unwrap_or(&[]);
        let msg = self.check_resolved_in(&g.st, &g.res, ext, self.start_id + i as u32, kind, es);
        g.clean_fail = msg.map(|m| (i as u32, m));
    }

    /// A FUNC (as [`Self::walk_any`]): its one edge is its prototype, which must pass
    /// R5.
    #[inline(always)]
    fn walk_func(&self, g: &mut Graph, i: usize, proto: u32) -> bool {
        let (clean, rb) = self.look(g, i, proto);
        if !clean {
            g.edges.push(proto);
        } else if !admits(rb, PROTO_OK) && g.clean_fail.is_none() {
            self.check_clean(g, i, k::FUNC, &[proto]);
        }
        g.put(i, k::FUNC | if clean { ST_CLEAN } else { 0 }, k::FUNC, 0);
        true
    }

    /// A modifier (as [`Self::walk_any`]): one edge, to any type; its resolve byte is
    /// that of its target's chain end, known now if the target is finished or not an
    /// own type, else filled by phase 3.
    #[inline(always)]
    fn walk_mod(&self, g: &mut Graph, i: usize, kind: u8, target: u32) -> bool {
        let (clean, rb) = self.look(g, i, target);
        g.func_target |= self.kind_in(&g.st, target) == k::FUNC;
        if target >= self.start_id + i as u32 && self.own(target) {
            // Itself or a later type: its kind, from its resolve byte if it has no edges.
            let tk = if clean { rb & RES_KIND } else { self.kind_of(target) };
            self.note_chain_up(g, i, target, tk);
        }
        if !clean {
            g.edges.push(target);
        } else if !admits(rb, MOD_TARGET) && g.clean_fail.is_none() {
            self.check_clean(g, i, kind, &[target]);
        }
        let (rb, ext) = if clean || !self.own(target) {
            (rb | RES_VIA_MOD, Seen::new(g, self.start_id, i).ext(self, target))
        } else {
            (kind, 0) // filled when the DFS finishes the modifier
        };
        g.put(i, kind | if clean { ST_CLEAN } else { 0 }, rb, ext);
        true
    }

    /// A STRUCT or UNION (as [`Self::walk_any`]): an edge to every member's type,
    /// which must be sized (R3) and pass the member's check (R11). False (the generic
    /// walk then decides) if the record is cut.
    #[inline(always)]
    fn walk_members(&self, g: &mut Graph, i: usize, off: usize, inf: u32, size: u32) -> bool {
        let n = info::vlen(inf) as usize;
        let Some(members) = self.sec.get(off + 12..off + 12 + 12 * n) else {
            return false;
        };
        let (mut clean, mut ok) = (true, true);
        let seen = Seen::new(g, self.start_id, i);
        let kflag = info::kflag(inf);
        for m in chunks::<12>(members) {
            let t = E::at(m, 1);
            let (c, rb) = seen.look(self, t);
            clean &= c;
            ok &= admits(rb, SIZED);
            // R11 (a struct that is not clean is checked by phase 3).
            if c {
                ok &= member_fail(kflag, size, E::at(m, 2), rb, seen.ext(self, t)).is_none();
            }
        }
        let kind = info::kind(inf) as u8;
        if !clean {
            g.edges.extend(chunks::<12>(members).map(|m| E::at(m, 1)));
        } else if !ok && g.clean_fail.is_none() {
            let es: Vec<u32> = chunks::<12>(members).map(|m| E::at(m, 1)).collect();
            self.check_clean(g, i, kind, &es);
        }
        g.put(i, kind | if clean { ST_CLEAN } else { 0 }, kind, u64::from(size));
        true
    }

    /// A FUNC_PROTO (as [`Self::walk_any`]): edges to its return type and every
    /// parameter's type. R9's types (its own check; its parameter names are phase 1's
    /// business, see [`Self::proto_names`]) and R5 (what a FUNC on it needs, kept in its
    /// resolve flag) are read off the parameters in the same loop. False (the generic
    /// walk then decides) if the record is cut.
    #[inline(always)]
    fn walk_proto(&self, g: &mut Graph, i: usize, off: usize, inf: u32, ret: u32) -> bool {
        let n = info::vlen(inf) as usize;
        let Some(params) = self.sec.get(off + 12..off + 12 + 8 * n) else {
            return false;
        };
        let seen = Seen::new(g, self.start_id, i);
        let (mut clean, rb) = seen.look(self, ret);
        // R9's types: a void or sized return type; parameters as `proto_check` says.
        let mut ok = ret == 0 || admits(rb, SIZED);
        let (mut unnamed, mut void) = (false, false);
        for p in chunks::<8>(params) {
            let (name, ty) = (E::at(p, 0), E::at(p, 1));
            let (c, rb) = seen.look(self, ty);
            clean &= c;
            ok &= admits(rb, SIZED);
            unnamed |= name == 0;
            void |= ty == 0;
        }
        if !ok || void {
            // A trailing `{0, 0}` (varargs) is the one void parameter allowed.
            ok = self.proto_check(params, ret, |w| seen.look(self, w).1, false).is_none();
        }
        let bad = unnamed && proto_args_bad::<E>(params).is_some();
        if !clean {
            g.edges.push(ret);
            g.edges.extend(chunks::<8>(params).map(|p| E::at(p, 1)));
        } else if !ok && g.clean_fail.is_none() {
            let mut es = vec![ret];
            es.extend(chunks::<8>(params).map(|p| E::at(p, 1)));
            self.check_clean(g, i, k::FUNC_PROTO, &es);
        }
        let flag = if bad { 0 } else { RES_FLAG };
        g.put(i, k::FUNC_PROTO | if clean { ST_CLEAN } else { 0 }, k::FUNC_PROTO | flag, 0);
        if !clean {
            g.show_clean(i);
        }
        true
    }

    /// R9 (`btf_func_proto_check`) on a FUNC_PROTO's return type and parameter array,
    /// with `res` giving the resolve byte of any type id: the first failure's message.
    /// The return type is void or sized; a last parameter of type void (varargs) has no
    /// name; every other parameter has no name or an identifier (checked with `names`
    /// only), and a sized type.
    pub(super) fn proto_check(
        &self,
        params: &[u8],
        ret: u32,
        res: impl Fn(u32) -> u8,
        names: bool,
    ) -> Msg {
        if ret != 0 {
            match res(ret) {
                RES_STOP => return None,
                rb if !admits(rb, SIZED) => return fail("Invalid return type"),
                _ => {}
            }
        }
        let params = match r9_params::<E>(params) {
            Ok(params) => params,
            Err(n) => return Some(format!("Invalid arg#{n}")),
        };
        for (j, p) in chunks::<8>(params).enumerate() {
            let (name, ty) = (E::at(p, 0), E::at(p, 1));
            if names && name != 0 && !self.ident(name) {
                return Some(format!("Invalid arg#{}", j + 1));
            }
            match res(ty) {
                RES_STOP => return None,
                rb if !admits(rb, SIZED) => return Some(format!("Invalid arg#{}", j + 1)),
                _ => {}
            }
        }
        None
    }

    /// R9's names on the own FUNC_PROTO record at `off`: the 0-based index of the first
    /// parameter (before a trailing void one) whose name is neither 0 nor an identifier.
    /// (A named trailing void one fails R9 on its types, which phase 3 checks first.)
    pub(super) fn proto_names(&self, off: usize) -> Option<usize> {
        let params = r9_params::<E>(proto_params::<E>(self.sec, off)).ok()?;
        chunks::<8>(params).map(|p| E::at(p, 0)).position(|name| name != 0 && !self.ident(name))
    }

    /// Edge target `w` seen from own type index `i`: whether it is clean for `i` (see
    /// the module doc), and its resolve byte when it is.
    #[inline(always)]
    fn look(&self, g: &Graph, i: usize, w: u32) -> (bool, u8) {
        Seen::new(g, self.start_id, i).look(self, w)
    }

    /// [`Self::look`] for a base type, an own type at or above `i`, or an id past
    /// `last_id`. Kept out of line: the walk's hot loop runs faster without it (few
    /// edges get here).
    #[inline(never)]
    pub(super) fn look_far(&self, w: u32) -> (bool, u8) {
        if w < self.start_id {
            return (true, self.walk_res(w));
        }
        if w > self.last_id {
            return (false, K_NONE);
        }
        // A later own type: clean if its kind has no by-value edges, or is a FUNC_PROTO
        // (never followed: R2), whose resolve flag its record gives (R5).
        let kind = self.kind_of(w);
        if kind == k::FUNC_PROTO {
            let params = self.rec(w).map_or(&[][..], |(sec, o)| proto_params::<E>(sec, o));
            let flag = if proto_args_bad::<E>(params).is_none() { RES_FLAG } else { 0 };
            return (true, k::FUNC_PROTO | flag);
        }
        if kind == K_NONE || SHAPES.get(usize::from(kind)).is_none_or(Shape::has_edges) {
            return (false, K_NONE);
        }
        (true, self.res_at(w, 0))
    }

    /// Notes own PTR or modifier index `i` in [`Graph::chains_up`] if its type `w`, of
    /// kind `tk`, is itself or a later own PTR or modifier.
    #[inline(always)]
    fn note_chain_up(&self, g: &mut Graph, i: usize, w: u32, tk: u8) {
        if w >= self.start_id + i as u32 && w <= self.last_id && (tk == k::PTR || is_mod(tk)) {
            g.chains_up.push(i as u32);
        }
    }

    /// [`RES_FLAG`] if the record is a regular INT or a FUNC_PROTO passing R5.
    #[inline(always)]
    fn res_flag(&self, r: &Rec) -> u8 {
        let ok = match r.kind {
            // R4: `btf_type_int_is_regular` (the size word is not consulted).
            k::INT => {
                let data = r.body.first_chunk::<4>().map_or(0, |c| E::at(c, 0));
                int_is_regular(data)
            }
            // R5: every param has a name and a type, except a final `{0, 0}` (varargs).
            k::FUNC_PROTO => proto_args_bad::<E>(r.body).is_none(),
            _ => false,
        };
        if ok {
            RES_FLAG
        } else {
            0
        }
    }
}

/// Own type index `i`'s span of `edges` (see [`Graph::first`]), borrowing only those
/// two arrays.
#[inline(always)]
pub(super) fn edges_of<'e>(first: &[u32], edges: &'e [u32], i: usize) -> &'e [u32] {
    match (first.get(i), first.get(i + 1)) {
        (Some(&a), Some(&b)) => edges.get(a as usize..b as usize).unwrap_or(&[]),
        _ => &[],
    }
}

/// Appends the record's by-value edges, where [`SHAPES`] says they are.
fn push_edges<E: Rd>(r: &Rec, edges: &mut Vec<u32>) {
    let sh = &SHAPES[usize::from(r.kind)];
    // Word at byte `at` of the record (`body` starts at byte 12).
    let word = |at: usize| if at == 8 { r.w8 } else { E::u32(r.body, at - 12) };
    for &at in sh.one.iter().filter(|&&at| at != 0) {
        edges.push(word(usize::from(at)));
    }
    if sh.stride != 0 {
        // Each chunk starts at one element's edge word.
        let elems = r.body.get(usize::from(sh.elem_at) - 12..).unwrap_or(&[]);
        edges.extend(elems.chunks(usize::from(sh.stride)).map(|e| E::u32(e, 0)));
    }
}

/// R4: a regular INT — bit offset 0, bits a multiple of 8, `bits / 8` ∈ {1,2,4,8,16}
/// (`btf_type_int_is_regular`: u8 to u64, or __int128; the size word is not consulted).
/// `data` is the INT's encoding word.
#[inline(always)]
pub(super) fn int_is_regular(data: u32) -> bool {
    let bits = data & 0xff;
    (data >> 16) & 0xff == 0 && bits.is_multiple_of(8) && matches!(bits / 8, 1 | 2 | 4 | 8 | 16)
}

/// The parameter array of the FUNC_PROTO record at offset `off` of type section `sec`
/// (empty if it does not fit).
pub(super) fn proto_params<E: Rd>(sec: &[u8], off: usize) -> &[u8] {
    let info = sec.get(off + 4..).and_then(|b| b.first_chunk::<4>()).map_or(0, |w| E::at(w, 0));
    let n = info::vlen(info) as usize;
    sec.get(off + 12..off + 12 + 8 * n).unwrap_or(&[])
}

/// R9's parameters (`btf_func_proto_check`): all but a trailing void one (varargs), which
/// must have no name (`Err(n)`: the last of `n` parameters is void and named).
pub(super) fn r9_params<E: Rd>(params: &[u8]) -> Result<&[u8], usize> {
    let n = params.len() / 8;
    match chunks::<8>(params).last() {
        Some(last) if E::at(last, 1) == 0 && E::at(last, 0) != 0 => Err(n),
        Some(last) if E::at(last, 1) == 0 => Ok(params.get(..8 * (n - 1)).unwrap_or(&[])),
        _ => Ok(params),
    }
}

/// R5 (`btf_func_check`) on a FUNC_PROTO's parameter array: the 0-based index of the
/// first parameter with a type but no name.
pub(super) fn proto_args_bad<E: Rd>(params: &[u8]) -> Option<usize> {
    chunks::<8>(params).position(|p| E::at(p, 0) == 0 && E::at(p, 1) != 0)
}
