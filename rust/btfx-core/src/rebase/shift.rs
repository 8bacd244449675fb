//! `shift` rebase: the standalone-BTF scheme of the 2023 proposal (docs/rebase.md §1).
//! Every non-zero id `x → x + K`, every non-zero string offset `s → s + L`; the blob
//! keeps its size, so a module's `.BTF` can be patched in place.

use crate::btf::Btf;
use crate::endian::ByteOrder;
use crate::error::{Error, Result};
use crate::kind::{info, limits, Kind, SizeWord};
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

/// A u32 word of `rec` in byte order `BE` (big-endian when true); the caller passes
/// offsets from the kind table, inside the record.
#[inline(always)]
fn word<const BE: bool>(rec: &[u8], off: usize) -> Option<u32> {
    let w: [u8; 4] = rec.get(off..off + 4)?.try_into().ok()?;
    Some(if BE { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) })
}

#[inline(always)]
fn set_word<const BE: bool>(rec: &mut [u8], off: usize, v: u32) {
    if let Some(dst) = rec.get_mut(off..off + 4) {
        dst.copy_from_slice(&if BE { v.to_be_bytes() } else { v.to_le_bytes() });
    }
}

/// What `shift_section` needs to know: `K`, `N`, `L`, `S` of docs/rebase.md §1.
struct Shift {
    k: u32,
    n: u32,
    l: u32,
    s: u32,
    first_id: u32,
}

/// One id field: non-zero `x → x + K`; an `x > N` is remembered (first one) in `bad`.
#[inline(always)]
fn shift_id<const BE: bool>(rec: &mut [u8], o: usize, p: &Shift, bad: &mut u32) {
    match word::<BE>(rec, o) {
        Some(0) | None => {}
        Some(x) if x > p.n => {
            if *bad == 0 {
                *bad = x;
            }
        }
        Some(x) => set_word::<BE>(rec, o, x + p.k),
    }
}

/// One string field: non-zero `s → s + L`, marked in `used`; an `s >= S` sets `bad`.
#[inline(always)]
fn shift_str<const BE: bool>(
    rec: &mut [u8],
    o: usize,
    p: &Shift,
    used: &mut [u64],
    bad: &mut bool,
) {
    match word::<BE>(rec, o) {
        Some(0) | None => {}
        Some(v) if v >= p.s => *bad = true,
        Some(v) => {
            if let Some(w) = used.get_mut(v as usize / 64) {
                *w |= 1 << (v % 64);
            }
            set_word::<BE>(rec, o, v + p.l);
        }
    }
}

/// Rewrites every record of the type section `sec` in place, one pass driven by the
/// kind table (the fields `Kind::for_each_field` visits, in the same order, written
/// out as plain loops): non-zero ids `x → x + K` (`x <= N`), non-zero string offsets
/// `s → s + L` (`s < S`), marking used string offsets in `used`. Monomorphized per byte
/// order so that the loop is plain loads and stores.
fn shift_section<const BE: bool>(
    sec: &mut [u8],
    offsets: &[u32],
    p: &Shift,
    used: &mut [u64],
) -> Result<()> {
    for (i, &off) in offsets.iter().enumerate() {
        let off = off as usize;
        let Some(info) = word::<BE>(sec, off + 4) else { continue };
        let Some(kind) = Kind::from_raw(info::kind(info)) else { continue };
        let vlen = info::vlen(info) as usize;
        let l = kind.layout();
        let Some(rec) = sec.get_mut(off..off + kind.record_size(vlen as u32) as usize) else {
            continue;
        };
        let (elems_at, esz) = (12 + l.info_size as usize, l.elem_size as usize);
        let mut bad = 0;
        if l.size_word == SizeWord::TypeId {
            shift_id::<BE>(rec, 8, p, &mut bad);
        }
        for &o in l.info_ids {
            shift_id::<BE>(rec, 12 + o as usize, p, &mut bad);
        }
        if !l.elem_ids.is_empty() && esz > 0 {
            if let Some(elems) = rec.get_mut(elems_at..) {
                for e in elems.chunks_exact_mut(esz) {
                    for &o in l.elem_ids {
                        shift_id::<BE>(e, o as usize, p, &mut bad);
                    }
                }
            }
        }
        let id = p.first_id + i as u32;
        if bad != 0 {
            return Err(Error::rebase(
                Some(id),
                format!("not standalone: type [{id}] refers to id {bad} > {}", p.n),
            ));
        }
        let mut bad_str = false;
        shift_str::<BE>(rec, 0, p, used, &mut bad_str);
        if !l.elem_strs.is_empty() && esz > 0 {
            if let Some(elems) = rec.get_mut(elems_at..) {
                for e in elems.chunks_exact_mut(esz) {
                    for &o in l.elem_strs {
                        shift_str::<BE>(e, o as usize, p, used, &mut bad_str);
                    }
                }
            }
        }
        if bad_str {
            return Err(Error::rebase(
                Some(id),
                format!("not standalone: type [{id}] uses a string offset >= {}", p.s),
            ));
        }
    }
    Ok(())
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
    // The output is the input blob with fields rewritten in place: same size, same layout.
    let mut out = m.raw().to_vec();
    let h = m.header();
    let types_at = (h.hdr_len + h.type_off) as usize;
    let sec = out.get_mut(types_at..types_at + h.type_len as usize).unwrap_or(&mut []);
    // Which string offsets are used (for the string map), as a bitset over the section.
    let mut used = vec![0u64; (s as usize).div_ceil(64)];
    let p = Shift { k, n, l, s, first_id: m.start_id() };
    match m.byte_order() {
        ByteOrder::Little => shift_section::<false>(sec, m.type_offsets(), &p, &mut used)?,
        ByteOrder::Big => shift_section::<true>(sec, m.type_offsets(), &p, &mut used)?,
    }
    let mut id_map = Vec::with_capacity(n as usize + 1);
    id_map.push(0);
    id_map.extend((1..=n).map(|x| x + k));
    let used_count: u32 = used.iter().map(|w| w.count_ones()).sum();
    let mut str_map = Vec::with_capacity(used_count as usize);
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
