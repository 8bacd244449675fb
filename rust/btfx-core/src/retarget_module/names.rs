//! Completing an id map for `.BTF_ids` by name, as resolve_btfids resolves ids.
//!
//! A rebase maps every type the module's BTF reaches. A `.BTF_ids` slot can also name a
//! vmlinux type that no module type refers to (e.g. a `BTF_ID_LIST` of kernel structs in
//! a split module retargeted to another kernel): its old id is then not in the map. Such
//! ids — and ids the map sends to a declaration (FWD) — are resolved the way
//! resolve_btfids does it (`symbols_resolve`): by kind and name in the new BTF, base
//! first, the first (lowest) id winning when names repeat.

use super::super::btf_ids::{BtfIds, Entry, SlotKind};
use crate::btf::Btf;
use crate::error::{Error, Result};
use crate::kind::Kind;

/// Fills `id_map` (old id → new id) for every nonzero id of `ids` it does not map, from
/// the kind and name of that id in `old`, looked up in `new`. Returns how many ids were
/// resolved this way; an id whose type cannot be found in `new` is an [`Error::Rebase`].
pub fn complete_id_map(ids: &BtfIds, old: &Btf, new: &Btf, id_map: &mut Vec<u32>) -> Result<usize> {
    let mut resolved = 0;
    for (symbol, id) in ids_of(ids) {
        if id == 0 || id_map.get(id as usize).is_some_and(|&n| n != 0 && !is_fwd(new, n)) {
            continue;
        }
        let t = old.type_by_id(id).ok_or_else(|| {
            Error::rebase(Some(id), format!("{symbol}: id {id} is not a type of the module's BTF"))
        })?;
        let kind = t.kind().and_then(SlotKind::of_btf_kind).ok_or_else(|| {
            Error::rebase(
                Some(id),
                format!(
                    "{symbol}: id {id} is a {}, not a struct/union/typedef/func",
                    t.kind_name()
                ),
            )
        })?;
        let name = t.name();
        let found = new.find_by_name(name, Some(kind.btf_kind()));
        let Some(&new_id) = found.first() else {
            return Err(Error::rebase(
                Some(id),
                format!(
                    "{symbol}: {kind} {} (id {id}) does not exist in the target BTF",
                    String::from_utf8_lossy(name)
                ),
            ));
        };
        if id_map.len() <= id as usize {
            id_map.resize(id as usize + 1, 0);
        }
        id_map[id as usize] = new_id;
        resolved += 1;
    }
    Ok(resolved)
}

/// Whether `id` is a declaration in `new` (a struct that retargeting declared instead of
/// copying, see `rebase::forward`): a slot must name the definition, as resolve_btfids'
/// lookup by kind would find it.
fn is_fwd(new: &Btf, id: u32) -> bool {
    new.type_by_id(id).and_then(|t| t.kind()) == Some(Kind::Fwd)
}

/// Every id word of `ids` with the symbol it belongs to.
fn ids_of(ids: &BtfIds) -> impl Iterator<Item = (String, u32)> + '_ {
    ids.entries.iter().flat_map(|e| {
        let values: Vec<u32> = match e {
            Entry::Slot { id, .. } => vec![*id],
            Entry::Set { ids, .. } => ids.clone(),
            Entry::Set8 { pairs, .. } => pairs.iter().map(|p| p.0).collect(),
        };
        let symbol = e.symbol();
        values.into_iter().map(move |v| (symbol.clone(), v))
    })
}
