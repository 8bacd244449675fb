//! `shift` rebase: the standalone-BTF scheme of the 2023 proposal (docs/rebase.md §1).
//! Every non-zero id `x → x + K`, every non-zero string offset `s → s + L`; the blob
//! keeps its size, so a module's `.BTF` can be patched in place.

use crate::btf::Btf;
use crate::endian::ByteOrder;
use crate::error::{Error, Result};
use crate::header::Header;
use crate::index::index_types;
use crate::kind::{info, limits, Kind};
use crate::rebase::shift_pass::{shift_raw_types, shift_types, shift_types_marking, By};
use crate::rebase::Rebased;
use crate::threads::max_threads;

/// Rejects split `m`: shift rebases standalone BTF only.
fn check_unsplit(m: &Btf) -> Result<()> {
    if m.is_split() {
        return Err(Error::rebase(None, "BTF is split, not standalone: detach it first"));
    }
    Ok(())
}

/// Checks that `m` is standalone: no base, ids within its own types, string offsets
/// within its own string section (`btf_module_is_standalone` of the v4 proposal).
pub fn check_standalone(m: &Btf) -> Result<()> {
    check_unsplit(m)?;
    let n = m.nr_types();
    let s = m.header().str_len;
    let order = m.byte_order();
    let sec = m.type_section();
    for (i, &off) in m.type_offsets().iter().enumerate() {
        let Some((kind, vlen, rec)) = record_at(sec, off, order) else { continue };
        let id = m.start_id() + i as u32;
        let (mut bad_id, mut bad_str) = (0, None);
        kind.for_each_field(vlen, true, |o| {
            let x = order.u32_at(rec, o);
            if x > n && bad_id == 0 {
                bad_id = x;
            }
        });
        if bad_id != 0 {
            return Err(Error::rebase(
                Some(id),
                format!("not standalone: type [{id}] refers to id {bad_id} > {n}"),
            ));
        }
        kind.for_each_field(vlen, false, |o| {
            let v = order.u32_at(rec, o);
            if v >= s && bad_str.is_none() {
                bad_str = Some(v);
            }
        });
        if let Some(off) = bad_str {
            return Err(Error::rebase(
                Some(id),
                format!("not standalone: type [{id}] uses string offset {off} >= {s}"),
            ));
        }
    }
    Ok(())
}

/// The kind, vlen and bytes of the record at `off` of a parsed type section.
#[inline(always)]
pub(crate) fn record_at(sec: &[u8], off: u32, order: ByteOrder) -> Option<(Kind, u32, &[u8])> {
    let off = off as usize;
    let info = order.u32_at(sec, off + 4);
    let kind = Kind::from_raw(info::kind(info))?;
    let vlen = info::vlen(info);
    let rec = sec.get(off..off + kind.record_size(vlen) as usize)?;
    Some((kind, vlen, rec))
}

/// Checks the limits of shifting `n` types and an `s`-byte string section past `k`
/// base types and `l` base string bytes (docs/rebase.md §1).
fn check_limits(k: u32, l: u32, n: u32, s: u32) -> Result<()> {
    if u64::from(k) + u64::from(n) > u64::from(limits::MAX_TYPE_ID) {
        return Err(Error::rebase(
            None,
            format!("{k} base types + {n} types exceed BTF_MAX_TYPE ({:#x})", limits::MAX_TYPE_ID),
        ));
    }
    if s > 0 && u64::from(l) + u64::from(s) - 1 > u64::from(limits::MAX_NAME_OFFSET) {
        return Err(Error::rebase(
            None,
            format!(
                "{l} base string bytes + {s} exceed BTF_MAX_NAME_OFFSET ({:#x})",
                limits::MAX_NAME_OFFSET
            ),
        ));
    }
    Ok(())
}

/// Checks what shifting `m` past `base` needs before the pass: `m` has no base, fits
/// the limits, and has the base's byte order.
fn check_fits(m: &Btf, base: &Btf) -> Result<()> {
    check_unsplit(m)?;
    check_limits(base.last_id(), base.str_end(), m.nr_types(), m.header().str_len)?;
    if m.byte_order() != base.byte_order() {
        return Err(Error::rebase(None, "standalone BTF and base differ in byte order"));
    }
    Ok(())
}

/// Where the type section lies in a blob with header `h`.
fn types_range(h: &Header) -> std::ops::Range<usize> {
    let at = (h.hdr_len + h.type_off) as usize;
    at..at + h.type_len as usize
}

/// The shifted copy of parsed standalone `m`; with `used`, also marks the string
/// offsets its fields hold (one thread then).
fn shift_copy(m: &Btf, base: &Btf, used: Option<&mut [u64]>) -> Result<Vec<u8>> {
    check_fits(m, base)?;
    let by = By { k: base.last_id(), l: base.str_end() };
    let mut out = m.raw().to_vec();
    let Some(sec) = out.get_mut(types_range(m.header())) else {
        return Err(Error::rebase(None, "type section outside the blob"));
    };
    let order = m.byte_order();
    let seen = match used {
        None => Some(shift_types(sec, m.type_offsets(), order, by)),
        Some(used) => shift_types_marking(sec, order, by, used).map(|(_, seen)| seen),
    };
    if !seen.is_some_and(|s| s.is_standalone(m.nr_types(), m.header().str_len)) {
        // The first offending type, for the error.
        check_standalone(m)?;
        return Err(Error::rebase(None, "not standalone"));
    }
    Ok(out)
}

/// The shifted blob of standalone `m` on `base`: the input with every non-zero id
/// `x → x + K` and every non-zero string offset `s → s + L`, same size and layout.
/// Input that is not standalone is rejected with the first offending type.
pub fn shift_blob(m: &Btf, base: &Btf) -> Result<Vec<u8>> {
    shift_copy(m, base, None)
}

/// [`shift_blob`] of raw standalone BTF `raw`, in one pass that finds the records and
/// rewrites them (no separate parse); also returns the number of types. Input that
/// parsing or [`shift_blob`] would reject is handed to them, so that the error is
/// theirs, word for word.
pub fn shift_raw(raw: &[u8], base: &Btf) -> Result<(Vec<u8>, u32)> {
    if let Some(shifted) = shift_raw_fast(raw, base) {
        return Ok(shifted);
    }
    let m = Btf::from_slice(raw, None)?;
    Ok((shift_blob(&m, base)?, m.nr_types()))
}

/// Type sections from this size on are indexed before they are shifted, so that the
/// shift runs on two threads (one pass is one chain of record lengths: one thread).
const INDEX_FIRST_BYTES: usize = 2 << 20;

/// The one-pass shift, or `None` for any input [`shift_raw`] must reject.
fn shift_raw_fast(raw: &[u8], base: &Btf) -> Option<(Vec<u8>, u32)> {
    let (h, order) = Header::parse(raw, false).ok()?;
    if order != base.byte_order() {
        return None;
    }
    let (k, l) = (base.last_id(), base.str_end());
    let by = By { k, l };
    let mut out = raw.to_vec();
    let types = types_range(&h);
    let sec = out.get_mut(types.clone())?;
    let (n, seen) = if sec.len() >= INDEX_FIRST_BYTES && max_threads() >= 2 {
        // Large: find the records first (two chains), then shift two halves at once.
        let offsets = index_types(raw.get(types)?, order, 1, 0).ok()?;
        (u32::try_from(offsets.len()).ok()?, shift_types(sec, &offsets, order, by))
    } else {
        shift_raw_types(sec, order, by)?
    };
    let ok = check_limits(k, l, n, h.str_len).is_ok() && seen.is_standalone(n, h.str_len);
    ok.then_some((out, n))
}

/// The id map of a shift by `k` of `n` types: `0 → 0`, `x → x + k`.
pub fn shift_id_map(n: u32, k: u32) -> Vec<u32> {
    std::iter::once(0).chain((1..=n).map(|x| x + k)).collect()
}

/// The string map of a shift by `l` of standalone `m`: `(s, s + l)` for every non-zero
/// string offset its fields use, sorted by `s`.
pub fn shift_str_map(m: &Btf, l: u32) -> Vec<(u32, u32)> {
    let mut used = vec![0u64; (m.header().str_len as usize).div_ceil(64)];
    // The marking walk rewrites as it goes: walk a scratch copy, shifting by nothing.
    let mut scratch = m.type_section().to_vec();
    let _ = shift_types_marking(&mut scratch, m.byte_order(), By { k: 0, l: 0 }, &mut used);
    str_pairs(used, l)
}

/// `(s, s + l)` for every bit `s` set in `used` but bit 0 (no name), in order.
fn str_pairs(mut used: Vec<u64>, l: u32) -> Vec<(u32, u32)> {
    if let Some(w) = used.first_mut() {
        *w &= !1;
    }
    let mut map = Vec::with_capacity(used.iter().map(|w| w.count_ones() as usize).sum());
    for (i, &word) in used.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let off = (i * 64) as u32 + bits.trailing_zeros();
            map.push((off, off + l));
            bits &= bits - 1;
        }
    }
    map
}

/// Shift-rebases standalone `m` onto `base`: the blob, the id map and the string map
/// (one walk that rewrites and marks the strings used).
pub fn shift(m: &Btf, base: &Btf) -> Result<Rebased> {
    let mut used = vec![0u64; (m.header().str_len as usize).div_ceil(64)];
    let btf = shift_copy(m, base, Some(&mut used))?;
    Ok(Rebased {
        btf,
        id_map: shift_id_map(m.nr_types(), base.last_id()),
        str_map: str_pairs(used, base.str_end()),
    })
}
