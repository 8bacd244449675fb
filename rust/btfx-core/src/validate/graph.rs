//! Strict validation's graph walk: the by-value edges and resolve byte of every own
//! type, with phase 3 done on the spot for every type that allows it.
//!
//! Types are visited in id order. A type is *clean* when each of its by-value edges
//! leads to void, to a base type, to a clean own type with a lower id, or to an own
//! type that has no by-value edges at all (INT, PTR, ENUM, ENUM64, FWD, FLOAT). Nothing
//! a clean type reaches can lie on a loop, and every resolve byte its checks read is
//! final, so its R1-R7 checks (`btf_resolve` and `btf_func_check`) run at once and its
//! edges are dropped. pahole mostly emits a type after what it contains, and most
//! forward references are to pointers: about 97 kernel types in 100 are clean. The
//! others keep their edges for the depth-first search of phase 3
//! ([`super::resolve`]), which sees clean types as finished.
//!
//! Where a kind's edges sit and what each must resolve to comes from one table
//! ([`SHAPES`], built from `kind::LAYOUT_TABLE`): one loop serves every kind, with no
//! code path per kind (the order of kinds in kernel BTF is too irregular to predict,
//! and a mispredicted branch per type costs more than the checks themselves).
//!
//! The walk needs nothing from phase 1 and runs on its own thread beside it; on input
//! that phase 1 rejects its results are dropped, so it only has to stay in bounds.

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

/// Where one kind's by-value edges sit in its record, and what each must resolve to
/// for the record to pass R3-R5 (an [`ADMITS`] bit).
#[derive(Clone, Copy)]
struct Shape {
    /// Byte offsets of up to two single edges (0: none).
    one: [u8; 2],
    one_need: [u8; 2],
    /// Byte offset of the first element's edge and the element size (0: none).
    elem_at: u8,
    stride: u8,
    elem_need: u8,
    /// The kind's checks are not per-edge tests (DATASEC, DECL_TAG).
    slow: bool,
}

impl Shape {
    const fn has_edges(&self) -> bool {
        self.one[0] != 0 || self.one[1] != 0 || self.stride != 0
    }
}

/// [`ADMITS`] bits: any resolve byte; a sized type (R3: `btf_type_id_size` succeeds,
/// through modifiers); a regular INT, through modifiers (R4); the FUNC_PROTO itself with
/// its parameters passing (R5, no modifiers).
const ANY: u8 = 1;
pub(super) const SIZED: u8 = 2;
pub(super) const REGULAR_INT: u8 = 4;
pub(super) const PROTO_OK: u8 = 8;

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
        let l = &crate::kind::LAYOUT_TABLE[kind];
        let mut sh = none;
        let mut n = 0;
        if matches!(l.size_word, crate::kind::SizeWord::TypeId)
            && kind != k::PTR as usize
            && kind != k::FWD as usize
        {
            sh.one[n] = 8;
            n += 1;
        }
        let mut j = 0;
        while j < l.info_ids.len() {
            sh.one[n] = 12 + l.info_ids[j] as u8;
            n += 1;
            j += 1;
        }
        if l.elem_ids.len() == 1 {
            sh.elem_at = 12 + l.info_size as u8 + l.elem_ids[0] as u8;
            sh.stride = l.elem_size as u8;
        }
        match kind as u8 {
            k::STRUCT | k::UNION => sh.elem_need = SIZED,
            k::ARRAY => sh.one_need = [SIZED, REGULAR_INT],
            k::VAR => sh.one_need[0] = SIZED,
            k::FUNC => sh.one_need[0] = PROTO_OK,
            k::DATASEC | k::DECL_TAG => sh.slow = true,
            _ => {}
        }
        t[kind] = sh;
        kind += 1;
    }
    t
};

/// What the walk hands to phases 2 and 3 (see the [`Validator`] fields).
pub(super) struct Graph {
    pub(super) st: Vec<u8>,
    pub(super) res: Vec<u8>,
    pub(super) edges: Vec<u32>,
    pub(super) first: Vec<u32>,
    pub(super) r1_ref: u32,
    /// The lowest clean type failing R3-R7, and its message.
    pub(super) clean_fail: Failure,
}

impl<'a, E: Rd> Validator<'a, E> {
    /// The walk over all own types.
    pub(super) fn graph_walk(&self) -> Graph {
        let n = self.st_len();
        let (start, last) = (self.start_id, self.last_id);
        let mut g = Graph {
            st: vec![0u8; n],
            res: vec![0u8; n],
            // Only unclean types keep edges: few in kernel BTF.
            edges: Vec::with_capacity(n / 4 + 64),
            first: Vec::with_capacity(n + 1),
            r1_ref: u32::MAX,
            clean_fail: None,
        };
        let sec = self.sec;
        let mut scratch = Vec::new();
        // Record offsets from the parser's index (see `meta_range`).
        for (i, &off) in self.btf.type_offsets().iter().enumerate().take(n) {
            let id = start + i as u32;
            let e0 = g.edges.len();
            g.first.push(e0 as u32);
            let Some((r, _)) = self.decode(off as usize) else {
                // Unreachable after parsing (T2): phase 1 reports it.
                break;
            };
            let (kind, off) = (r.kind, off as usize);
            let sh = &SHAPES[kind as usize];
            let word = |at: usize| {
                sec.get(at..).and_then(|b| b.first_chunk::<4>()).map_or(0, |c| E::at(c, 0))
            };
            // The single edges (0: none, which reads as void).
            let mut clean = true;
            let mut ok = true;
            let mut rb0 = K_NONE;
            for (j, (&at, &need)) in sh.one.iter().zip(&sh.one_need).enumerate() {
                let w = if at != 0 { word(off + at as usize) } else { 0 };
                let (c, rb) = self.look(&g.st, &g.res, i, w);
                clean &= c;
                ok &= admits(rb, need);
                if j == 0 {
                    rb0 = rb;
                }
            }
            // The per-element edges.
            if sh.stride != 0 {
                let mut at = off + sh.elem_at as usize;
                for _ in 0..r.vlen {
                    let (c, rb) = self.look(&g.st, &g.res, i, word(at));
                    clean &= c;
                    ok &= admits(rb, sh.elem_need);
                    at += sh.stride as usize;
                }
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
            if clean && (sh.slow || !ok) && g.clean_fail.is_none() {
                // DATASEC and DECL_TAG, and any failure (for its message): the checks
                // phase 3 runs, up to the first failure (only the lowest is reported,
                // and a FUNC's check scans its prototype: repeating it for every FUNC
                // of one bad prototype would cost FUNCs × parameters).
                scratch.clear();
                push_edges::<E>(&r, &mut scratch);
                let msg = self.check_resolved_in(&g.st, &g.res, id, kind, &scratch);
                g.clean_fail = msg.map(|m| (i as u32, m));
            }
            if !clean {
                push_edges::<E>(&r, &mut g.edges);
            }
            if let Some(x) = g.res.get_mut(i) {
                *x = rb;
            }
            if let Some(s) = g.st.get_mut(i) {
                *s = kind | if clean { ST_CLEAN } else { 0 };
            }
            // R1 for PTR and FWD, whose id field is not a by-value edge.
            if matches!(kind, k::PTR | k::FWD) && r.w8 > last && g.r1_ref == u32::MAX {
                g.r1_ref = id;
            }
        }
        g.first.resize(n + 1, g.edges.len() as u32);
        g
    }

    /// Edge target `w` seen from own type index `i`: whether it is clean for `i` (see
    /// the module doc), and its resolve byte when it is.
    #[inline(always)]
    fn look(&self, st: &[u8], res: &[u8], i: usize, w: u32) -> (bool, u8) {
        let rel = w.wrapping_sub(self.start_id) as usize;
        if rel < i {
            if let (Some(&s), Some(&rb)) = (st.get(rel), res.get(rel)) {
                return (s & ST_CLEAN == ST_CLEAN, rb);
            }
        }
        if w == 0 {
            return (true, K_NONE);
        }
        self.look_far(w)
    }

    /// [`Self::look`] for a base type, an own type at or above `i`, or an id past
    /// `last_id`. Kept out of line: the walk's hot loop runs faster without it (few edges get here).
    #[inline(never)]
    pub(super) fn look_far(&self, w: u32) -> (bool, u8) {
        if w < self.start_id {
            return (true, self.walk_res(w));
        }
        if w > self.last_id {
            return (false, K_NONE);
        }
        // A later own type: clean if its kind has no by-value edges.
        let kind = self.kind_of(w);
        if kind == K_NONE || SHAPES.get(usize::from(kind)).is_none_or(Shape::has_edges) {
            return (false, K_NONE);
        }
        (true, if kind == k::INT && self.regular_int(w) { kind | RES_FLAG } else { kind })
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

/// R4: a regular INT — bit offset 0, bits a multiple of 8, `bits / 8` ∈ {1,2,4,8}
/// (`btf_type_int_is_regular`; the size word is not consulted). `data` is the INT's
/// encoding word.
#[inline(always)]
pub(super) fn int_is_regular(data: u32) -> bool {
    let bits = data & 0xff;
    (data >> 16) & 0xff == 0 && bits.is_multiple_of(8) && matches!(bits / 8, 1 | 2 | 4 | 8)
}

/// R5 (`btf_func_check`) on a FUNC_PROTO's parameter array: the 0-based index of the
/// first bad parameter (each needs a name and a type, except a final `{0, 0}`).
pub(super) fn proto_args_bad<E: Rd>(params: &[u8]) -> Option<usize> {
    let nargs = params.len() / 8;
    chunks::<8>(params).enumerate().position(|(j, p)| {
        let (name, ty) = (E::at(p, 0), E::at(p, 1));
        (name == 0 || ty == 0) && !(j + 1 == nargs && name == 0 && ty == 0)
    })
}
