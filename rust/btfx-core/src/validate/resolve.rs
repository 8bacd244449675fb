//! Phase 3: `btf_check_all_types` / `btf_resolve` and the per-kind `*_resolve` +
//! `btf_func_check`, for the types the graph walk ([`super::graph`]) could not finish,
//! as rules (docs/rules.md R1-R13) reporting the lowest failing id. A failure here is
//! settled by [`super::exact`], which follows the kernel's order.
//!
//! Resolve bytes ([`Graph::res`]): for a non-modifier, its raw kind plus
//! [`RES_FLAG`](super::graph::RES_FLAG); for a modifier, [`RES_VIA_MOD`] plus the
//! resolve byte of what its chain reaches after skipping modifiers
//! (`btf_type_skip_modifiers`), filled by the graph walk when the chain leaves the own
//! types at once or the modifier is clean, otherwise when the DFS finishes the modifier.

use super::base_chains::LONG_WALK;
use super::graph::{admits, int_is_regular, proto_args_bad, proto_params};
use super::graph::{edges_of, Graph, RES_STOP, RES_VIA_MOD, ST_CLEAN};
use super::graph::{ARRAY_ELEM, PROTO_OK, REGULAR_INT, SIZED};
use super::members::{array_size, ext_size, Ext};
use super::*;

impl<'a, E: Rd> Validator<'a, E> {
    /// One iterative colouring DFS over by-value edges between own types, started from
    /// each unvisited unclean id in id order, then the id's own checks (everything it
    /// reaches is finished by then, and its edges are still in cache). Clean types were
    /// checked by the graph walk: the lowest failure there (or the lowest PTR / FWD
    /// failing R1) ends the search. R1 failures are found while scanning edges; since
    /// ids are checked in increasing order and the first failure stops, the lowest id
    /// seen failing R1 is all that needs remembering.
    pub(super) fn phase3(&self, g: &mut Graph) -> Result<()> {
        let n = g.st.len();
        let (clean_id, clean_msg) = match g.clean_fail.take() {
            Some((i, msg)) => (self.start_id + i, msg),
            None => (u32::MAX, String::new()),
        };
        // R13, found on its own: the kernel meets such a loop before the other checks
        // of the types in it.
        let loop_id = self.ptr_loops(g);
        // The error if no unclean type below `stop` fails.
        let stop = clean_id.min(g.r1_ref).min(loop_id);
        let mut stack: Vec<(u32, u32, u32)> = Vec::with_capacity(64);
        let mut r1_min = u32::MAX;
        // Clean types were finished by the graph walk.
        let unclean = std::mem::take(&mut g.unclean);
        for &i in &unclean {
            if let Some(s) = g.st.get_mut(i as usize) {
                if *s & ST_KIND == k::FUNC_PROTO {
                    *s &= !ST_CLEAN; // shown as clean to the walk (`Graph::show_clean`)
                }
            }
        }
        for &i in &unclean {
            let i = i as usize;
            let id = self.start_id + i as u32;
            if id >= stop || i >= n {
                break;
            }
            let s = g.st[i];
            if s & (ST_GREY | ST_BLACK) == 0 && !self.finish_leaf_parent(g, i) {
                self.dfs(g, i, &mut stack, &mut r1_min);
            }
            let msg = if r1_min == id {
                self.r1_message(g, id, s & ST_KIND, g.edges_of(i))
            } else if g.st[i] & ST_BAD != 0 {
                // R2 (`env_stack_push` / `btf_resolve`: "Loop detected").
                fail("Loop detected")
            } else {
                self.check_resolved_in(&g.st, &g.res, &g.ext, id, s & ST_KIND, g.edges_of(i))
            };
            if let Some(msg) = msg {
                return Err(self.err(id, msg));
            }
        }
        if stop == u32::MAX {
            Ok(())
        } else if stop == loop_id {
            Err(self.err(stop, "Loop detected"))
        } else if stop == g.r1_ref {
            // R1 for PTR and FWD, whose id field is not a by-value edge.
            Err(self.err(stop, "Invalid type_id"))
        } else {
            Err(self.err(stop, clean_msg))
        }
    }

    /// The DFS of own type index `i` when it has no edge to an unfinished own type
    /// (nor past `last_id`), which is most types: finishes `i` at once as the DFS would
    /// (inheriting `ST_BAD`, filling a modifier's or ARRAY's resolve byte and size) and
    /// returns true.
    #[inline(always)]
    fn finish_leaf_parent(&self, g: &mut Graph, i: usize) -> bool {
        let (start, last) = (self.start_id, self.last_id);
        let es = edges_of(&g.first, &g.edges, i);
        let st = &mut g.st[..];
        let mut bad = 0u8;
        for &w in es {
            if w < start {
                continue;
            }
            if w > last {
                return false;
            }
            let sw = st.get((w - start) as usize).copied().unwrap_or(0);
            if sw & ST_KIND == k::FUNC_PROTO {
                continue; // never followed (R2)
            }
            if sw & ST_BLACK == 0 {
                return false;
            }
            bad |= sw;
        }
        let Some(si) = st.get_mut(i) else { return false };
        if *si & ST_KIND == k::FUNC_PROTO {
            bad = 0; // never on a resolve stack (R2)
        }
        *si |= ST_BLACK | (bad & ST_BAD);
        let s = *si;
        if s & ST_BAD == 0 {
            self.finish_sizes(&mut g.res, &mut g.ext, i, s & ST_KIND, es);
        }
        true
    }

    /// A finished own modifier's resolve byte and size (from its target), or a finished
    /// own ARRAY's size (R12's product, 0 when it overflows).
    #[inline(always)]
    fn finish_sizes(&self, res: &mut [u8], ext: &mut [Ext], i: usize, kind: u8, es: &[u32]) {
        let Some(&w) = es.first() else { return };
        if is_mod(kind) {
            if self.own(w) {
                let rel = (w - self.start_id) as usize;
                let r = res.get(rel).copied().unwrap_or(0) | RES_VIA_MOD;
                let x = ext.get(rel).copied().unwrap_or(0);
                if let (Some(ri), Some(xi)) = (res.get_mut(i), ext.get_mut(i)) {
                    (*ri, *xi) = (r, x);
                }
            }
        } else if kind == k::ARRAY {
            let nelems = self.word_of(self.start_id + i as u32, 20);
            let size = array_size(self.ext_in(ext, w), nelems).unwrap_or(0);
            if let Some(xi) = ext.get_mut(i) {
                *xi = u64::from(size);
            }
        }
    }

    /// Iterative colouring DFS from own type index `root`. Marks `ST_BAD` on every node
    /// that reaches a cycle and fills the resolve bytes of own-to-own modifiers.
    fn dfs(&self, g: &mut Graph, root: usize, stack: &mut Vec<(u32, u32, u32)>, r1_min: &mut u32) {
        let start = self.start_id;
        let last = self.last_id;
        let st = &mut g.st[..];
        let res = &mut g.res[..];
        let ext = &mut g.ext[..];
        let edges = &g.edges[..];
        let first = &g.first[..];
        let span = |i: usize| (first[i], first[i + 1]);
        st[root] |= ST_GREY;
        let (a, b) = span(root);
        stack.push((root as u32, a, b));
        while let Some(top) = stack.last_mut() {
            let (ui, pos, end) = (top.0 as usize, top.1, top.2);
            if pos < end {
                top.1 = pos + 1;
                let w = edges[pos as usize];
                if w < start {
                    continue; // void or a (trusted) base type
                }
                if w > last {
                    *r1_min = (*r1_min).min(start + ui as u32);
                    continue;
                }
                let wi = (w - start) as usize;
                let sw = st[wi];
                if sw & ST_KIND == k::FUNC_PROTO {
                    continue; // never followed (R2)
                }
                if sw & ST_BLACK != 0 {
                    st[ui] |= sw & ST_BAD;
                } else if sw & ST_GREY != 0 {
                    // Back edge: `u` is on a cycle through `w`.
                    st[ui] |= ST_BAD;
                } else {
                    let (a, b) = span(wi);
                    if a == b {
                        st[wi] = sw | ST_BLACK; // a leaf (never a modifier)
                    } else {
                        st[wi] = sw | ST_GREY;
                        stack.push((wi as u32, a, b));
                    }
                }
                continue;
            }
            stack.pop();
            let mut s = (st[ui] & !ST_GREY) | ST_BLACK;
            if s & ST_KIND == k::FUNC_PROTO {
                s &= !ST_BAD; // never on a resolve stack (R2)
            }
            st[ui] = s;
            if s & ST_BAD != 0 {
                if let Some(parent) = stack.last() {
                    st[parent.0 as usize] |= ST_BAD;
                }
            } else {
                let (a, b) = span(ui);
                self.finish_sizes(res, ext, ui, s & ST_KIND, &edges[a as usize..b as usize]);
            }
        }
    }

    /// The resolve byte of any type id: own ids from `res` (valid once the id is
    /// finished), others through the base's modifier chain ([`Self::walk_res`]).
    /// During the graph walk, a later own type has no resolve byte yet (0): a clean
    /// type's only later targets are types without edges, read from their records.
    #[inline(always)]
    pub(super) fn res_in(&self, res: &[u8], id: u32) -> u8 {
        if self.own(id) {
            match res.get((id - self.start_id) as usize) {
                Some(&r) if r != K_NONE => return r,
                _ => return self.look_far(id).1,
            }
        }
        self.walk_res(id)
    }

    /// [`Self::res_in`] for an id that is not an own type (void, base, past `last_id`):
    /// the base modifier chain walked on the spot, or read from the table of
    /// [`super::base_chains`] once a chain proved long. A loop counts as walked for
    /// `start_id` links.
    #[cold]
    pub(super) fn walk_res(&self, id: u32) -> u8 {
        if id == 0 || id > self.last_id {
            return K_NONE;
        }
        if let Some(&r) = self.base_res.get().and_then(|t| t.get(id as usize)) {
            return r;
        }
        let mut cur = id;
        let mut links = 0;
        while self.links_on(cur) {
            if links == LONG_WALK {
                // A long chain or a loop: every base id's answer at once.
                let table = self.base_res.get_or_init(|| self.base_chain_table());
                return table.get(id as usize).copied().unwrap_or(K_NONE);
            }
            cur = self.next_link(cur);
            links += 1;
        }
        self.res_at(cur, if links > 0 { RES_VIA_MOD } else { 0 })
    }

    /// R1's message for own type `id` (an edge past `last_id`): the kernel's own for the
    /// kinds whose resolve checks meet such an id as a bad member, element, index,
    /// parameter or entry (`btf_struct_resolve`, `btf_array_resolve`,
    /// `btf_func_proto_check`, `btf_datasec_resolve`), else "Invalid type_id".
    fn r1_message(&self, g: &Graph, id: u32, kind: u8, es: &[u32]) -> Msg {
        let own_words =
            matches!(kind, k::STRUCT | k::UNION | k::ARRAY | k::FUNC_PROTO | k::DATASEC);
        let msg = if own_words {
            self.check_resolved_in(&g.st, &g.res, &g.ext, id, kind, es)
        } else {
            None
        };
        msg.or_else(|| fail("Invalid type_id"))
    }

    /// R3-R12 for own type `id` of raw `kind` with by-value edges `es` (R1/R2 already
    /// passed), reading kinds from `st`, resolve bytes from `res` and sizes from `ext`.
    #[inline]
    pub(super) fn check_resolved_in(
        &self,
        st: &[u8],
        res: &[u8],
        ext: &[Ext],
        id: u32,
        kind: u8,
        es: &[u32],
    ) -> Msg {
        let e0 = es.first().copied().unwrap_or(0);
        let sized = |id: u32| admits(self.res_in(res, id), SIZED);
        match kind {
            // R5: btf_func_check.
            k::FUNC => {
                if self.own(e0) && admits(self.res_in(res, e0), PROTO_OK) {
                    return None;
                }
                self.func_check(st, e0)
            }
            // R3 and R11, member by member: btf_struct_resolve ("Invalid member") and
            // the member type's check_member / check_kflag_member.
            k::STRUCT | k::UNION => self.members_check(res, ext, id, es),
            // R4, R3 + R8: btf_array_resolve, which checks the index first ("Invalid
            // index", "Invalid elem", "Invalid array of int").
            k::ARRAY => {
                let index = es.get(1).copied().unwrap_or(0);
                if !admits(self.res_in(res, index), REGULAR_INT) {
                    return fail("Invalid index");
                }
                if !sized(e0) {
                    return fail("Invalid elem");
                }
                if !admits(self.res_in(res, e0), ARRAY_ELEM) {
                    return fail("Invalid array of int");
                }
                // R12.
                if array_size(self.ext_in(ext, e0), self.word_of(id, 20)).is_none() {
                    return fail("Array size overflows U32_MAX");
                }
                None
            }
            // R3: btf_var_resolve ("Invalid type_id").
            k::VAR => {
                if !sized(e0) {
                    return fail("Invalid type_id");
                }
                None
            }
            // R10: btf_modifier_resolve / btf_ptr_resolve ("Invalid type_id").
            k::PTR | k::TYPEDEF | k::VOLATILE | k::CONST | k::RESTRICT | k::TYPE_TAG => {
                let target = if kind == k::PTR { self.word_of(id, 8) } else { e0 };
                if is_source_only(self.kind_in(st, target)) {
                    return fail("Invalid type_id");
                }
                None
            }
            // R9: btf_func_proto_check, which stops where resolving a type fails (that
            // type reaches a loop and fails on its own).
            k::FUNC_PROTO => {
                let (sec, o) = self.rec(id)?;
                let res = |w: u32| match st.get(w.wrapping_sub(self.start_id) as usize) {
                    Some(&s) if s & ST_BAD != 0 && !is_source_only(s & ST_KIND) => RES_STOP,
                    _ => self.res_in(res, w),
                };
                self.proto_check(proto_params::<E>(sec, o), e0, res, true)
            }
            // R6: btf_datasec_resolve.
            k::DATASEC => self.datasec_check(st, res, ext, id, es),
            // R7: btf_decl_tag_resolve.
            k::DECL_TAG => self.decl_tag_check(st, id, e0),
            _ => None,
        }
    }

    /// R6 (`btf_datasec_resolve`) for own DATASEC `id` with entries `es`: each a VAR of
    /// a sized type ("Invalid type": only a base VAR gets here, an own one fails R3
    /// itself), that type no larger than the entry. Stricter than the kernel, which
    /// skips the size of an entry whose VAR it resolves on the spot: a failure here
    /// sends the input to `super::exact`.
    fn datasec_check(&self, st: &[u8], res: &[u8], ext: &[Ext], id: u32, es: &[u32]) -> Msg {
        for (j, &v) in es.iter().enumerate() {
            if self.kind_in(st, v) != k::VAR {
                return Some(format!("secinfo #{j}: Not a VAR kind member"));
            }
            let t = self.word_of(v, 8);
            if !admits(self.res_in(res, t), SIZED) {
                // An own VAR fails R3 itself (resolved here or before), and the kernel
                // stops there.
                return if self.own(v) {
                    None
                } else {
                    Some(format!("secinfo #{j}: Invalid type"))
                };
            }
            // (The kernel skips this for a VAR it resolves on the spot; which it does
            // depends on its order, so a failure here is settled by `super::exact`.)
            if self.word_of(id, 12 + 12 * j + 8) < ext_size(self.ext_in(ext, t)) {
                return Some(format!("secinfo #{j}: Invalid size"));
            }
        }
        None
    }

    /// R7 (`btf_decl_tag_resolve`) for own DECL_TAG `id` on `target`.
    fn decl_tag_check(&self, st: &[u8], id: u32, target: u32) -> Msg {
        let tk = self.kind_in(st, target);
        if !matches!(tk, k::STRUCT | k::UNION | k::FUNC | k::VAR | k::TYPEDEF) {
            return fail("Invalid type_id");
        }
        let comp = self.word_of(id, 12) as i32;
        if comp != -1 {
            let n = match tk {
                k::STRUCT | k::UNION => info::vlen(self.word_of(target, 4)),
                k::FUNC => {
                    let proto = self.word_of(target, 8);
                    if proto > self.last_id {
                        0
                    } else {
                        info::vlen(self.word_of(proto, 4))
                    }
                }
                _ => 0,
            };
            if comp < 0 || comp as u32 >= n {
                return fail("Invalid component_idx");
            }
        }
        None
    }

    /// R5 (`btf_func_check`): the FUNC's type is a FUNC_PROTO whose params all have a
    /// name and a type, except a final `{0, 0}` (varargs).
    #[cold]
    fn func_check(&self, st: &[u8], proto: u32) -> Msg {
        if self.kind_in(st, proto) != k::FUNC_PROTO {
            return fail("Invalid type_id");
        }
        let Some((sec, o)) = self.rec(proto) else {
            return fail("Invalid type_id");
        };
        let params = proto_params::<E>(sec, o);
        proto_args_bad::<E>(params).map(|j| format!("Invalid arg#{}", j + 1))
    }

    /// R4 ([`int_is_regular`]) for any type id.
    pub(super) fn regular_int(&self, id: u32) -> bool {
        if self.kind_of(id) != k::INT {
            return false;
        }
        let Some((sec, o)) = self.rec(id) else {
            return false;
        };
        int_is_regular(E::u32(sec, o + 12))
    }
}
