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

use super::exact::{Mode, MAX_RESOLVE_DEPTH};
use super::graph::id_words;
use super::spare::Spare;
use super::*;

/// A memo entry: not known yet, or on the current path; else the height.
const UNKNOWN: u8 = 0;
const ON_PATH: u8 = u8::MAX;

/// A height past the kernel's limit (or a loop, which the fast pass would have failed).
const OVER: usize = MAX_RESOLVE_DEPTH + 1;

/// Modifier links followed to find the PTR a chain leads to, before giving up (OVER).
const CHAIN_LINKS: usize = 64;

/// A child standing for a modifier chain longer than [`CHAIN_LINKS`] (no type id is).
const TOO_LONG: u32 = u32::MAX;

/// The memo of the last validation, every entry UNKNOWN again.
static SPARE: Spare<u8> = Spare::new();

/// Where one kind's pushed type ids sit in its record: up to two single words (byte
/// offsets, 0: none), and a per-element word (`elem_at`, every `stride` bytes; stride
/// 0: none).
#[derive(Clone, Copy)]
struct Pushed {
    one: [u8; 2],
    elem_at: u8,
    stride: u8,
}

/// [`Pushed`] by raw kind, from the field table: every type-id field of the kind but a
/// FUNC's (`btf_func_resolve` pushes nothing).
static PUSHED: [Pushed; 20] = {
    let mut t = [Pushed { one: [0, 0], elem_at: 0, stride: 0 }; 20];
    let mut kind = 1;
    while kind < 20 {
        if kind != k::FUNC as usize {
            let (one, elem_at, stride) = id_words(kind);
            t[kind] = Pushed { one, elem_at, stride };
        }
        kind += 1;
    }
    t
};

/// Calls `f` with each type id that the record at `off` of type section `sec` names
/// where the kernel's resolve pass may push it, or resolve it from a FUNC_PROTO's turn
/// ([`PUSHED`]).
#[inline(always)]
pub(super) fn for_each_pushed<E: Rd>(sec: &[u8], off: usize, mut f: impl FnMut(u32)) {
    let Some(head) = sec.get(off..).and_then(|r| r.first_chunk::<12>()) else { return };
    let inf = E::at(head, 1);
    let Some(p) = PUSHED.get(info::kind(inf) as usize) else { return };
    for at in p.one.into_iter().filter(|&at| at != 0) {
        f(sec
            .get(off + usize::from(at)..)
            .and_then(|b| b.first_chunk::<4>())
            .map_or(0, |c| E::at(c, 0)));
    }
    if p.stride != 0 {
        let (first, stride) = (off + usize::from(p.elem_at), usize::from(p.stride));
        let n = info::vlen(inf) as usize;
        // Each chunk starts at one element's id word.
        let elems = sec.get(first..(first + stride * n).min(sec.len())).unwrap_or(&[]);
        elems.chunks(stride).filter(|e| e.len() >= 4).for_each(|e| f(E::u32(e, 0)));
    }
}

/// A type on the bound's path: its id, kind and mode (after its push), where its
/// children start in [`Heights::pending`] and the next one to look at, and the highest
/// child so far.
struct Frame {
    id: u32,
    kind: u8,
    mode: Mode,
    first: usize,
    next: usize,
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
    /// The children of the types on the path.
    pending: Vec<u32>,
    /// The current root: only later children count.
    floor: u32,
}

impl<'a, E: Rd> Validator<'a, E> {
    /// Whether no search of the kernel's resolve pass can hold more than
    /// [`MAX_RESOLVE_DEPTH`] types (false: it might; see the module doc), given every
    /// own type's raw kind in `kinds` and the (type, later type it names) pairs phase 1
    /// found, in increasing order.
    pub(super) fn depth_fits(&self, kinds: &[u8], later: &[(u32, u32)]) -> bool {
        let memo = SPARE.take(3 * kinds.len(), UNKNOWN);
        let mut h = Heights {
            v: self,
            kinds,
            memo,
            touched: Vec::new(),
            path: Vec::new(),
            pending: Vec::new(),
            floor: 0,
        };
        let fits = later.iter().all(|&(root, t)| h.edge_fits(root, t));
        for &slot in &h.touched {
            if let Some(m) = h.memo.get_mut(slot as usize) {
                *m = UNKNOWN;
            }
        }
        SPARE.give_back(h.memo);
        fits
    }
}

impl<E: Rd> Heights<'_, '_, E> {
    fn kind(&self, id: u32) -> u8 {
        let i = id.wrapping_sub(self.v.start_id) as usize;
        self.kinds.get(i).map_or(K_NONE, |&kind| kind & ST_KIND)
    }

    /// Whether what own type `root` pushes through its later type `t` fits the stack,
    /// with the root below it; for a FUNC_PROTO, whether the search of `t` at its turn
    /// fits. (Only later types count: the others are resolved by the root's turn.)
    fn edge_fits(&mut self, root: u32, t: u32) -> bool {
        self.floor = root;
        let kind = self.kind(root);
        if kind == k::FUNC_PROTO {
            return match self.pushed(Mode::Any, t) {
                Ok(Some((tk, mode))) => self.height(t, tk, mode) <= MAX_RESOLVE_DEPTH,
                Ok(None) => true,
                Err(()) => false,
            };
        }
        let mode = Mode::Any.after_push(kind);
        let via = self.via_ptr(kind, t);
        [Some(t), via].into_iter().flatten().all(|c| match self.pushed(child_mode(kind, mode), c) {
            Ok(Some((ck, m))) => self.height(c, ck, m) < MAX_RESOLVE_DEPTH,
            Ok(None) => true,
            Err(()) => false,
        })
    }

    /// Whether child `c` is pushed by a type whose children are looked at in `mode`:
    /// its kind and the mode after its push if so; `None` if it is resolved by then (at
    /// or below the floor, or a base type) or a sink; `Err` for [`TOO_LONG`].
    fn pushed(&self, mode: Mode, c: u32) -> Result<Option<(u8, Mode)>, ()> {
        if c == TOO_LONG {
            return Err(());
        }
        let ck = self.kind(c);
        if c <= self.floor || !self.v.own(c) || mode.sink(ck) {
            return Ok(None);
        }
        Ok(Some((ck, mode.after_push(ck))))
    }

    /// For a PTR or VAR naming a modifier `t`: the PTR that `t`'s resolved chain leads
    /// to, which it pushes too (`btf_ptr_resolve`, `btf_var_resolve`); void if the chain
    /// leads elsewhere, [`TOO_LONG`] past [`CHAIN_LINKS`] links.
    fn via_ptr(&self, kind: u8, mut t: u32) -> Option<u32> {
        if !matches!(kind, k::PTR | k::VAR) || !is_mod(self.kind(t)) {
            return None;
        }
        for _ in 0..CHAIN_LINKS {
            match self.kind(t) {
                tk if self.v.own(t) && is_mod(tk) => t = self.v.word_of(t, 8),
                k::PTR if self.v.own(t) => return Some(t),
                _ => return Some(0),
            }
        }
        Some(TOO_LONG)
    }

    /// Enters own type `id` of `kind` (pushed in `mode`): marks it on the path and lists
    /// its children.
    fn enter(&mut self, id: u32, kind: u8, mode: Mode) {
        if let Some(m) = self.memo.get_mut(slot(self.v.start_id, id, mode)) {
            *m = ON_PATH;
            self.touched.push(slot(self.v.start_id, id, mode) as u32);
        }
        let first = self.pending.len();
        if let Some(off) = self.v.btf.type_offset(id) {
            let pending = &mut self.pending;
            for_each_pushed::<E>(self.v.sec, off as usize, |c| pending.push(c));
        }
        let named = self.pending.get(first).copied();
        if let Some(via) = named.and_then(|t| self.via_ptr(kind, t)) {
            self.pending.push(via);
        }
        self.path.push(Frame { id, kind, mode, first, next: first, best: 0 });
    }

    /// The height of what own type `id` of `kind`, pushed with `mode` after it, can
    /// push (itself included), above the floor; [`OVER`] when that passes the limit.
    fn height(&mut self, id: u32, kind: u8, mode: Mode) -> usize {
        let start = self.v.start_id;
        match self.memo.get(slot(start, id, mode)) {
            Some(&UNKNOWN) => {}
            Some(&ON_PATH) | None => return OVER,
            Some(&h) => return usize::from(h),
        }
        self.path.clear();
        self.pending.clear();
        self.enter(id, kind, mode);
        while let Some(f) = self.path.last_mut() {
            let Some(&c) = self.pending.get(f.next) else {
                // Every child seen: the frame's height is final.
                let (fid, fmode, first, h) = (f.id, f.mode, f.first, f.best + 1);
                self.path.pop();
                self.pending.truncate(first);
                if let Some(m) = self.memo.get_mut(slot(start, fid, fmode)) {
                    *m = h;
                }
                if self.path.is_empty() {
                    return usize::from(h);
                }
                self.raise(h);
                continue;
            };
            f.next += 1;
            let (fkind, fmode) = (f.kind, f.mode);
            let (ck, m2) = match self.pushed(child_mode(fkind, fmode), c) {
                Ok(Some(pushed)) => pushed,
                Ok(None) => continue,
                Err(()) => return OVER,
            };
            match self.memo.get(slot(start, c, m2)).copied() {
                Some(UNKNOWN) if self.path.len() < MAX_RESOLVE_DEPTH => self.enter(c, ck, m2),
                Some(UNKNOWN | ON_PATH) | None => return OVER,
                Some(h) => self.raise(h),
            }
        }
        OVER
    }

    /// Raises the top frame's highest child to `h`.
    fn raise(&mut self, h: u8) {
        if let Some(top) = self.path.last_mut() {
            top.best = top.best.max(h);
        }
    }
}

/// The mode a type of `kind`, pushed with `mode` after it, looks at its children in: a
/// DATASEC takes each entry back in RESOLVE_TBD (`btf_datasec_resolve`).
fn child_mode(kind: u8, mode: Mode) -> Mode {
    if kind == k::DATASEC {
        Mode::Any
    } else {
        mode
    }
}

/// The memo index of own type `id` (own ids from `start_id`) in `mode`.
fn slot(start_id: u32, id: u32, mode: Mode) -> usize {
    3 * id.wrapping_sub(start_id) as usize + mode as usize
}
