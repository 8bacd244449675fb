//! The type-offset index: where each record of a type section starts, found in one
//! pass that rejects unknown kinds and records that do not fit (docs/rules.md T1-T3).
//!
//! Each record's size gives the next record's offset, so the pass is a chain of
//! dependent loads. Large sections are walked as two or four chains in step, one from
//! the start and one from a guessed record boundary near each half or quarter mark,
//! which overlaps the chains' latencies. A guess is kept only if the chain before it,
//! itself started from a kept boundary, lands on it exactly; from the first chain that
//! does not, the walk goes on alone. The offsets and the first error are always those
//! of the plain walk from the start ([`plain_walk`]).

use crate::endian::ByteOrder;
use crate::error::{Error, Result, Section};
use crate::kind::{info, record_bytes, Kind, RECORD_PARTS};

/// Sections smaller than this are walked as one chain (a guess is not worth it).
const TWO_CHAINS_MIN_BYTES: usize = 32 * 1024;
/// Sections from this size on are walked as four chains.
const FOUR_CHAINS_MIN_BYTES: usize = 256 * 1024;
/// How far past a half or quarter mark a boundary is looked for, in bytes.
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

    /// A guessed record boundary at or past `mark`: the first 4-byte offset from which
    /// `GUESS_RECORDS` records in a row look well formed.
    fn guess(&self, mark: usize) -> Option<usize> {
        let len = self.types.len();
        let mark = mark & !3;
        (mark..len.min(mark + GUESS_SPAN)).step_by(4).find(|&start| {
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

    /// Chain starts: 0, then a guess at each of the `N - 1` marks that split the
    /// section evenly (`None` if one is missing or not past the one before).
    fn starts<const N: usize>(&self) -> Option<[usize; N]> {
        let len = self.types.len();
        let mut starts = [0usize; N];
        for j in 1..N {
            starts[j] = self.guess(len / N * j)?;
            if starts[j] <= starts[j - 1] {
                return None;
            }
        }
        Some(starts)
    }

    fn index(&self, start_id: u32, abs_base: u64) -> Result<Vec<u32>> {
        let len = self.types.len();
        // Every record has at least 12 bytes: this bounds the allocation by the input.
        let mut offsets = Vec::with_capacity(len / 12);
        let mut off = 0usize;
        if len >= FOUR_CHAINS_MIN_BYTES {
            if let Some(starts) = self.starts::<4>() {
                off = self.chains(starts, &mut offsets);
            }
        } else if len >= TWO_CHAINS_MIN_BYTES {
            if let Some(starts) = self.starts::<2>() {
                off = self.chains(starts, &mut offsets);
            }
        }
        // One chain: the whole section, or what the chains left.
        while off < len {
            let Some(size) = self.size(off) else {
                return Err(self.error(start_id, offsets.len(), abs_base + off as u64, off));
            };
            offsets.push(off as u32);
            off += size;
        }
        Ok(offsets)
    }

    /// Walks `N` chains in step, chain `j` from `starts[j]` up to `starts[j + 1]` (the
    /// last one up to the end). Pushes into `offsets` the records it is sure of and
    /// returns where the single walk must go on: the end when every chain landed
    /// exactly on the next one's start; otherwise the first offset not yet indexed on
    /// the first chain that did not (its start was a boundary: the chain before landed
    /// on it).
    fn chains<const N: usize>(&self, starts: [usize; N], offsets: &mut Vec<u32>) -> usize {
        let len = self.types.len();
        let ends: [usize; N] = std::array::from_fn(|j| starts.get(j + 1).copied().unwrap_or(len));
        // Chain 0 fills `offsets`; the others their own lists, appended once verified.
        let mut lists: [Vec<u32>; N] = std::array::from_fn(|j| {
            Vec::with_capacity(if j == 0 { 0 } else { (ends[j] - starts[j]) / 12 })
        });
        let mut pos = starts;
        // All chains in step, each until it reaches its end or a bad record (the
        // halves of kernel BTF differ in record sizes: chains end at different times).
        let mut stopped = [false; N];
        loop {
            let mut busy = false;
            for j in 0..N {
                if stopped[j] || pos[j] >= ends[j] {
                    continue;
                }
                busy = true;
                let Some(size) = self.size(pos[j]) else {
                    stopped[j] = true;
                    continue;
                };
                let list = if j == 0 { &mut *offsets } else { &mut lists[j] };
                list.push(pos[j] as u32);
                pos[j] += size;
            }
            if !busy {
                break;
            }
        }
        // Stitch while the boundaries hold.
        for j in 0..N {
            if j > 0 {
                offsets.extend_from_slice(&lists[j]);
            }
            if pos[j] != ends[j] {
                return pos[j]; // an error, or the next start was not a boundary
            }
        }
        len
    }

    /// The T1-T3 error for record number `index` at section offset `off` (blob offset
    /// `at`): truncated head, unknown kind, or trailing data past the section.
    #[cold]
    fn error(&self, start_id: u32, index: usize, at: u64, off: usize) -> Error {
        let tid = u32::try_from(u64::from(start_id) + index as u64).ok();
        let info = self.info(off);
        let message = record_error(info, (self.types.len() - off) as u64);
        Error::format_at(Section::Types, tid, at, message)
    }
}

/// The T1-T3 message for a record with `left` bytes of the section from its start and
/// info word `info` (`None`: its head does not fit), worded as `btf_check_meta` logs
/// it: `meta_left` and `meta_needed` count the head, then the trailing data after it.
#[cold]
pub(crate) fn record_error(info: Option<u32>, left: u64) -> String {
    const HEAD: u64 = 12;
    let Some(info) = info else {
        return format!("Truncated type record: meta_left:{left} meta_needed:{HEAD}");
    };
    // Bits outside the classic encoding (vlen past 16 bits, kind past 5) are "unused"
    // ones to the kernels of that encoding, which test them first.
    if info & !info::CLASSIC_MASK != 0 {
        return format!("Invalid btf_info:{info:x}");
    }
    let kind = info::kind(info);
    match Kind::from_raw(kind) {
        None => format!("Invalid kind:{kind}"),
        Some(k) => format!(
            "Truncated {} record: meta_left:{} meta_needed:{}",
            k.name(),
            left - HEAD,
            record_bytes(info) - HEAD
        ),
    }
}

/// The plain walk from the start, written on its own from the record rules (not from
/// the chained walk above): record offsets, or the record number, section offset and
/// message where a record's head or body does not fit or its kind is unknown. The
/// reference the index is tested and fuzzed against.
pub fn plain_walk(
    types: &[u8],
    order: ByteOrder,
) -> std::result::Result<Vec<u32>, (u32, u64, String)> {
    let mut offsets = Vec::new();
    let mut off = 0usize;
    while off < types.len() {
        let left = types.len() - off;
        let stop = |info| Err((offsets.len() as u32, off as u64, record_error(info, left as u64)));
        if left < 12 {
            return stop(None);
        }
        let info = order.u32_at(types, off + 4);
        let Some(k) = Kind::from_raw(info::kind(info)) else {
            return stop(Some(info));
        };
        let size = k.record_size(info::vlen(info));
        if size > left as u64 {
            return stop(Some(info));
        }
        offsets.push(off as u32);
        off += size as usize;
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::plain_walk;
    use crate::btf::Btf;
    use crate::builder::TypeWriter;
    use crate::endian::ByteOrder;
    use crate::error::Error;
    use crate::kind::test_info;

    const PTR: u32 = test_info::PTR;

    /// `before` PTRs, an ENUM whose values read as a run of PTR records when taken 12
    /// bytes at a time from a word where a value starts (a false boundary for a guess
    /// whose mark falls in it), then `after` more PTRs.
    fn with_decoy(order: ByteOrder, before: u32, enum_vlen: u32, after: u32) -> Vec<u8> {
        let mut w = TypeWriter::new(order, 0);
        for _ in 0..before {
            w.push(&[0, PTR, 0]);
        }
        let mut e = vec![0, test_info::ENUM | enum_vlen, 4];
        let fake = [0, PTR, 0];
        e.extend((0..enum_vlen * 2).map(|i| fake[i as usize % 3]));
        w.push(&e);
        for _ in 0..after {
            w.push(&[0, PTR, 0]);
        }
        w.finish(b"\0")
    }

    fn check(blob: &[u8], order: ByteOrder) {
        let types = &blob[24..24 + order.u32_at(blob, 12) as usize];
        match (Btf::from_slice(blob, None), plain_walk(types, order)) {
            (Ok(b), Ok(want)) => assert_eq!(b.type_offsets(), &want[..]),
            (Err(Error::Format { type_id, offset, message, .. }), Err((index, off, msg))) => {
                assert_eq!(type_id, Some(1 + index));
                assert_eq!(offset, Some(24 + off));
                assert_eq!(message, msg);
            }
            (got, want) => panic!("{:?} vs {want:?}", got.map(|b| b.nr_types())),
        }
    }

    /// A section of `total` 12-byte PTR records with the decoy ENUM (or, with `vlen` 0,
    /// a plain ENUM) after record `at`, checked as is, with an unknown kind or a cut
    /// record at several places, and with its last record cut short.
    fn check_all(order: ByteOrder, total: usize, at: usize, vlen: u32) {
        let blob = with_decoy(order, at as u32, vlen, (total - at) as u32);
        check(&blob, order);
        // Record `r`'s info word (record `at` is the ENUM).
        let enum_size = 12 + 8 * vlen as usize;
        let info_at = |r: usize| 24 + 12 * r + if r > at { enum_size - 12 } else { 0 } + 4;
        let mut records: Vec<usize> = (1..8).map(|q| total * q / 8).collect();
        records.extend([100, total - 40, total]);
        for record in records.into_iter().filter(|&r| r != at) {
            for info in [25 << 24, test_info::STRUCT | 0xffff] {
                let mut bad = blob.clone();
                order.set_u32(&mut bad, info_at(record), info);
                check(&bad, order);
            }
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

    #[test]
    fn chains_index_what_one_chain_does() {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            // Two chains, then four: a decoy on a half or quarter mark makes that guess
            // wrong, and the chains from it on useless.
            for (total, chains) in [(6000, 2), (24_000, 4)] {
                let bytes = 12 * total;
                assert!(bytes > 2 * super::TWO_CHAINS_MIN_BYTES);
                assert_eq!(bytes >= super::FOUR_CHAINS_MIN_BYTES, chains == 4);
                check_all(order, total, total / 3, 0);
                for mark in 1..chains {
                    // The 9,612-byte ENUM (800 PTRs' worth) straddles mark `mark`.
                    check_all(order, total, (total + 800) * mark / chains - 400, 1200);
                }
            }
        }
    }
}
