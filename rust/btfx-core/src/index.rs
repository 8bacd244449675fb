//! The type-offset index: where each record of a type section starts, found in one
//! pass that rejects unknown kinds and records that do not fit (docs/rules.md T1-T3).
//!
//! Each record's size gives the next record's offset, so the pass is a chain of
//! dependent loads. Large sections are walked as two chains in step, one from the
//! start and one from a guessed record boundary near the middle, which overlaps the
//! two chains' latencies. The guess is kept only if the walk from the start lands on it
//! exactly; otherwise that walk goes on alone. The offsets and the first error are
//! always those of the plain walk from the start.

use crate::endian::ByteOrder;
use crate::error::{Error, Result, Section};
use crate::kind::{info, record_bytes, Kind, RECORD_PARTS};

/// Sections smaller than this are walked as one chain (the guess is not worth it).
const TWO_CHAINS_MIN_BYTES: usize = 32 * 1024;
/// How far past the middle a boundary is looked for, in bytes.
const GUESS_SPAN: usize = 4096;
/// How many records in a row must look well formed from a guessed boundary.
const GUESS_RECORDS: usize = 16;

/// Record offsets of type section `types` (records numbered from `start_id`; `abs_base`
/// is the section's offset in the input, for errors).
pub(crate) fn index_types(
    types: &[u8],
    order: ByteOrder,
    start_id: u32,
    abs_base: u64,
) -> Result<Vec<u32>> {
    // Monomorphised per byte order: every instruction in the chain counts.
    match order {
        ByteOrder::Little => Walk { types, word: u32::from_le_bytes }.index(start_id, abs_base),
        ByteOrder::Big => Walk { types, word: u32::from_be_bytes }.index(start_id, abs_base),
    }
}

struct Walk<'a, W> {
    types: &'a [u8],
    word: W,
}

impl<W: Fn([u8; 4]) -> u32> Walk<'_, W> {
    /// The info word of the record at `off`, if its 12-byte head is inside the section.
    #[inline(always)]
    fn info(&self, off: usize) -> Option<u32> {
        let head = self.types.get(off..)?.first_chunk::<12>()?;
        Some((self.word)([head[4], head[5], head[6], head[7]]))
    }

    /// The size of the record at `off`, or `None` where T1-T3 fail.
    #[inline(always)]
    fn size(&self, off: usize) -> Option<usize> {
        let info = self.info(off)?;
        let size = record_bytes(info);
        if Kind::from_raw(info::kind(info)).is_none() || size > (self.types.len() - off) as u64 {
            return None;
        }
        Some(size as usize)
    }

    /// The size of the record at `off` if it looks like a real record start: as
    /// [`Self::size`], and a vlen that a real record of its kind would have.
    fn plausible(&self, off: usize) -> Option<usize> {
        let info = self.info(off)?;
        let (_, elem_size) = RECORD_PARTS[info::kind(info) as usize];
        let vlen = info::vlen(info);
        if vlen > 0xffff || (elem_size == 0 && vlen > 2) {
            return None;
        }
        self.size(off)
    }

    /// A guessed record boundary past the middle: the first 4-byte offset from which
    /// `GUESS_RECORDS` records in a row look well formed.
    fn middle_guess(&self) -> Option<usize> {
        let len = self.types.len();
        let mid = (len / 2) & !3;
        (mid..len.min(mid + GUESS_SPAN)).step_by(4).find(|&start| {
            let mut at = start;
            for _ in 0..GUESS_RECORDS {
                match self.plausible(at) {
                    Some(size) => at += size,
                    None => return false,
                }
                if at == len {
                    break;
                }
            }
            true
        })
    }

    fn index(&self, start_id: u32, abs_base: u64) -> Result<Vec<u32>> {
        let len = self.types.len();
        // Every record has at least 12 bytes: this bounds the allocation by the input.
        let mut offsets = Vec::with_capacity(len / 12);
        let mut off = 0usize;
        if len >= TWO_CHAINS_MIN_BYTES {
            if let Some(g) = self.middle_guess() {
                off = self.two_chains(g, &mut offsets);
            }
        }
        // One chain: the whole section, or what the two chains left.
        while off < len {
            let Some(size) = self.size(off) else {
                return Err(self.error(start_id, offsets.len(), abs_base + off as u64, off));
            };
            offsets.push(off as u32);
            off += size;
        }
        Ok(offsets)
    }

    /// Walks from 0 and from `g` in step. Pushes into `offsets` the records it is sure
    /// of and returns where the single walk must go on: the end when the walk from 0
    /// landed exactly on `g` and the one from `g` reached the end; otherwise the first
    /// offset not yet indexed on the walk from 0.
    fn two_chains(&self, g: usize, offsets: &mut Vec<u32>) -> usize {
        let len = self.types.len();
        let mut upper = Vec::with_capacity((len - g) / 12);
        let (mut a, mut b) = (0usize, g);
        // Both walks, while neither is done or stopped.
        while a < g && b < len {
            let (Some(sa), Some(sb)) = (self.size(a), self.size(b)) else { break };
            offsets.push(a as u32);
            upper.push(b as u32);
            a += sa;
            b += sb;
        }
        // The walk from 0 alone, up to the guess.
        while a < g {
            let Some(sa) = self.size(a) else { return a };
            offsets.push(a as u32);
            a += sa;
        }
        if a != g {
            return a; // the guess was not a boundary
        }
        offsets.extend_from_slice(&upper);
        b
    }

    /// The T1-T3 error for record number `index` at section offset `off` (blob offset
    /// `at`): truncated head, unknown kind, or trailing data past the section.
    #[cold]
    fn error(&self, start_id: u32, index: usize, at: u64, off: usize) -> Error {
        let tid = u32::try_from(u64::from(start_id) + index as u64).ok();
        let message = match self.info(off) {
            None => "Truncated type record".to_owned(),
            Some(info) => match Kind::from_raw(info::kind(info)) {
                None => format!("Unknown kind {}", info::kind(info)),
                Some(k) => {
                    format!("Truncated {} record: needs {} bytes", k.name(), record_bytes(info))
                }
            },
        };
        Error::format_at(Section::Types, tid, at, message)
    }
}

#[cfg(test)]
mod tests {
    use crate::btf::Btf;
    use crate::builder::TypeWriter;
    use crate::endian::ByteOrder;
    use crate::error::Error;
    use crate::kind::{test_info, Kind};

    const PTR: u32 = test_info::PTR;

    /// The plain walk from the start, written out again: offsets, or the record number,
    /// section offset and message where it stops.
    fn one_chain(types: &[u8], order: ByteOrder) -> Result<Vec<u32>, (usize, u64, String)> {
        use crate::kind::info;
        let mut offsets = Vec::new();
        let mut off = 0usize;
        while off < types.len() {
            let stop = |msg: String| Err((offsets.len(), off as u64, msg));
            if off + 12 > types.len() {
                return stop("Truncated type record".into());
            }
            let info = order.u32_at(types, off + 4);
            let Some(k) = Kind::from_raw(info::kind(info)) else {
                return stop(format!("Unknown kind {}", info::kind(info)));
            };
            let size = k.record_size(info::vlen(info));
            if size > (types.len() - off) as u64 {
                return stop(format!("Truncated {} record: needs {size} bytes", k.name()));
            }
            offsets.push(off as u32);
            off += size as usize;
        }
        Ok(offsets)
    }

    /// `ptrs` PTRs, an ENUM whose values read as a run of PTR records when taken 12
    /// bytes at a time from a word where a value starts (a false boundary for the
    /// guess), then `ptrs` more PTRs; the middle of the section falls in the ENUM.
    fn with_decoy(order: ByteOrder, ptrs: u32, enum_vlen: u32) -> Vec<u8> {
        let mut w = TypeWriter::new(order, 0);
        for _ in 0..ptrs {
            w.push(&[0, PTR, 0]);
        }
        let mut e = vec![0, test_info::ENUM | enum_vlen, 4];
        let fake = [0, PTR, 0];
        e.extend((0..enum_vlen * 2).map(|i| fake[i as usize % 3]));
        w.push(&e);
        for _ in 0..ptrs {
            w.push(&[0, PTR, 0]);
        }
        w.finish(b"\0")
    }

    fn check(blob: &[u8], order: ByteOrder) {
        let types = &blob[24..24 + order.u32_at(blob, 12) as usize];
        match (Btf::from_slice(blob, None), one_chain(types, order)) {
            (Ok(b), Ok(want)) => assert_eq!(b.type_offsets(), &want[..]),
            (Err(Error::Format { type_id, offset, message, .. }), Err((index, off, msg))) => {
                assert_eq!(type_id, Some(1 + index as u32));
                assert_eq!(offset, Some(24 + off));
                assert_eq!(message, msg);
            }
            (got, want) => panic!("{:?} vs {want:?}", got.map(|b| b.nr_types())),
        }
    }

    #[test]
    fn two_chains_index_what_one_chain_does() {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            // The decoy makes the guess wrong; without it (vlen 0) the guess is right.
            for enum_vlen in [0, 1200] {
                let (ptrs, enum_size) = (3000, 12 + 8 * enum_vlen as usize);
                let blob = with_decoy(order, ptrs as u32, enum_vlen);
                assert!(blob.len() > 2 * super::TWO_CHAINS_MIN_BYTES);
                check(&blob, order);
                // An unknown kind in the lower half and in the upper half, and a last
                // record that runs past the end (records other than the ENUM, number
                // `ptrs`, are 12-byte PTRs).
                let info_at =
                    |r: usize| 24 + 12 * r + if r > ptrs { enum_size - 12 } else { 0 } + 4;
                let last = 2 * ptrs;
                let cases = [(100, 25 << 24), (last - 40, 25 << 24), (last, test_info::STRUCT | 1)];
                for (record, info) in cases {
                    let mut bad = blob.clone();
                    order.set_u32(&mut bad, info_at(record), info);
                    check(&bad, order);
                }
                // A last record cut to 8 bytes (its head is truncated).
                let mut cut = blob.clone();
                let end = 24 + order.u32_at(&blob, 12) as usize;
                cut.drain(end - 4..end);
                for at in [12, 16] {
                    order.set_u32(&mut cut, at, order.u32_at(&blob, at) - 4);
                }
                check(&cut, order);
            }
        }
    }
}
