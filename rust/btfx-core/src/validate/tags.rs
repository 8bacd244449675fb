//! Phase 2: `btf_check_type_tags`.

use super::meta::{Failure, ModLinks};
use super::*;

impl<'a, E: Rd> Validator<'a, E> {
    /// Type tags come first in modifier chains, chains are at most 32 long. `cur < i`
    /// stops the walk (the kernel's `cur_id <= good_id`: lower modifiers, own or base,
    /// were already checked). Own kinds are read from `st`; `mods` lists the own
    /// modifiers and their first links.
    pub(super) fn phase2_in(&self, st: &[u8], mods: &ModLinks) -> Failure {
        for &(i, target) in mods {
            let id = self.start_id + i;
            let kind = st.get(i as usize).map_or(K_NONE, |&s| s & ST_KIND);
            let mut in_tags = kind == k::TYPE_TAG;
            let mut cur = id;
            let mut kcur = kind;
            let mut limit = 32u32;
            while is_mod(kcur) {
                if limit == 0 {
                    return Some((i, "Max chain length or cycle detected".into()));
                }
                limit -= 1;
                if kcur == k::TYPE_TAG {
                    if !in_tags {
                        return Some((i, "Type tags don't precede modifiers".into()));
                    }
                } else {
                    in_tags = false;
                }
                if cur < id {
                    break;
                }
                // The first link is in `mods`; later ones are read from the records.
                cur = if cur == id { target } else { self.word_of(cur, 8) };
                if cur > self.last_id {
                    return Some((i, "Invalid type_id".into()));
                }
                kcur = self.kind_in(st, cur);
            }
        }
        None
    }
}
