//! Resolve bytes of base types through long modifier chains.
//!
//! An own type that refers to a base type needs what the base type's modifier chain
//! reaches (`btf_type_skip_modifiers`). Real bases have chains of a few links, walked
//! on the spot ([`Validator::walk_res`]). A malformed base can chain thousands of
//! modifiers, or loop; walking that for every reference would cost references × base
//! size. So the first walk longer than [`LONG_WALK`] links builds this table instead: the
//! answer of the walk for every base id, in one pass over the base. A walk stops
//! after `start_id` links (at most the base's size) when it loops; the table gives the
//! type where that walk would have stopped, so both ways give the same byte.

use super::graph::{proto_args_bad, proto_params, RES_FLAG, RES_VIA_MOD};
use super::*;

/// Links followed on the spot before the table is used.
pub(super) const LONG_WALK: u32 = 64;

/// Where one base id's walk ends, while the table is built.
#[derive(Clone, Copy)]
enum End {
    Unknown,
    /// On the current path (index into it).
    OnPath(u32),
    /// The walk leaves the modifiers at this id (a type, void, an own id or past).
    At(u32),
    /// The walk enters loop `cycle` at its node `entry` after `tail` links.
    Loop {
        cycle: u32,
        entry: u32,
        tail: u32,
    },
}

impl<'a, E: Rd> Validator<'a, E> {
    /// The id a walk from base modifier `id` follows next.
    pub(super) fn next_link(&self, id: u32) -> u32 {
        self.word_of(id, 8)
    }

    /// Whether a walk goes on from `id`: a base modifier.
    pub(super) fn links_on(&self, id: u32) -> bool {
        id != 0 && id < self.start_id && is_mod(self.kind_of(id))
    }

    /// The resolve byte of reaching `cur` (`via`: through at least one modifier).
    pub(super) fn res_at(&self, cur: u32, via: u8) -> u8 {
        let kind = self.kind_of(cur);
        let flag = match kind {
            k::INT => self.regular_int(cur),
            k::FUNC_PROTO => self.base_proto_named(cur),
            _ => false,
        };
        kind | via | if flag { RES_FLAG } else { 0 }
    }

    /// R5 for the FUNC_PROTO `id` (a base type here): every parameter with a type has a
    /// name. Asked once per prototype: a base may have a prototype with thousands of
    /// parameters and many FUNCs on it.
    pub(super) fn base_proto_named(&self, id: u32) -> bool {
        let named = || {
            let params = self.rec(id).map_or(&[][..], |(sec, o)| proto_params::<E>(sec, o));
            proto_args_bad::<E>(params).is_none()
        };
        match self.base_protos.lock() {
            Ok(mut cache) => *cache.entry(id).or_insert_with(named),
            Err(_) => named(),
        }
    }

    /// The resolve byte of every base id (index: id), as [`Validator::walk_res`] with a
    /// budget of `start_id` links gives it.
    pub(super) fn base_chain_table(&self) -> Vec<u8> {
        let n = self.start_id as usize;
        let mut end = vec![End::Unknown; n];
        let mut cycles: Vec<Vec<u32>> = Vec::new();
        let mut path: Vec<u32> = Vec::new();
        for start in 1..n as u32 {
            if !matches!(end[start as usize], End::Unknown) {
                continue;
            }
            if !self.links_on(start) {
                end[start as usize] = End::At(start);
                continue;
            }
            // Follow links until a known end, a non-modifier, or the path itself.
            path.clear();
            let mut cur = start;
            let found = loop {
                if !self.links_on(cur) {
                    break End::At(cur);
                }
                match end[cur as usize] {
                    End::Unknown => {
                        end[cur as usize] = End::OnPath(path.len() as u32);
                        path.push(cur);
                        cur = self.next_link(cur);
                    }
                    End::OnPath(at) => {
                        // A loop: path[at..] in link order.
                        let cycle = cycles.len() as u32;
                        cycles.push(path[at as usize..].to_vec());
                        for (j, &id) in path[at as usize..].iter().enumerate() {
                            end[id as usize] = End::Loop { cycle, entry: j as u32, tail: 0 };
                        }
                        path.truncate(at as usize);
                        break End::Loop { cycle, entry: 0, tail: 0 };
                    }
                    known => break known,
                }
            };
            // The path's nodes, last first, end where `found` says, one link further.
            let mut tail_end = found;
            for &id in path.iter().rev() {
                tail_end = match tail_end {
                    End::Loop { cycle, entry, tail } => End::Loop { cycle, entry, tail: tail + 1 },
                    other => other,
                };
                end[id as usize] = tail_end;
            }
        }
        let budget = self.start_id as u64;
        (0..n as u32)
            .map(|id| match end[id as usize] {
                End::At(cur) => self.res_at(cur, if cur == id { 0 } else { RES_VIA_MOD }),
                End::Loop { cycle, entry, tail } => {
                    let c = &cycles[cycle as usize];
                    // `budget` links in all: `tail` to the loop, the rest around it.
                    let pos = (u64::from(entry) + (budget - u64::from(tail))) % c.len() as u64;
                    self.res_at(c[pos as usize], RES_VIA_MOD)
                }
                End::Unknown | End::OnPath(_) => K_NONE,
            })
            .collect()
    }
}
