//! `retarget`: split BTF built against one vmlinux, moved onto another
//! (docs/rebase.md §4) — detach, then dedup-rebase onto the new base, with one id map
//! covering the old base ids and the old split ids (module `.BTF_ids` mix both).

use std::collections::HashMap;

use crate::btf::Btf;
use crate::error::{Error, Result};
use crate::rebase::base_index::BaseIndex;
use crate::rebase::dedup::dedup;
use crate::rebase::detach::detach;
use crate::rebase::equiv::classify;
use crate::rebase::Rebased;

/// Old base id → the unique structurally equivalent new base id (0 when there is none
/// or more than one). Computed once per pair of kernels and reused for every module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseMap {
    map: Vec<u32>,
}

impl BaseMap {
    pub fn new(old_base: &Btf, new_base: &Btf) -> Result<BaseMap> {
        if old_base.is_split() || new_base.is_split() {
            return Err(Error::rebase(None, "base maps are computed between base (vmlinux) BTFs"));
        }
        let classes = classify(&[old_base, new_base]);
        let mut by_class: HashMap<u32, (u32, u32)> = HashMap::new(); // class -> (id, count)
        for id in new_base.start_id()..new_base.type_cnt() {
            if let Some(c) = classes.class_of(1, id) {
                let e = by_class.entry(c).or_insert((id, 0));
                e.1 += 1;
            }
        }
        let mut map = vec![0u32; old_base.type_cnt() as usize];
        for id in old_base.start_id()..old_base.type_cnt() {
            if let Some(&(new_id, 1)) = classes.class_of(0, id).and_then(|c| by_class.get(&c)) {
                map[id as usize] = new_id;
            }
        }
        Ok(BaseMap { map })
    }

    /// The new id of old base id `id` (0: no unique counterpart; void maps to void).
    pub fn get(&self, id: u32) -> u32 {
        self.map.get(id as usize).copied().unwrap_or(0)
    }

    /// Number of old base types with a unique counterpart.
    pub fn mapped(&self) -> usize {
        self.map.iter().filter(|&&x| x != 0).count()
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.map
    }
}

/// Retargets `split` (parsed on its old base) onto `new`'s base. Old base ids that the
/// split types do not reach are mapped through `base_map` when given, else to 0.
pub fn retarget(split: &Btf, new: &BaseIndex, base_map: Option<&BaseMap>) -> Result<Rebased> {
    let detached = detach(split)?;
    let standalone = Btf::from_slice(&detached.btf, None)?;
    let rebased = dedup(&standalone, new)?;
    Ok(compose(split.start_id(), &detached, None, rebased, base_map))
}

/// Chains a detach (`detached`, ids and strings of split BTF starting at `start`) with a
/// rebase of its result (`rebased`): old id → new id, old string → new string.
/// `reduce` maps detached ids to the ids of the standalone BTF that was actually rebased
/// (a reduced copy; `None`: that BTF itself, string offsets unchanged either way). Old
/// base ids left without an image go through `base_map` when given, else to 0.
pub(crate) fn compose(
    start: u32,
    detached: &Rebased,
    reduce: Option<&[u32]>,
    rebased: Rebased,
    base_map: Option<&BaseMap>,
) -> Rebased {
    let id_map = detached
        .id_map
        .iter()
        .enumerate()
        .map(|(old, &mid)| {
            let mid = match reduce {
                Some(r) => r.get(mid as usize).copied().unwrap_or(0),
                None => mid,
            };
            if mid != 0 {
                rebased.id_map.get(mid as usize).copied().unwrap_or(0)
            } else if (old as u32) < start {
                base_map.map_or(0, |m| m.get(old as u32))
            } else {
                0
            }
        })
        .collect();
    let mid_to_new: HashMap<u32, u32> = rebased.str_map.iter().copied().collect();
    let mut str_map: Vec<(u32, u32)> = detached
        .str_map
        .iter()
        .filter_map(|&(old, mid)| mid_to_new.get(&mid).map(|&new| (old, new)))
        .collect();
    str_map.sort_unstable();
    Rebased { btf: rebased.btf, id_map, str_map }
}
