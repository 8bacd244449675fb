//! Phase 3, exactly as the kernel runs it (`btf_check_all_types`), for the inputs where
//! the order of its steps decides the outcome: [`super::resolve`] finds the lowest
//! failing type and is much faster, but when it finds a failure, or meets what only the
//! kernel's order settles (a pointer or modifier naming a FUNC), this pass decides which
//! type fails first with what message, or that the kernel accepts after all.
//!
//! Own type ids are visited in order; each type that needs resolving and is not resolved
//! yet is the root of one `btf_resolve`: a depth-first search on an explicit stack,
//! whose per-kind step (`btf_modifier_resolve`,
//! `btf_ptr_resolve`, `btf_var_resolve`, `btf_struct_resolve`, `btf_array_resolve`,
//! `btf_datasec_resolve`, `btf_decl_tag_resolve`, `btf_func_resolve`) either pushes a
//! child that is neither resolved nor a *sink*, or checks the type and pops it with its
//! resolved id and size. What is a sink depends on the search's mode, set by the first
//! PTR (pointer mode) or STRUCT, UNION or ARRAY (struct-or-array mode) pushed since the
//! root. A FUNC_PROTO is checked at its own turn (`btf_func_proto_check`), resolving its
//! return and parameter types first as roots of their own. The first failure ends the
//! pass, with the type and message the kernel logs; a loop, or a push onto a full stack (32
//! entries), is reported on the root. Base types of split BTF count as resolved; what their modifiers reach
//! and their sizes come from their chains ([`super::base_chains`], [`super::members`]).
//!
//! Linear: every type is pushed at most once (a second push is a loop), a STRUCT or
//! DATASEC resumes after the member it pushed, and the stack holds each type at most
//! once.

use super::graph::{int_is_regular, proto_args_bad, proto_params, r9_params, RES_FLAG, RES_KIND};
use super::members::{ext_size, member_fail, Ext};
use super::*;

/// `MAX_RESOLVE_DEPTH`, the kernel's stack size.
pub(super) const MAX_RESOLVE_DEPTH: usize = 32;

/// What a push onto a full stack fails with (on the search's root).
const TOO_DEEP: &str = "Exceeded max resolving depth:32";

// Per own type: its raw kind (`ST_KIND`, 0 until the pass or a lookup meets it) and visit
// state (`env->visit_states`).
const VISITED: u8 = 0x20;
const RESOLVED: u8 = 0x40;
/// Of a FUNC_PROTO: every parameter with a type has a name (what `btf_func_check` asks
/// of a FUNC's prototype), found when its record is first read.
const ARGS_NAMED: u8 = 0x80;

/// `enum resolve_mode` (also the bound of [`super::depth`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Any,
    Pointer,
    StructOrArray,
}

impl Mode {
    /// `env_type_is_resolve_sink`: whether a type of `kind` is not pushed in this mode.
    pub(super) fn sink(self, kind: u8) -> bool {
        match self {
            Mode::Any => !needs_resolve(kind),
            Mode::Pointer => !is_mod(kind) && kind != k::PTR,
            Mode::StructOrArray => {
                !is_mod(kind) && !matches!(kind, k::ARRAY | k::STRUCT | k::UNION)
            }
        }
    }

    /// The mode once a type of `kind` is pushed (`env_stack_push`: the first PTR, STRUCT,
    /// UNION or ARRAY sets it).
    pub(super) fn after_push(self, kind: u8) -> Mode {
        match (self, kind) {
            (Mode::Any, k::PTR) => Mode::Pointer,
            (Mode::Any, k::STRUCT | k::UNION | k::ARRAY) => Mode::StructOrArray,
            _ => self,
        }
    }
}

/// `btf_type_needs_resolve`.
fn needs_resolve(kind: u8) -> bool {
    is_mod(kind)
        || matches!(
            kind,
            k::PTR | k::STRUCT | k::UNION | k::ARRAY | k::VAR | k::FUNC | k::DECL_TAG | k::DATASEC
        )
}

/// `btf_type_nosize`: void, FWD, FUNC, FUNC_PROTO.
fn no_size(kind: u8) -> bool {
    matches!(kind, K_NONE | k::FWD | k::FUNC | k::FUNC_PROTO)
}

/// Kinds whose size is their size word (`btf_type_has_size`).
fn size_word(kind: u8) -> bool {
    matches!(kind, k::INT | k::STRUCT | k::UNION | k::ENUM | k::ENUM64 | k::FLOAT | k::DATASEC)
}

/// What `btf_type_id_size` gives: the type a type id stands for, and its size.
#[derive(Clone, Copy)]
struct Sized {
    kind: u8,
    id: u32,
    size: u32,
}

/// A failure: the type it is reported on and its message.
type Fail = (u32, String);

/// One stack entry (`struct resolve_vertex`).
struct Frame {
    id: u32,
    next_member: u32,
}

struct Resolver<'v, 'a, E: Rd> {
    v: &'v Validator<'a, E>,
    /// Per own type: kind and visit state (see `VISITED`).
    st: Vec<u8>,
    /// `btf->resolved_ids` / `btf->resolved_sizes` of own types.
    rid: Vec<u32>,
    rsize: Vec<u32>,
    stack: Vec<Frame>,
    mode: Mode,
}

fn fail_at(id: u32, msg: impl Into<String>) -> Fail {
    (id, msg.into())
}

impl<'a, E: Rd> Validator<'a, E> {
    /// Phase 3 in the kernel's order (see the module doc).
    pub(super) fn phase3_exact(&self) -> Result<()> {
        let mut r = Resolver {
            v: self,
            st: vec![0u8; self.st_len()],
            rid: vec![0u32; self.st_len()],
            rsize: vec![0u32; self.st_len()],
            stack: Vec::with_capacity(MAX_RESOLVE_DEPTH),
            mode: Mode::Any,
        };
        r.run().map_err(|(id, msg)| self.err(id, msg))
    }
}

impl<'v, 'a, E: Rd> Resolver<'v, 'a, E> {
    fn run(&mut self) -> std::result::Result<(), Fail> {
        let start = self.v.start_id;
        let offsets = self.v.btf.type_offsets();
        for (i, &off) in offsets.iter().enumerate().take(self.st.len()) {
            let id = start + i as u32;
            let kind = self.learn(i, off as usize);
            if needs_resolve(kind) && !self.resolved(id) {
                self.resolve(id)?;
            }
            if kind == k::FUNC_PROTO {
                self.proto_check(id)?;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------ lookups

    fn own_index(&self, id: u32) -> Option<usize> {
        self.v.own(id).then(|| (id - self.v.start_id) as usize)
    }

    /// Reads own type index `i`'s record head (at section offset `off`) into `st`, and a
    /// size-word kind's size into `rsize` (which `pop` never changes for such kinds):
    /// later lookups of the type then stay in those tables. Its raw kind.
    fn learn(&mut self, i: usize, off: usize) -> u8 {
        let head = self.v.sec.get(off + 4..).and_then(|b| b.first_chunk::<8>());
        let (inf, w8) = head.map_or((0, 0), |h| (E::at(h, 0), E::at(h, 1)));
        let kind = info::kind(inf) as u8 & ST_KIND;
        let named = kind == k::FUNC_PROTO
            && proto_args_bad::<E>(proto_params::<E>(self.v.sec, off)).is_none();
        if let (Some(s), Some(z)) = (self.st.get_mut(i), self.rsize.get_mut(i)) {
            if *s & ST_KIND == 0 {
                *s |= kind | if named { ARGS_NAMED } else { 0 };
                if size_word(kind) {
                    *z = w8;
                }
            }
        }
        kind
    }

    /// `btf_type_by_id`'s kind: `None` past the last id, [`K_NONE`] for void.
    #[inline(always)]
    fn kind(&mut self, id: u32) -> Option<u8> {
        let i = id.wrapping_sub(self.v.start_id) as usize;
        if let Some(&s) = self.st.get(i) {
            if s & ST_KIND != 0 {
                return Some(s & ST_KIND);
            }
            let off = self.v.btf.type_offsets().get(i).copied()?;
            return Some(self.learn(i, off as usize));
        }
        if id > self.v.last_id {
            return None;
        }
        if id == 0 {
            return Some(K_NONE);
        }
        Some(self.v.kind_of(id))
    }

    /// `env_type_is_resolved`: base types always are; void never is.
    fn resolved(&self, id: u32) -> bool {
        if id != 0 && id < self.v.start_id {
            return true;
        }
        self.own_index(id).and_then(|i| self.st.get(i)).is_some_and(|s| s & RESOLVED != 0)
    }

    /// `env_type_is_resolve_sink` in the current mode.
    fn is_sink(&self, kind: u8) -> bool {
        self.mode.sink(kind)
    }

    /// Pushes `id` (of `kind`) if it is neither a sink nor resolved; true if it did (the
    /// step then ends).
    fn must_push(&mut self, kind: u8, id: u32) -> std::result::Result<bool, &'static str> {
        if !self.is_sink(kind) && !self.resolved(id) {
            self.push(kind, id)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `btf_type_id_resolve`: what a resolved type stands for (a base type: where its
    /// modifiers lead), as (kind, id); kind `None` past the last id.
    fn resolved_target(&mut self, id: u32) -> (Option<u8>, u32) {
        let r = match self.own_index(id) {
            Some(i) => self.rid.get(i).copied().unwrap_or(0),
            None => id,
        };
        if r != 0 && r < self.v.start_id {
            return (Some(self.base_target(r)), r);
        }
        (self.kind(r), r)
    }

    /// What base type `id` stands for, resolved: the kind its modifiers lead to; a
    /// loop of them leads nowhere, as void does, and a FUNC stands for its FUNC_PROTO
    /// (the base is trusted to have passed `btf_func_check`).
    fn base_target(&self, id: u32) -> u8 {
        match self.v.walk_res(id) & RES_KIND {
            kind if is_mod(kind) => K_NONE,
            k::FUNC => k::FUNC_PROTO,
            kind => kind,
        }
    }

    /// `btf_type_id_size`: the sized type `id` stands for (through one resolved modifier
    /// or VAR).
    fn id_size(&mut self, id: u32) -> Option<Sized> {
        if id != 0 && id < self.v.start_id {
            return self.base_size(id);
        }
        let kind = self.kind(id)?;
        if let Some(s) = self.own_size(kind, id) {
            return Some(s);
        }
        if !is_mod(kind) && kind != k::VAR {
            return None;
        }
        let r = self.rid.get(self.own_index(id)?).copied().unwrap_or(0);
        if r != 0 && r < self.v.start_id {
            return self.base_size(r);
        }
        let kind = self.kind(r)?;
        self.own_size(kind, r)
    }

    /// The size of own type `id` of `kind` (known to [`Self::kind`]) if its kind has one
    /// of its own: the size word (kept in `rsize`), an ARRAY's resolved size, a PTR's 8.
    #[inline(always)]
    fn own_size(&self, kind: u8, id: u32) -> Option<Sized> {
        let size = if size_word(kind) || kind == k::ARRAY {
            self.rsize.get(id.wrapping_sub(self.v.start_id) as usize).copied().unwrap_or(0)
        } else if kind == k::PTR {
            8
        } else {
            return None;
        };
        Some(Sized { kind, id, size })
    }

    /// A trusted base type: the kind its modifiers lead to, and its chain's size.
    fn base_size(&self, id: u32) -> Option<Sized> {
        let kind = self.v.walk_res(id) & RES_KIND;
        if !size_word(kind) && !matches!(kind, k::ARRAY | k::PTR) {
            return None;
        }
        Some(Sized { kind, id, size: ext_size(self.v.ext_base(id)) })
    }

    /// The resolve byte and [`Ext`] a member check needs for a sized type.
    /// A base type's: the resolve byte of its chain's end (a regular INT flagged) and
    /// its [`Ext`] (size and INT encoding, from at most 64 links).
    fn member_view(&self, s: Sized) -> (u8, Ext) {
        if s.id != 0 && s.id < self.v.start_id {
            return (self.v.walk_res(s.id) & (RES_KIND | RES_FLAG), self.v.ext_base(s.id));
        }
        let mut rb = s.kind;
        let mut x = u64::from(s.size);
        if s.kind == k::INT {
            let data = self.v.word_of(s.id, 12);
            x |= u64::from(data) << 32;
            if int_is_regular(data) {
                rb |= RES_FLAG;
            }
        }
        (rb, x)
    }

    // ------------------------------------------------------------------ the stack

    /// `env_stack_push`: a full stack ([`MAX_RESOLVE_DEPTH`] entries) fails before a
    /// loop does; the mode is set by the first PTR, STRUCT, UNION or ARRAY.
    fn push(&mut self, kind: u8, id: u32) -> std::result::Result<(), &'static str> {
        if self.stack.len() == MAX_RESOLVE_DEPTH {
            return Err(TOO_DEEP);
        }
        let Some(i) = self.own_index(id) else { return Err("Loop detected") };
        let s = self.st.get(i).copied().unwrap_or(0);
        if s & (VISITED | RESOLVED) != 0 {
            return Err("Loop detected");
        }
        if let Some(s) = self.st.get_mut(i) {
            *s |= VISITED;
        }
        self.stack.push(Frame { id, next_member: 0 });
        self.mode = self.mode.after_push(kind);
        Ok(())
    }

    /// `env_stack_pop_resolved`.
    fn pop(&mut self, resolved_id: u32, size: u32) {
        let Some(f) = self.stack.pop() else { return };
        if let Some(i) = self.own_index(f.id) {
            if let (Some(s), Some(r), Some(z)) =
                (self.st.get_mut(i), self.rid.get_mut(i), self.rsize.get_mut(i))
            {
                *s = (*s & !VISITED) | RESOLVED;
                *r = resolved_id;
                if *s & ST_KIND == k::ARRAY {
                    *z = size; // the others pop 0, and a size-word kind keeps its size
                }
            }
        }
    }

    // ------------------------------------------------------------------ the passes

    /// `btf_resolve`: one search from `root`.
    fn resolve(&mut self, root: u32) -> std::result::Result<(), Fail> {
        self.mode = Mode::Any;
        let kind = self.kind(root).unwrap_or(K_NONE);
        if let Err(msg) = self.push(kind, root) {
            return Err(fail_at(root, msg));
        }
        while let Some(top) = self.stack.last() {
            let (id, next) = (top.id, top.next_member);
            match self.step(id, next) {
                Ok(()) => {}
                Err(Step::Fail(f)) => return Err(f),
                Err(Step::Abort(msg)) => return Err(fail_at(root, msg)),
            }
        }
        Ok(())
    }

    /// `btf_func_proto_check`: the return type void or sized; a last parameter of type
    /// void (varargs) unnamed; the others named by an identifier or not at all, and
    /// sized. Each type is resolved first if it needs to be.
    fn proto_check(&mut self, id: u32) -> std::result::Result<(), Fail> {
        let Some((sec, o)) = self.v.rec(id) else { return Ok(()) };
        let ret = E::u32(sec, o + 8);
        if ret != 0 {
            match self.kind(ret) {
                Some(kind) if !is_source_only(kind) => {
                    self.resolve_if_needed(kind, ret)?;
                    if self.id_size(ret).is_none() {
                        return Err(fail_at(id, "Invalid return type"));
                    }
                }
                _ => return Err(fail_at(id, "Invalid return type")),
            }
        }
        // A trailing void parameter (varargs) must be unnamed, and is not checked further.
        let params = match r9_params::<E>(proto_params::<E>(sec, o)) {
            Ok(params) => params,
            Err(n) => return Err(fail_at(id, format!("Invalid arg#{n}"))),
        };
        for (j, p) in super::meta::chunks::<8>(params).enumerate() {
            let (name, ty) = (E::at(p, 0), E::at(p, 1));
            let bad = || fail_at(id, format!("Invalid arg#{}", j + 1));
            let kind = match self.kind(ty) {
                Some(kind) if !is_source_only(kind) => kind,
                _ => return Err(bad()),
            };
            if name != 0 && !self.v.ident(name) {
                return Err(bad());
            }
            self.resolve_if_needed(kind, ty)?;
            if self.id_size(ty).is_none() {
                return Err(bad());
            }
        }
        Ok(())
    }

    fn resolve_if_needed(&mut self, kind: u8, id: u32) -> std::result::Result<(), Fail> {
        if self.v.own(id) && needs_resolve(kind) && !self.resolved(id) {
            self.resolve(id)?;
        }
        Ok(())
    }

    // ------------------------------------------------------------------ per kind

    /// One step of the type on top of the stack.
    fn step(&mut self, id: u32, next: u32) -> StepResult {
        let Some((sec, o)) = self.v.rec(id) else { return Err(Step::Abort("Loop detected")) };
        let word = |at: usize| E::u32(sec, o + at);
        let inf = word(4);
        let kind = info::kind(inf) as u8;
        let w8 = word(8);
        if is_mod(kind) {
            return self.modifier(id, w8);
        }
        match kind {
            k::PTR | k::VAR => self.ptr_or_var(id, kind, w8),
            k::STRUCT | k::UNION => self.members(id, sec, o, next),
            k::ARRAY => self.array(id, word(12), word(16), word(20)),
            k::DATASEC => self.datasec(id, sec, o, next),
            k::DECL_TAG => self.decl_tag(id, w8, word(12)),
            _ => {
                // FUNC (`btf_func_resolve`): `btf_func_check`.
                self.func_check(id, w8)?;
                self.pop(w8, 0);
                Ok(())
            }
        }
    }

    /// Pushes `id` if needed (see [`Self::must_push`]); a failed push aborts the search.
    fn push_child(&mut self, kind: u8, id: u32) -> std::result::Result<bool, Step> {
        self.must_push(kind, id).map_err(Step::Abort)
    }

    /// `btf_modifier_resolve`: to anything but a VAR, DATASEC or DECL_TAG; to void, a
    /// FWD or a FUNC_PROTO (or a resolved FUNC, which stands for its prototype) when
    /// what it names has no size.
    fn modifier(&mut self, id: u32, next: u32) -> StepResult {
        let nk = match self.kind(next) {
            Some(nk) if !is_source_only(nk) => nk,
            _ => return Err(Step::Fail(fail_at(id, "Invalid type_id"))),
        };
        if self.push_child(nk, next)? {
            return Ok(());
        }
        match self.id_size(next) {
            Some(s) => self.pop(s.id, 0),
            None => {
                let (mut k2, mut r) = (Some(nk), next);
                if self.resolved(next) {
                    (k2, r) = self.resolved_target(next);
                }
                if !matches!(k2, Some(K_NONE | k::FWD | k::FUNC_PROTO)) {
                    return Err(Step::Fail(fail_at(id, "Invalid type_id")));
                }
                self.pop(r, 0);
            }
        }
        Ok(())
    }

    /// `btf_ptr_resolve` / `btf_var_resolve`: after a resolved modifier that led to a
    /// PTR, that PTR is followed too; a VAR needs a sized type, a PTR anything but a
    /// VAR, DATASEC or DECL_TAG.
    fn ptr_or_var(&mut self, id: u32, kind: u8, next: u32) -> StepResult {
        let nk = match self.kind(next) {
            Some(nk) if !is_source_only(nk) => nk,
            _ => return Err(Step::Fail(fail_at(id, "Invalid type_id"))),
        };
        if self.push_child(nk, next)? {
            return Ok(());
        }
        if is_mod(nk) {
            let (rk, r) = self.resolved_target(next);
            if rk == Some(k::PTR) && self.v.own(r) && self.push_child(k::PTR, r)? {
                return Ok(());
            }
        }
        let sized = self.id_size(next);
        if kind == k::VAR {
            let Some(s) = sized else {
                return Err(Step::Fail(fail_at(id, "Invalid type_id")));
            };
            self.pop(s.id, 0);
            return Ok(());
        }
        if sized.is_none() {
            let mut k2 = Some(nk);
            if self.resolved(next) {
                k2 = self.resolved_target(next).0;
            }
            if !matches!(k2, Some(K_NONE | k::FWD | k::FUNC_PROTO)) {
                return Err(Step::Fail(fail_at(id, "Invalid type_id")));
            }
        }
        self.pop(0, 0);
        Ok(())
    }

    /// `btf_struct_resolve`: member by member, each checked once its type is resolved
    /// (`check_member` / `check_kflag_member` of the kind it reaches).
    fn members(&mut self, id: u32, sec: &[u8], o: usize, next: u32) -> StepResult {
        let inf = E::u32(sec, o + 4);
        let (vlen, kflag, size) = (info::vlen(inf), info::kflag(inf), E::u32(sec, o + 8));
        let member = |j: u32| {
            let at = o + 12 + 12 * j as usize;
            (E::u32(sec, at + 4), E::u32(sec, at + 8))
        };
        if next > 0 {
            let (t, w) = member(next - 1);
            self.check_member(id, next - 1, kflag, size, t, w)?;
        }
        for j in next..vlen {
            let (t, w) = member(j);
            let mk = match self.kind(t) {
                Some(mk) if !no_size(mk) && !is_source_only(mk) => mk,
                _ => return Err(Step::Fail(fail_at(id, format!("member #{j}: Invalid member")))),
            };
            if !self.is_sink(mk) && !self.resolved(t) {
                if let Some(top) = self.stack.last_mut() {
                    top.next_member = j + 1;
                }
                self.push(mk, t).map_err(Step::Abort)?;
                return Ok(());
            }
            self.check_member(id, j, kflag, size, t, w)?;
        }
        self.pop(0, 0);
        Ok(())
    }

    fn check_member(&mut self, id: u32, j: u32, kflag: bool, s: u32, t: u32, w: u32) -> StepResult {
        let Some(sized) = self.id_size(t) else {
            return Err(Step::Fail(fail_at(id, format!("member #{j}: Invalid member"))));
        };
        let (rb, x) = self.member_view(sized);
        match member_fail(kflag, s, w, rb, x) {
            Some(msg) => Err(Step::Fail(fail_at(id, format!("member #{j}: {msg}")))),
            None => Ok(()),
        }
    }

    /// `btf_array_resolve`: the index first (a regular INT), then the element (sized; a
    /// regular INT if an INT), then the size (within u32).
    fn array(&mut self, id: u32, elem: u32, index: u32, nelems: u32) -> StepResult {
        let fail = |m: &str| Err(Step::Fail(fail_at(id, m)));
        let ik = match self.kind(index) {
            Some(ik) if !no_size(ik) && !is_source_only(ik) => ik,
            _ => return fail("Invalid index"),
        };
        if self.push_child(ik, index)? {
            return Ok(());
        }
        match self.id_size(index) {
            Some(s) if s.kind == k::INT && self.member_view(s).0 & RES_FLAG != 0 => {}
            _ => return fail("Invalid index"),
        }
        let ek = match self.kind(elem) {
            Some(ek) if !no_size(ek) && !is_source_only(ek) => ek,
            _ => return fail("Invalid elem"),
        };
        if self.push_child(ek, elem)? {
            return Ok(());
        }
        let Some(s) = self.id_size(elem) else { return fail("Invalid elem") };
        if s.kind == k::INT && self.member_view(s).0 & RES_FLAG == 0 {
            return fail("Invalid array of int");
        }
        let Some(total) = s.size.checked_mul(nelems) else {
            return fail("Array size overflows U32_MAX");
        };
        self.pop(s.id, total);
        Ok(())
    }

    /// `btf_datasec_resolve`: each entry a VAR, resolved, whose type fits the entry. The
    /// mode goes back to "any" at every step, and after a VAR pushed here the next step
    /// resumes with the following entry (that entry is not checked).
    fn datasec(&mut self, id: u32, sec: &[u8], o: usize, next: u32) -> StepResult {
        self.mode = Mode::Any;
        let vlen = info::vlen(E::u32(sec, o + 4));
        for j in next..vlen {
            let at = o + 12 + 12 * j as usize;
            let (var, size) = (E::u32(sec, at), E::u32(sec, at + 8));
            let bad = |m: &str| Err(Step::Fail(fail_at(id, format!("secinfo #{j}: {m}"))));
            if self.kind(var) != Some(k::VAR) {
                return bad("Not a VAR kind member");
            }
            if !self.is_sink(k::VAR) && !self.resolved(var) {
                if let Some(top) = self.stack.last_mut() {
                    top.next_member = j + 1;
                }
                self.push(k::VAR, var).map_err(Step::Abort)?;
                return Ok(());
            }
            let Some(s) = self.id_size(self.v.word_of(var, 8)) else {
                return bad("Invalid type");
            };
            if size < s.size {
                return bad("Invalid size");
            }
        }
        self.pop(0, 0);
        Ok(())
    }

    /// `btf_decl_tag_resolve`: on a STRUCT, UNION, VAR, FUNC or TYPEDEF; a component
    /// index only on a STRUCT or UNION (a member) or a FUNC (a parameter).
    fn decl_tag(&mut self, id: u32, next: u32, component: u32) -> StepResult {
        let fail = |m: &str| Err(Step::Fail(fail_at(id, m)));
        let nk = match self.kind(next) {
            Some(nk @ (k::STRUCT | k::UNION | k::VAR | k::FUNC | k::TYPEDEF)) => nk,
            _ => return fail("Invalid type_id"),
        };
        if self.push_child(nk, next)? {
            return Ok(());
        }
        if component != u32::MAX {
            let vlen = match nk {
                k::VAR | k::TYPEDEF => return fail("Invalid component_idx"),
                k::STRUCT | k::UNION => info::vlen(self.v.word_of(next, 4)),
                // A FUNC: its type's entries (a FUNC on a non-prototype fails R5).
                _ => info::vlen(self.v.word_of(self.v.word_of(next, 8), 4)),
            };
            if component >= vlen {
                return fail("Invalid component_idx");
            }
        }
        self.pop(next, 0);
        Ok(())
    }

    /// `btf_func_check`: a FUNC_PROTO whose parameters with a type have names.
    fn func_check(&mut self, id: u32, proto: u32) -> StepResult {
        if self.kind(proto) != Some(k::FUNC_PROTO) {
            return Err(Step::Fail(fail_at(id, "Invalid type_id")));
        }
        let i = proto.wrapping_sub(self.v.start_id) as usize;
        if self.st.get(i).is_some_and(|s| s & ARGS_NAMED != 0)
            || (proto < self.v.start_id && self.v.base_proto_named(proto))
        {
            return Ok(());
        }
        let Some((sec, o)) = self.v.rec(proto) else {
            return Err(Step::Fail(fail_at(id, "Invalid type_id")));
        };
        match proto_args_bad::<E>(proto_params::<E>(sec, o)) {
            Some(j) => Err(Step::Fail(fail_at(id, format!("Invalid arg#{}", j + 1)))),
            None => Ok(()),
        }
    }
}

/// How a step ends early: a failure of a type, or a push that failed (reported on the
/// root).
enum Step {
    Fail(Fail),
    Abort(&'static str),
}

type StepResult = std::result::Result<(), Step>;
