//! Rewriting the ids of `.BTF_ids` through an id map.

use super::{read_u32, write_u32, BtfIds, Entry};
use crate::error::{Error, Result};

/// What [`fixup`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FixupReport {
    /// Id words looked at (zeros included).
    pub ids: usize,
    /// Id words whose value the map changed.
    pub ids_changed: usize,
    /// Sets and set8s whose order had to change after mapping.
    pub sets_resorted: usize,
}

/// Maps every id of `section` (the bytes of the `.BTF_ids` that `ids` was parsed from)
/// through `id_map` (old id → new id) and returns the new section bytes.
///
/// Every nonzero id is mapped by value; zeros (unresolved slots) stay zero; an id past
/// the end of the map or mapping to 0 is an [`Error::Rebase`] naming the symbol. Each
/// set is then sorted ascending comparing ids as signed ints and each set8 by pair id,
/// flags moving with their id — what resolve_btfids `sets_patch` does, with a stable sort
/// so that equal ids keep their order. Set and set8 header words (count, set flags) and
/// bytes no symbol covers are copied unchanged. The identity map returns `section`
/// unchanged when its sets are sorted, as resolve_btfids leaves them.
pub fn fixup(ids: &BtfIds, section: &[u8], id_map: &[u32]) -> Result<(Vec<u8>, FixupReport)> {
    if section.len() as u64 != ids.section_size {
        return Err(Error::input(format!(
            ".BTF_ids: section has {} bytes but was parsed with {}",
            section.len(),
            ids.section_size
        )));
    }
    let be = ids.big_endian;
    let mut out = section.to_vec();
    let mut report = FixupReport::default();
    let read = |off: u64, symbol: &dyn Fn() -> String| {
        read_u32(section, off, be).ok_or_else(|| {
            Error::input(format!(".BTF_ids: {}: word at {off:#x} is past the end", symbol()))
        })
    };
    let map = |id: u32, what: &dyn Fn() -> String, report: &mut FixupReport| -> Result<u32> {
        report.ids += 1;
        if id == 0 {
            return Ok(0);
        }
        match id_map.get(id as usize) {
            Some(&new) if new != 0 => {
                if new != id {
                    report.ids_changed += 1;
                }
                Ok(new)
            }
            Some(_) => Err(Error::rebase(
                Some(id),
                format!(".BTF_ids: {}: id {id} has no new id (maps to 0)", what()),
            )),
            None => Err(Error::rebase(
                Some(id),
                format!(
                    ".BTF_ids: {}: id {id} is outside the id map ({} entries)",
                    what(),
                    id_map.len()
                ),
            )),
        }
    };
    let write = |out: &mut Vec<u8>, off: u64, v: u32| {
        if write_u32(out, off, v, be) {
            Ok(())
        } else {
            Err(Error::input(format!(".BTF_ids: word at {off:#x} is past the end")))
        }
    };

    for e in &ids.entries {
        let symbol = || e.symbol();
        match e {
            Entry::Slot { offset, .. } => {
                let id = read(*offset, &symbol)?;
                let new = map(id, &symbol, &mut report)?;
                write(&mut out, *offset, new)?;
            }
            Entry::Set { offset, count, .. } => {
                let mut set = Vec::with_capacity(capacity(*count, section));
                for i in 0..u64::from(*count) {
                    let id = read(word_at(*offset, 4, 4, i), &symbol)?;
                    let what = || format!("{} element {i}", e.symbol());
                    set.push(map(id, &what, &mut report)?);
                }
                let before = set.clone();
                set.sort_by_key(|&id| id as i32);
                if set != before {
                    report.sets_resorted += 1;
                }
                for (i, id) in (0u64..).zip(set) {
                    write(&mut out, word_at(*offset, 4, 4, i), id)?;
                }
            }
            Entry::Set8 { offset, count, .. } => {
                let mut pairs = Vec::with_capacity(capacity(*count, section));
                for i in 0..u64::from(*count) {
                    let at = word_at(*offset, 8, 8, i);
                    let (id, flags) = (read(at, &symbol)?, read(at.saturating_add(4), &symbol)?);
                    let what = || format!("{} pair {i}", e.symbol());
                    pairs.push((map(id, &what, &mut report)?, flags));
                }
                let before = pairs.clone();
                pairs.sort_by_key(|&(id, _)| id as i32);
                if pairs != before {
                    report.sets_resorted += 1;
                }
                for (i, (id, flags)) in (0u64..).zip(pairs) {
                    let at = word_at(*offset, 8, 8, i);
                    write(&mut out, at, id)?;
                    write(&mut out, at.saturating_add(4), flags)?;
                }
            }
        }
    }
    Ok((out, report))
}

/// Offset of element `i` of a set at `offset` (header `first` bytes, `stride` per element);
/// saturating, so a hand-made [`BtfIds`] with absurd offsets gives an error, not a panic.
fn word_at(offset: u64, first: u64, stride: u64, i: u64) -> u64 {
    offset.saturating_add(first).saturating_add(stride.saturating_mul(i))
}

/// A preallocation bounded by what the section can hold.
fn capacity(count: u32, section: &[u8]) -> usize {
    (count as usize).min(section.len() / 4)
}
