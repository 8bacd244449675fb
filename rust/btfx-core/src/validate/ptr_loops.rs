//! R13: loops met in the kernel's `RESOLVE_PTR` mode.
//!
//! A PTR is resolved in `RESOLVE_PTR` mode, where only modifiers and PTRs are followed
//! (`env_type_is_resolve_sink`), so any loop its chain of types ends in is "Loop
//! detected": for the PTRs and modifiers whose chain holds a PTR (before or in the
//! loop), the VARs of those, and the DECL_TAGs (on such a TYPEDEF or VAR) and DATASECs
//! (with such a VAR) that name them. A STRUCT or ARRAY stops at a PTR; a loop of
//! modifiers alone also fails R2.
//!
//! Each PTR and modifier has one type field, so they form a functional graph, and a
//! loop in it goes up (to the same or a later id) at its lowest id: the walk lists
//! where that happens ([`Graph::chains_up`]), and only those chains are followed, each
//! from its start while it stays above it. Only when one closes does a full pass find
//! every failing type.

use super::graph::Graph;
use super::*;

/// Links followed from one start before the full pass is run instead.
const SHORT_CHAIN: u32 = 64;

/// Per own type in the full pass: not reached yet, on the chain being followed, its
/// chain ends outside a loop, it fails, its chain ends in a loop without meeting a PTR.
const UNSEEN: u8 = 0;
const ON_PATH: u8 = 1;
const SAFE: u8 = 2;
const FAILS: u8 = 3;
const MOD_LOOP: u8 = 4;

impl<'a, E: Rd> Validator<'a, E> {
    /// Whether own type `id` (of kind from `st`) is a PTR or modifier, and its type.
    fn chain_link(&self, st: &[u8], id: u32) -> Option<u32> {
        let kind = self.kind_in(st, id);
        (self.own(id) && (kind == k::PTR || is_mod(kind))).then(|| self.word_of(id, 8))
    }

    /// The lowest own id failing R13 (`u32::MAX`: none).
    pub(super) fn ptr_loops(&self, g: &Graph) -> u32 {
        let st = &g.st[..];
        // Any loop (one of modifiers alone fails R2 too), or a long chain: the full
        // pass decides.
        let maybe = g.chains_up.iter().any(|&i| {
            let from = self.start_id + i;
            let mut cur = from;
            for _ in 0..SHORT_CHAIN {
                match self.chain_link(st, cur) {
                    Some(next) if next == from => return true,
                    Some(next) if next > from => cur = next,
                    _ => return false,
                }
            }
            true
        });
        if maybe {
            self.ptr_loops_all(st)
        } else {
            u32::MAX
        }
    }

    /// R13 over all own types (rare: a loop of PTRs and modifiers, or a long chain).
    #[cold]
    fn ptr_loops_all(&self, st: &[u8]) -> u32 {
        let n = st.len();
        let mut state = vec![UNSEEN; n];
        let mut path: Vec<u32> = Vec::new();
        for i in 0..n {
            let mut cur = self.start_id + i as u32;
            path.clear();
            // Follow the chain to a type already decided, one outside the chains, or
            // the path itself (a loop: it fails if it holds a PTR).
            let mut end = loop {
                let rel = (cur.wrapping_sub(self.start_id)) as usize;
                match state.get(rel) {
                    Some(&ON_PATH) => {
                        let at = path.iter().position(|&p| p == cur).unwrap_or(0);
                        let cycle = path.get(at..).unwrap_or(&[]);
                        let ptr = cycle.iter().any(|&p| self.kind_in(st, p) == k::PTR);
                        break if ptr { FAILS } else { MOD_LOOP };
                    }
                    Some(&UNSEEN) => {}
                    Some(&decided) => break decided,
                    None => break SAFE,
                }
                let Some(next) = self.chain_link(st, cur) else { break SAFE };
                if let Some(s) = state.get_mut(rel) {
                    *s = ON_PATH;
                }
                path.push(cur);
                cur = next;
            };
            // Back along the path: a PTR before a loop of modifiers fails, and so does
            // everything before it.
            for &p in path.iter().rev() {
                if end == MOD_LOOP && self.kind_in(st, p) == k::PTR {
                    end = FAILS;
                }
                if let Some(s) = state.get_mut((p - self.start_id) as usize) {
                    *s = end;
                }
            }
        }
        let fails =
            |id: u32| self.own(id) && state.get((id - self.start_id) as usize) == Some(&FAILS);
        // VARs resolved into such a loop, then DECL_TAGs and DATASECs naming either.
        let var_fails = |id: u32| self.kind_in(st, id) == k::VAR && fails(self.word_of(id, 8));
        let mut lowest = (0..n as u32).map(|i| self.start_id + i).find(|&id| fails(id));
        for (i, &s) in st.iter().enumerate() {
            let id = self.start_id + i as u32;
            if lowest.is_some_and(|low| low <= id) {
                break;
            }
            let bad = match s & ST_KIND {
                k::VAR => var_fails(id),
                k::DECL_TAG => {
                    let t = self.word_of(id, 8);
                    (self.kind_in(st, t) == k::TYPEDEF && fails(t)) || var_fails(t)
                }
                k::DATASEC => {
                    let entries = info::vlen(self.word_of(id, 4)) as usize;
                    (0..entries).any(|j| var_fails(self.word_of(id, 12 + 12 * j)))
                }
                _ => false,
            };
            if bad {
                lowest = Some(id);
            }
        }
        lowest.unwrap_or(u32::MAX)
    }
}
