//! Checking `.BTF_ids` against the BTF whose ids it should hold.

use std::collections::HashMap;

use super::{BtfIds, Entry, Member, SlotKind};
use crate::btf::Btf;

/// One disagreement between `.BTF_ids` and the BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Offset inside the section of the slot or set concerned.
    pub offset: u64,
    /// The symbol concerned (slots: without the `__<digits>` suffix).
    pub symbol: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (offset {:#x}): {}", self.symbol, self.offset, self.message)
    }
}

/// What id `id` names in `btf`, as a slot would spell it; `Err` says why it cannot.
fn decode(btf: &Btf, id: u32) -> Result<(SlotKind, String), String> {
    let t = btf.type_by_id(id).ok_or_else(|| format!("id {id} is not a type of the BTF"))?;
    let name = String::from_utf8_lossy(t.name()).into_owned();
    match t.kind().and_then(SlotKind::of_btf_kind) {
        Some(k) => Ok((k, name)),
        None => {
            Err(format!("id {id} is {} {name:?}, not a struct/union/typedef/func", t.kind_name()))
        }
    }
}

/// Checks every resolved id of `ids` against `btf` (the module's BTF, split on its base).
///
/// * A slot outside sets holding a nonzero id must name a type of the slot's kind and
///   name (zeros are unresolved slots, as resolve_btfids leaves them, and pass).
/// * A set or set8 is checked as a multiset: every nonzero id must name a type that some
///   member symbol names (kind and name), each member used once, and every member left
///   over must be matched by a zero; ids must be sorted ascending (signed compare, as
///   resolve_btfids `cmp_id`).
///
/// The "first id wins" choice of resolve_btfids between types of the same name is not
/// checked. An empty result means the section agrees with the BTF.
pub fn check(ids: &BtfIds, btf: &Btf) -> Vec<Problem> {
    let mut out = Vec::new();
    for e in &ids.entries {
        let mut problem = |message: String| {
            out.push(Problem { offset: e.offset(), symbol: e.symbol(), message });
        };
        match e {
            Entry::Slot { kind, name, id, .. } => {
                if *id == 0 {
                    continue;
                }
                match decode(btf, *id) {
                    Ok((k, n)) if k == *kind && n == *name => {}
                    Ok((k, n)) => problem(format!("id {id} names {k} {n}, not {kind} {name}")),
                    Err(m) => problem(m),
                }
            }
            Entry::Set { ids: set, members, .. } => check_set(btf, set, members, &mut problem),
            Entry::Set8 { pairs, members, .. } => {
                let set: Vec<u32> = pairs.iter().map(|p| p.0).collect();
                check_set(btf, &set, members, &mut problem);
            }
        }
    }
    out
}

fn check_set(btf: &Btf, set: &[u32], members: &[Member], problem: &mut impl FnMut(String)) {
    if !set.windows(2).all(|w| matches!(w, [a, b] if (*a as i32) <= (*b as i32))) {
        problem("ids are not sorted ascending".to_owned());
    }
    let mut wanted: HashMap<(SlotKind, String), usize> = HashMap::new();
    for m in members {
        *wanted.entry((m.kind, m.name.clone())).or_default() += 1;
    }
    let mut zeros = 0usize;
    for &id in set {
        if id == 0 {
            zeros += 1;
            continue;
        }
        match decode(btf, id) {
            Ok((k, n)) => match wanted.get_mut(&(k, n.clone())) {
                Some(c) if *c > 0 => *c -= 1,
                _ => problem(format!("id {id} names {k} {n}, which no member symbol names")),
            },
            Err(m) => problem(m),
        }
    }
    let mut missing: Vec<String> = wanted
        .iter()
        .filter(|(_, &c)| c > 0)
        .flat_map(|((k, n), &c)| std::iter::repeat_n(format!("{k} {n}"), c))
        .collect();
    if missing.len() > zeros {
        missing.sort();
        problem(format!(
            "members without an id in the set ({} unresolved zeros): {}",
            zeros,
            missing.join(", ")
        ));
    }
}
