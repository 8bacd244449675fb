//! `shift` rebase: the standalone-BTF scheme of the 2023 proposal (docs/rebase.md §1).
//! Every non-zero id `x → x + K`, every non-zero string offset `s → s + L`; the blob
//! keeps its size, so a module's `.BTF` can be patched in place.

use crate::btf::Btf;
use crate::endian::ByteOrder;
use crate::error::{Error, Result};
use crate::kind::{limits, SizeWord};
use crate::rebase::Rebased;

/// Checks that `m` is standalone: no base, ids within its own types, string offsets
/// within its own string section (`btf_module_is_standalone` of the v4 proposal).
pub fn check_standalone(m: &Btf) -> Result<()> {
    if m.is_split() {
        return Err(Error::rebase(None, "BTF is split, not standalone: detach it first"));
    }
    let n = m.nr_types();
    let s = m.header().str_len;
    let order = m.byte_order();
    for t in m.types() {
        if let Some(x) = t.referenced_ids().find(|&x| x > n) {
            return Err(Error::rebase(
                Some(t.id()),
                format!("not standalone: type [{}] refers to id {x} > {n}", t.id()),
            ));
        }
        let bytes = t.bytes();
        if let Some(off) = t.str_field_offsets().map(|o| order.u32_at(bytes, o)).find(|&o| o >= s) {
            return Err(Error::rebase(
                Some(t.id()),
                format!("not standalone: type [{}] uses string offset {off} >= {s}", t.id()),
            ));
        }
    }
    Ok(())
}

/// Rewrites the words at `offs` (relative to `at`) in place: non-zero `v → v + delta`.
/// Returns false if a value exceeds `limit` (the caller reports which type).
#[inline]
fn shift_words(
    rec: &mut [u8],
    order: ByteOrder,
    offs: impl Iterator<Item = usize>,
    delta: u32,
    limit: u32,
    mut seen: impl FnMut(u32),
) -> bool {
    let mut ok = true;
    for off in offs {
        let v = order.u32_at(rec, off);
        if v == 0 {
            continue;
        }
        if v > limit {
            ok = false;
            continue;
        }
        seen(v);
        order.set_u32(rec, off, v + delta);
    }
    ok
}

/// Shift-rebases standalone `m` onto `base`.
pub fn shift(m: &Btf, base: &Btf) -> Result<Rebased> {
    if m.is_split() {
        return Err(Error::rebase(None, "BTF is split, not standalone: detach it first"));
    }
    let k = base.last_id();
    let l = base.str_end();
    let n = m.nr_types();
    let s = m.header().str_len;
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
    if m.byte_order() != base.byte_order() {
        return Err(Error::rebase(None, "standalone BTF and base differ in byte order"));
    }
    let order = m.byte_order();
    let mut out = m.raw().to_vec();
    let h = m.header();
    let types_at = (h.hdr_len + h.type_off) as usize;
    // Which string offsets are used (for the string map), as a bitset over the section.
    let mut used = vec![0u64; (s as usize).div_ceil(64)];
    // One pass: check standalone-ness and rewrite, with the kind table giving the fields.
    for t in m.types() {
        let Some(kind) = t.kind() else { continue };
        let start = types_at + t.section_offset();
        let Some(rec) = out.get_mut(start..start + t.record_size()) else { continue };
        let l_ = kind.layout();
        let vlen = t.vlen() as usize;
        let (info, esz) = (l_.info_size as usize, l_.elem_size as usize);
        let head = (l_.size_word == SizeWord::TypeId).then_some(8);
        let ids = head.into_iter().chain(l_.info_ids.iter().map(|&o| 12 + o as usize)).chain(
            (0..if esz == 0 { 0 } else { vlen })
                .flat_map(|i| l_.elem_ids.iter().map(move |&o| 12 + info + i * esz + o as usize)),
        );
        if !shift_words(rec, order, ids, k, n, |_| {}) {
            let bad = t.referenced_ids().find(|&x| x > n).unwrap_or(0);
            return Err(Error::rebase(
                Some(t.id()),
                format!("not standalone: type [{}] refers to id {bad} > {n}", t.id()),
            ));
        }
        let strs = std::iter::once(0).chain(
            (0..if esz == 0 { 0 } else { vlen })
                .flat_map(|i| l_.elem_strs.iter().map(move |&o| 12 + info + i * esz + o as usize)),
        );
        let mark = |v: u32| {
            if let Some(w) = used.get_mut(v as usize / 64) {
                *w |= 1 << (v % 64);
            }
        };
        if !shift_words(rec, order, strs, l, s.saturating_sub(1), mark) {
            return Err(Error::rebase(
                Some(t.id()),
                format!("not standalone: type [{}] uses a string offset >= {s}", t.id()),
            ));
        }
    }
    let id_map = (0..=n).map(|x| if x == 0 { 0 } else { x + k }).collect();
    let mut str_map = Vec::new();
    for (i, &word) in used.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let off = (i * 64) as u32 + bits.trailing_zeros();
            str_map.push((off, off + l));
            bits &= bits - 1;
        }
    }
    Ok(Rebased { btf: out, id_map, str_map })
}
