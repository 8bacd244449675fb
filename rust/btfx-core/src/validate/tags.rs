//! Phase 2: `btf_check_type_tags`.

use super::meta::Failure;
use super::*;

impl<'a, E: Rd> Validator<'a, E> {
    /// Type tags come first in modifier chains, chains are at most 32 long. `cur < i`
    /// stops the walk (the kernel's `cur_id <= good_id`: lower modifiers, own or base,
    /// were already checked).
    pub(super) fn phase2(&self) -> Result<()> {
        match self.phase2_in(&self.st) {
            Some((i, msg)) => Err(self.err(self.start_id + i, msg)),
            None => Ok(()),
        }
    }

    /// [`Self::phase2`] with own kinds from `st`: the first failing own type.
    pub(super) fn phase2_in(&self, st: &[u8]) -> Failure {
        for (i, &s) in st.iter().enumerate() {
            let kind = s & ST_KIND;
            if !is_mod(kind) {
                continue;
            }
            let id = self.start_id + i as u32;
            let mut in_tags = kind == k::TYPE_TAG;
            let mut cur = id;
            let mut kcur = kind;
            let mut limit = 32u32;
            while is_mod(kcur) {
                if limit == 0 {
                    return Some((i as u32, "Max chain length or cycle detected".into()));
                }
                limit -= 1;
                if kcur == k::TYPE_TAG {
                    if !in_tags {
                        return Some((i as u32, "Type tags don't precede modifiers".into()));
                    }
                } else {
                    in_tags = false;
                }
                if cur < id {
                    break;
                }
                cur = self.word_of(cur, 8);
                if cur > self.last_id {
                    return Some((i as u32, "Invalid type_id".into()));
                }
                kcur = self.kind_in(st, cur);
            }
        }
        None
    }
}
