//! The kernel's resolve stack holds at most 32 types (`MAX_RESOLVE_DEPTH`): a push onto
//! a full stack (`env_stack_push`) ends the search with "Exceeded max resolving depth:32"
//! on its root (`btf_resolve`). [`super::exact`] models that stack; the fast phase 3 does
//! not, so this pass bounds how high any search of the kernel can stack types, and only
//! when the bound passes the limit does the exact pass decide. It runs on phase 1's
//! thread, from what phase 1 read anyway.
//!
//! Where a deep search starts. Searches start at each own id in turn, so when one starts
//! at `x`, every lower type that needs resolving is resolved, and it pushes only later
//! ids above `x`. A search of more than one entry thus starts at a type naming a later
//! type ([`StrictFinds::later`](super::meta::StrictFinds)), or is one that a FUNC_PROTO
//! naming a later type starts at its turn (`btf_func_proto_check`, from its return or
//! parameter type), or starts at a PTR or VAR that pushes the PTR a resolved chain of
//! modifiers leads to (`btf_ptr_resolve`, `btf_var_resolve`). In that last case, if the
//! PTR is later, some link of the chain goes from at most `x` to above it, and the
//! link's source names a later type: its bound covers that PTR's pushes.
//!
//! The bound. From each such type `x`, in increasing order, the height of what a type
//! can push is taken over its children above `x` that are not sinks in the search's mode
//! (`env_type_is_resolve_sink`), resolved or not, and for a PTR or VAR also over the PTR
//! its chain of modifiers leads to; it is memoized per type and mode. A height kept from
//! a lower root counts more children than a later root allows, so reusing it still
//! bounds from above, and the pass stays linear. On vmlinux it stays far below the limit.

use super::exact::MAX_RESOLVE_DEPTH;
use super::*;

/// `enum resolve_mode` as a memo index: RESOLVE_TBD, RESOLVE_PTR, RESOLVE_STRUCT_OR_ARRAY.
const ANY: u8 = 0;
const POINTER: u8 = 1;
const STRUCT_OR_ARRAY: u8 = 2;

/// A memo entry: not known yet, or on the current path; else the height.
const UNKNOWN: u8 = 0;
const ON_PATH: u8 = u8::MAX;

/// A height past the kernel's limit (or a loop, which the fast pass would have failed).
const OVER: usize = MAX_RESOLVE_DEPTH + 1;

/// Modifier links followed to find the PTR a chain leads to, before giving up (OVER).
const CHAIN_LINKS: usize = 64;

/// `btf_type_needs_resolve`.
fn needs_resolve(kind: u8) -> bool {
    is_mod(kind)
        || matches!(
            kind,
            k::PTR | k::STRUCT | k::UNION | k::ARRAY | k::VAR | k::FUNC | k::DECL_TAG | k::DATASEC
        )
}

/// `env_type_is_resolve_sink` in `mode`.
fn is_sink(mode: u8, kind: u8) -> bool {
    match mode {
        ANY => !needs_resolve(kind),
        POINTER => !is_mod(kind) && kind != k::PTR,
        _ => !is_mod(kind) && !matches!(kind, k::ARRAY | k::STRUCT | k::UNION),
    }
}

/// The mode after pushing a `kind` in `mode` (`env_stack_push`: the first PTR, STRUCT,
/// UNION or ARRAY sets it).
fn mode_after(mode: u8, kind: u8) -> u8 {
    match (mode, kind) {
        (ANY, k::PTR) => POINTER,
        (ANY, k::STRUCT | k::UNION | k::ARRAY) => STRUCT_OR_ARRAY,
        _ => mode,
    }
}

/// A type on the bound's path: its record, kind and mode (after its push), the next
/// child to look at, and the highest child so far.
struct Frame {
    id: u32,
    off: usize,
    kind: u8,
    mode: u8,
    next: u32,
    best: u8,
}

struct Heights<'v, 'a, E: Rd> {
    v: &'v Validator<'a, E>,
    kinds: &'v [u8],
    /// Per own type index `i` and mode `m`, at `3 * i + m`.
    memo: Vec<u8>,
    /// The memo entries set.
    touched: Vec<u32>,
    path: Vec<Frame>,
    /// The current root: only later children count.
    floor: u32,
}

impl<'a, E: Rd> Validator<'a, E> {
    /// Whether no search of the kernel's resolve pass can hold more than
    /// [`MAX_RESOLVE_DEPTH`] types (false: it might; see the module doc), given every
    /// own type's raw kind in `kinds` and the (type, later type it names) pairs phase 1
    /// found, in increasing order.
    pub(super) fn depth_fits(&self, kinds: &[u8], later: &[(u32, u32)]) -> bool {
        let mut memo = SPARE.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        memo.resize(3 * kinds.len(), UNKNOWN);
        let mut h =
            Heights { v: self, kinds, memo, touched: Vec::new(), path: Vec::new(), floor: 0 };
        let fits = later.iter().all(|&(root, t)| h.edge_fits(root, t));
        // Kept for the next validation, all UNKNOWN again.
        let mut memo = h.memo;
        for &slot in &h.touched {
            if let Some(m) = memo.get_mut(slot as usize) {
                *m = UNKNOWN;
            }
        }
        if let Ok(mut s) = SPARE.lock() {
            if s.capacity() < memo.capacity() {
                *s = memo;
            }
        }
        fits
    }
}

/// The memo of the last validation, every entry UNKNOWN: a fresh one of a few hundred
/// kilobytes costs page faults on every validation of vmlinux.
static SPARE: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

impl<E: Rd> Heights<'_, '_, E> {
    fn kind(&self, id: u32) -> u8 {
        let i = id.wrapping_sub(self.v.start_id) as usize;
        self.kinds.get(i).map_or(K_NONE, |&kind| kind & ST_KIND)
    }

    fn word(&self, at: usize) -> u32 {
        self.v.sec.get(at..).and_then(|b| b.first_chunk::<4>()).map_or(0, |c| E::at(c, 0))
    }

    /// A frame for own type `id` of `kind` in `mode`.
    fn frame(&self, id: u32, kind: u8, mode: u8) -> Frame {
        let off = self.v.btf.type_offset(id).unwrap_or(u32::MAX) as usize;
        Frame { id, off, kind, mode, next: 0, best: 0 }
    }

    /// Whether what own type `root` pushes through its later type `t` fits the stack,
    /// with the root below it; for a FUNC_PROTO, whether the search of `t` at its turn
    /// fits. (Only later types count: the others are resolved by the root's turn.)
    fn edge_fits(&mut self, root: u32, t: u32) -> bool {
        self.floor = root;
        let (kind, tk) = (self.kind(root), self.kind(t));
        if !self.v.own(t) {
            return true; // past the last id (the fast pass fails it)
        }
        if kind == k::FUNC_PROTO {
            return !needs_resolve(tk)
                || self.height(self.frame(t, tk, mode_after(ANY, tk))) <= MAX_RESOLVE_DEPTH;
        }
        let mode = mode_after(ANY, kind);
        let child_mode = if kind == k::DATASEC { ANY } else { mode };
        if !is_sink(child_mode, tk)
            && 1 + self.height(self.frame(t, tk, mode_after(child_mode, tk))) > MAX_RESOLVE_DEPTH
        {
            return false;
        }
        // A PTR or VAR also pushes the PTR its type's resolved modifiers lead to.
        if matches!(kind, k::PTR | k::VAR) && is_mod(tk) {
            return match self.chain_ptr(t) {
                Some(r) if r > root && self.v.own(r) => {
                    self.height(self.frame(r, k::PTR, POINTER)) < MAX_RESOLVE_DEPTH
                }
                Some(_) => true,
                None => false,
            };
        }
        true
    }

    /// Child `j` of the type in `f`, as its resolve step would push it: a modifier's,
    /// PTR's, VAR's or DECL_TAG's type (and for a PTR or VAR, then the PTR its chain of
    /// modifiers leads to); an ARRAY's element and index; each member's or DATASEC
    /// entry's type. `None` past the last; `Some(None)` when a chain is too long.
    fn child(&self, f: &Frame, j: u32) -> Option<Option<u32>> {
        let o = f.off;
        let vlen = || info::vlen(self.word(o + 4));
        match f.kind {
            k::PTR | k::VAR if j == 1 => Some(self.chain_ptr(self.word(o + 8))),
            kind if j == 0 && (is_mod(kind) || matches!(kind, k::PTR | k::VAR | k::DECL_TAG)) => {
                Some(Some(self.word(o + 8)))
            }
            k::ARRAY if j < 2 => Some(Some(self.word(o + 12 + 4 * j as usize))),
            k::STRUCT | k::UNION if j < vlen() => Some(Some(self.word(o + 16 + 12 * j as usize))),
            k::DATASEC if j < vlen() => Some(Some(self.word(o + 12 + 12 * j as usize))),
            _ => None,
        }
    }

    /// The own PTR that the chain of modifiers from `id` leads to (void if it leads
    /// elsewhere; `None` if it is longer than [`CHAIN_LINKS`]).
    fn chain_ptr(&self, mut id: u32) -> Option<u32> {
        for _ in 0..CHAIN_LINKS {
            match self.kind(id) {
                kind if self.v.own(id) && is_mod(kind) => {
                    id = self.word(self.v.btf.type_offset(id)? as usize + 8)
                }
                k::PTR if self.v.own(id) => return Some(id),
                _ => return Some(0),
            }
        }
        None
    }

    /// The height of what the type in `start` can push (itself included), above the
    /// floor; [`OVER`] when that passes the limit.
    fn height(&mut self, start: Frame) -> usize {
        let slot =
            |id: u32, mode: u8| 3 * id.wrapping_sub(self.v.start_id) as usize + usize::from(mode);
        match self.memo.get(slot(start.id, start.mode)) {
            Some(&UNKNOWN) => {}
            Some(&ON_PATH) | None => return OVER,
            Some(&h) => return usize::from(h),
        }
        self.path.clear();
        self.enter(slot(start.id, start.mode), start);
        while let Some(f) = self.path.last() {
            let Some(c) = self.child(f, f.next) else {
                // Every child seen: the frame's height is final.
                let Some(f) = self.path.pop() else { break };
                let h = f.best + 1;
                if let Some(m) = self.memo.get_mut(slot(f.id, f.mode)) {
                    *m = h;
                }
                if self.path.is_empty() {
                    return usize::from(h);
                }
                self.raise(h);
                continue;
            };
            let (fkind, fmode) = (f.kind, f.mode);
            if let Some(f) = self.path.last_mut() {
                f.next += 1;
            }
            let Some(c) = c else { return OVER };
            let ck = self.kind(c);
            // A DATASEC takes each entry back in RESOLVE_TBD (`btf_datasec_resolve`).
            let cmode = if fkind == k::DATASEC { ANY } else { fmode };
            if c <= self.floor || !self.v.own(c) || is_sink(cmode, ck) {
                continue; // resolved (base types always are), or not pushed
            }
            let m2 = mode_after(cmode, ck);
            match self.memo.get(slot(c, m2)).copied() {
                Some(UNKNOWN) if self.path.len() < MAX_RESOLVE_DEPTH => {
                    let f = self.frame(c, ck, m2);
                    self.enter(slot(c, m2), f)
                }
                Some(UNKNOWN | ON_PATH) | None => return OVER,
                Some(h) => self.raise(h),
            }
        }
        OVER
    }

    fn enter(&mut self, slot: usize, f: Frame) {
        if let Some(m) = self.memo.get_mut(slot) {
            *m = ON_PATH;
            self.touched.push(slot as u32);
        }
        self.path.push(f);
    }

    /// Raises the top frame's highest child to `h`.
    fn raise(&mut self, h: u8) {
        if let Some(top) = self.path.last_mut() {
            top.best = top.best.max(h);
        }
    }
}
