//! Rebasing standalone BTF onto a base, detaching split BTF, retargeting it to another
//! base, and structural equivalence. The contract is docs/rebase.md; every rewrite is an
//! id map plus a string map applied through the per-kind field table.

pub mod base_index;
pub mod dedup;
pub mod detach;
pub mod equiv;
pub mod forward;
pub mod retarget;
pub mod shift;
mod shift_pass;

use crate::endian::ByteOrder;
use crate::kind::Kind;

/// The result of a rebase: the new split BTF blob and how ids and strings moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebased {
    /// Raw BTF, split on the target base.
    pub btf: Vec<u8>,
    /// Old id → new id (index 0 is void → 0).
    pub id_map: Vec<u32>,
    /// (old string offset, new string offset) for every non-zero string field value,
    /// sorted by old offset.
    pub str_map: Vec<(u32, u32)>,
}

/// How `rebase` places standalone types on the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Deduplicate against the base, as libbpf `btf__add_btf` + `btf__dedup` would.
    #[default]
    Dedup,
    /// Shift ids and string offsets past the base (Alan Maguire's 2023 scheme).
    Shift,
}

/// Rewrites one record in place: every id field through `ids`, every string field
/// through `strs`, in record order (the per-kind field table says which words those are).
#[inline]
pub(crate) fn remap_record(
    record: &mut [u8],
    kind: Kind,
    vlen: u32,
    order: ByteOrder,
    mut ids: impl FnMut(u32) -> u32,
    mut strs: impl FnMut(u32) -> u32,
) {
    kind.for_each_field(vlen, true, |off| {
        let v = order.u32_at(record, off);
        order.set_u32(record, off, ids(v));
    });
    kind.for_each_field(vlen, false, |off| {
        let v = order.u32_at(record, off);
        order.set_u32(record, off, strs(v));
    });
}
