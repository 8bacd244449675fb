//! Phase 2: `btf_check_type_tags`.

use super::*;

impl<'a, E: Rd> Validator<'a, E> {
    /// Type tags come first in modifier chains, chains are at most 32 long. `cur < i`
    /// stops the walk (the kernel's `cur_id <= good_id`: lower modifiers, own or base,
    /// were already checked).
    pub(super) fn phase2(&self) -> Result<()> {
        for (i, &s) in self.st.iter().enumerate() {
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
                    return Err(self.err(id, "Max chain length or cycle detected"));
                }
                limit -= 1;
                if kcur == k::TYPE_TAG {
                    if !in_tags {
                        return Err(self.err(id, "Type tags don't precede modifiers"));
                    }
                } else {
                    in_tags = false;
                }
                if cur < id {
                    break;
                }
                cur = self.mod_target(cur);
                if cur > self.last_id {
                    return Err(self.err(id, "Invalid type_id"));
                }
                kcur = self.kind_of(cur);
            }
        }
        Ok(())
    }

    /// The type word of modifier `id` (own or base).
    #[inline]
    fn mod_target(&self, id: u32) -> u32 {
        if self.own(id) {
            // Strict validation has it at hand: a modifier's only edge.
            if let Some(&e) = self.first.get((id - self.start_id) as usize) {
                if let Some(&w) = self.edges.get(e as usize) {
                    return w;
                }
            }
        }
        self.word_of(id, 8)
    }
}
