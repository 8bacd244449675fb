//! `shift` rebase: the standalone-BTF scheme of the 2023 proposal (docs/rebase.md §1).
//! Every non-zero id `x → x + K`, every non-zero string offset `s → s + L`; the blob
//! keeps its size, so a module's `.BTF` can be patched in place.

use crate::btf::Btf;
use crate::error::{Error, Result};
use crate::kind::limits;
use crate::rebase::{remap_record, Rebased};

/// Checks that `m` is standalone: no base, ids within its own types, string offsets
/// within its own string section (`btf_module_is_standalone` of the v4 proposal).
pub fn check_standalone(m: &Btf) -> Result<()> {
    if m.is_split() {
        return Err(Error::rebase(
            None,
            "BTF is split, not standalone: detach it first",
        ));
    }
    let n = m.nr_types();
    let s = m.header().str_len;
    for t in m.types() {
        if let Some(x) = t.referenced_ids().find(|&x| x > n) {
            return Err(Error::rebase(
                Some(t.id()),
                format!("not standalone: type [{}] refers to id {x} > {n}", t.id()),
            ));
        }
        let bad_str = t
            .str_field_offsets()
            .map(|o| m.byte_order().u32_at(t.bytes(), o));
        if let Some(off) = bad_str.into_iter().find(|&off| off >= s) {
            return Err(Error::rebase(
                Some(t.id()),
                format!(
                    "not standalone: type [{}] uses string offset {off} >= {s}",
                    t.id()
                ),
            ));
        }
    }
    Ok(())
}

/// Shift-rebases standalone `m` onto `base`.
pub fn shift(m: &Btf, base: &Btf) -> Result<Rebased> {
    check_standalone(m)?;
    let k = base.last_id();
    let l = base.str_end();
    let n = m.nr_types();
    let s = m.header().str_len;
    if u64::from(k) + u64::from(n) > u64::from(limits::MAX_TYPE_ID) {
        return Err(Error::rebase(
            None,
            format!(
                "{k} base types + {n} types exceed BTF_MAX_TYPE ({:#x})",
                limits::MAX_TYPE_ID
            ),
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
        return Err(Error::rebase(
            None,
            "standalone BTF and base differ in byte order",
        ));
    }
    let order = m.byte_order();
    let mut out = m.raw().to_vec();
    let h = m.header();
    let types_at = (h.hdr_len + h.type_off) as usize;
    let mut used_strs = Vec::new();
    for t in m.types() {
        let start = types_at + t.section_offset();
        let Some(kind) = t.kind() else { continue };
        let Some(rec) = out.get_mut(start..start + t.record_size()) else {
            continue;
        };
        remap_record(
            rec,
            kind,
            t.vlen(),
            order,
            |x| if x == 0 { 0 } else { x + k },
            |s| {
                if s == 0 {
                    0
                } else {
                    used_strs.push(s);
                    s + l
                }
            },
        );
    }
    used_strs.sort_unstable();
    used_strs.dedup();
    let id_map = (0..=n).map(|x| if x == 0 { 0 } else { x + k }).collect();
    let str_map = used_strs.into_iter().map(|s| (s, s + l)).collect();
    Ok(Rebased {
        btf: out,
        id_map,
        str_map,
    })
}
