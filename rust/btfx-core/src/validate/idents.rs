//! A bitmap of the own string section's valid identifiers, built in one linear pass.
//!
//! Kernel BTF references about 150 000 names, most of them distinct, scattered over a
//! string section larger than L2; checking each reference on its own costs a cache miss
//! and a scan. Instead the section is classified 64 bytes at a time (word-parallel, no
//! per-byte branches) and bit `o` is set when the string *starting* at `o` passes
//! `btf_name_valid_identifier` ([`super::names::is_ident`]). A clear bit only means
//! "not known": offsets inside a string, base strings and invalid names are checked
//! directly, so the map never changes a result.

use super::names::NAME_MAX;

/// Identifier-start bits of one string section.
pub(super) struct IdentMap {
    bits: Vec<u64>,
}

impl IdentMap {
    /// Classifies `strs` (a whole string section), the two halves on two threads when
    /// it is large. `None` when the section does not end with NUL (never after parsing,
    /// rule S1): then every name is checked directly.
    pub(super) fn build(strs: &[u8], threads: usize) -> Option<IdentMap> {
        let split = super::threads::split_strings(strs.len(), threads);
        IdentMap::build_at(strs, split.then_some(strs.len().div_ceil(128)))
    }

    /// [`IdentMap::build`], the blocks from `mid` on filled by a second thread.
    pub(super) fn build_at(strs: &[u8], mid: Option<usize>) -> Option<IdentMap> {
        if strs.last() != Some(&0) {
            return None;
        }
        let mut bits = vec![0u64; strs.len().div_ceil(64)];
        if let Some(mid) = mid.filter(|&m| m < bits.len()) {
            let (lo, hi) = bits.split_at_mut(mid);
            let (_, pending) = super::threads::join2(|| fill(strs, lo, 0), || fill(strs, hi, mid));
            // The upper half may end a string that starts in the lower half. A panic in
            // the worker (a bug) leaves bits unset or stale: drop the map then.
            pending?.into_iter().for_each(|pos| clear(&mut bits, 0, pos, None));
        } else {
            fill(strs, &mut bits, 0);
        }
        Some(IdentMap { bits })
    }

    /// Whether the string starting at section offset `off` is known to be an identifier.
    #[inline(always)]
    pub(super) fn get(&self, off: usize) -> bool {
        self.bits.get(off / 64).is_some_and(|w| (w >> (off % 64)) & 1 != 0)
    }

    /// [`Self::get`] for name offset `off` of a BTF whose own strings start at
    /// `start_str_off` (false for a base string).
    #[inline(always)]
    pub(super) fn knows(&self, off: u32, start_str_off: u32) -> bool {
        off.checked_sub(start_str_off).is_some_and(|local| self.get(local as usize))
    }
}

/// Fills `words`, the bits of blocks `first_block..`. Returns the start offsets before
/// the first block whose bits must be cleared (the string running into this range).
fn fill(strs: &[u8], words: &mut [u64], first_block: usize) -> Vec<usize> {
    let mut pending = Vec::new();
    let begin = 64 * first_block;
    // A string starts at offset 0 and after every NUL.
    let mut carry = u64::from(begin == 0 || strs.get(begin - 1) == Some(&0));
    // Offset of the last NUL before the current block (-1: none).
    let before = strs.get(..begin).unwrap_or(&[]);
    let mut last_nul = before.iter().rposition(|&c| c == 0).map_or(-1, |p| p as i64);
    for k in 0..words.len() {
        let base = begin + 64 * k;
        let m = match strs.get(base..base + 64).and_then(|b| b.first_chunk::<64>()) {
            Some(b) => masks64(b),
            None => {
                // The final partial block, padded with NULs (no start bits there: NUL
                // is not a first character).
                let mut b = [0u8; 64];
                let tail = strs.get(base..).unwrap_or(&[]);
                b[..tail.len()].copy_from_slice(tail);
                masks64(&b)
            }
        };
        let starts = (m.nul << 1) | carry;
        carry = m.nul >> 63;
        words[k] = starts & m.first;
        let mut fix = Fix { words, first_block, pending: &mut pending };
        if m.bad != 0 || m.nul == 0 {
            // Rare: a string with a non-identifier byte, or one crossing a whole block.
            fix.block(base as i64, &m, last_nul);
        } else {
            fix.if_long(last_nul, base as i64 + i64::from(m.nul.trailing_zeros()));
        }
        if m.nul != 0 {
            last_nul = base as i64 + 63 - i64::from(m.nul.leading_zeros());
        }
    }
    pending
}

/// Per-byte classes of one 64-byte block, bit `i` for byte `i`.
struct Masks {
    /// NUL bytes.
    nul: u64,
    /// Bytes neither NUL nor `[A-Za-z0-9_.]`.
    bad: u64,
    /// `[A-Za-z_.]`: bytes that may start an identifier.
    first: u64,
}

/// Classifies 64 bytes (SSE2, part of the x86-64 baseline: four 16-byte compares and
/// `pmovmskb` per class).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks64(b: &[u8; 64]) -> Masks {
    #[allow(unsafe_code)]
    // SAFETY: `masks64_sse2` only needs SSE2, which every x86-64 CPU has; it reads
    // nothing but its argument (no pointers).
    unsafe {
        masks64_sse2(b)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn masks64_sse2(b: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x, _mm_setzero_si128,
    };
    let (mut nul, mut bad, mut first) = (0u64, 0u64, 0u64);
    for (q, c) in b.chunks_exact(16).enumerate() {
        let lo = c.first_chunk::<8>().map_or(0, |x| i64::from_le_bytes(*x));
        let hi = c.last_chunk::<8>().map_or(0, |x| i64::from_le_bytes(*x));
        let v = _mm_set_epi64x(hi, lo);
        let within = |x, lo: u8, hi: u8| {
            _mm_and_si128(
                _mm_cmpgt_epi8(x, _mm_set1_epi8(lo as i8 - 1)),
                _mm_cmplt_epi8(x, _mm_set1_epi8(hi as i8 + 1)),
            )
        };
        let z = _mm_cmpeq_epi8(v, _mm_setzero_si128());
        let alpha = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z');
        let punct = _mm_or_si128(
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8)),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8)),
        );
        let f = _mm_or_si128(alpha, punct);
        let ok = _mm_or_si128(_mm_or_si128(f, within(v, b'0', b'9')), z);
        let shift = 16 * q;
        nul |= u64::from(_mm_movemask_epi8(z) as u16) << shift;
        first |= u64::from(_mm_movemask_epi8(f) as u16) << shift;
        bad |= u64::from(!(_mm_movemask_epi8(ok) as u16)) << shift;
    }
    Masks { nul, bad, first }
}

/// Classifies 64 bytes. The per-byte loop is branch-free so that it vectorises; the
/// class bits (one per byte at bit 7, 6 and 5) are then gathered eight bytes at a time
/// by a multiplication that moves bit `8j + 7` to bit `56 + j`.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn masks64_swar(b: &[u8; 64]) -> Masks {
    let mut codes = [0u8; 64];
    for (o, &c) in codes.iter_mut().zip(b) {
        let first = ((c | 0x20).wrapping_sub(b'a') < 26) | (c == b'_') | (c == b'.');
        let rest = first | (c.wrapping_sub(b'0') < 10);
        let nul = c == 0;
        *o = (u8::from(nul) << 7) | (u8::from(!rest & !nul) << 6) | (u8::from(first) << 5);
    }
    const HI: u64 = 0x8080_8080_8080_8080;
    const GATHER: u64 = 0x0002_0408_1020_4081;
    let (mut nul, mut bad, mut first) = (0u64, 0u64, 0u64);
    for (j, w) in codes.chunks_exact(8).enumerate() {
        let x = w.try_into().map_or(0, u64::from_le_bytes);
        nul |= ((x & HI).wrapping_mul(GATHER) >> 56) << (8 * j);
        bad |= (((x << 1) & HI).wrapping_mul(GATHER) >> 56) << (8 * j);
        first |= (((x << 2) & HI).wrapping_mul(GATHER) >> 56) << (8 * j);
    }
    Masks { nul, bad, first }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn masks64(b: &[u8; 64]) -> Masks {
    masks64_swar(b)
}

/// Clears start bits of invalid strings in the words of one [`fill`] call.
struct Fix<'w> {
    words: &'w mut [u64],
    first_block: usize,
    pending: &'w mut Vec<usize>,
}

impl Fix<'_> {
    /// Clears the start bit of the string running from `last_nul + 1` to the NUL at
    /// `end` when it is longer than [`NAME_MAX`] bytes.
    #[inline(always)]
    fn if_long(&mut self, last_nul: i64, end: i64) {
        let start = last_nul + 1;
        if end - start > NAME_MAX as i64 {
            clear(self.words, self.first_block, start as usize, Some(self.pending));
        }
    }

    /// A block with a bad byte or no NUL: clears the start bit of every string holding
    /// a bad byte, and of a string ending here that is too long.
    #[cold]
    fn block(&mut self, base: i64, m: &Masks, last_nul: i64) {
        let mut bad = m.bad;
        while bad != 0 {
            let b = bad.trailing_zeros();
            bad &= bad - 1;
            // The string holding byte `b` starts after the last NUL before it.
            let below = m.nul & ((1u64 << b) - 1);
            let start = if below != 0 {
                base + 64 - i64::from(below.leading_zeros())
            } else {
                last_nul + 1
            };
            clear(self.words, self.first_block, start as usize, Some(self.pending));
        }
        if m.nul != 0 {
            self.if_long(last_nul, base + i64::from(m.nul.trailing_zeros()));
        }
    }
}

/// Clears bit `pos` in `words` (bits of blocks `first_block..`); a position before them
/// goes to `pending`.
fn clear(words: &mut [u64], first_block: usize, pos: usize, pending: Option<&mut Vec<usize>>) {
    match (pos / 64).checked_sub(first_block) {
        Some(w) => {
            if let Some(w) = words.get_mut(w) {
                *w &= !(1u64 << (pos % 64));
            }
        }
        None => pending.into_iter().for_each(|p| p.push(pos)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The portable classifier (used off x86-64) agrees with the one in use.
        #[test]
        fn swar_matches_masks64(bytes in proptest::collection::vec(any::<u8>(), 64)) {
            let b: [u8; 64] = bytes.try_into().expect("64 bytes");
            let (x, y) = (masks64(&b), masks64_swar(&b));
            prop_assert_eq!((x.nul, x.bad, x.first), (y.nul, y.bad, y.first));
        }
    }

    #[test]
    fn masks_of_every_byte_value() {
        for base in (0..256).step_by(64) {
            let b: [u8; 64] = std::array::from_fn(|i| (base + i) as u8);
            let (x, y) = (masks64(&b), masks64_swar(&b));
            assert_eq!((x.nul, x.bad, x.first), (y.nul, y.bad, y.first), "{base}");
            for (i, &c) in b.iter().enumerate() {
                let first = c.is_ascii_alphabetic() || c == b'_' || c == b'.';
                let rest = first || c.is_ascii_digit();
                assert_eq!(x.first >> i & 1 != 0, first, "{c}");
                assert_eq!(x.nul >> i & 1 != 0, c == 0, "{c}");
                assert_eq!(x.bad >> i & 1 != 0, !rest && c != 0, "{c}");
            }
        }
    }
}
