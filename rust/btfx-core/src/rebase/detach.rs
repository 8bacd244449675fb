//! `detach`: split BTF + the closure of the base types it reaches → standalone BTF with
//! ids from 1 (docs/rebase.md §3).

use crate::btf::Btf;
use crate::builder::{StrTable, TypeWriter};
use crate::error::{Error, Result};
use crate::rebase::{remap_record, Rebased};

/// Base ids (below `split.start_id`) reachable from the split types through id fields,
/// transitively through the base types' own id fields; `reach[id]` is true for those.
pub fn reachable_base_ids(split: &Btf) -> Vec<bool> {
    reachable_from(split, &[])
}

/// [`reachable_base_ids`] with extra base ids as roots.
fn reachable_from(split: &Btf, roots: &[u32]) -> Vec<bool> {
    let start = split.start_id();
    let mut reach = vec![false; start as usize];
    let mut stack: Vec<u32> = Vec::new();
    let visit = |id: u32, reach: &mut Vec<bool>, stack: &mut Vec<u32>| {
        if id != 0 && id < start && !reach[id as usize] {
            reach[id as usize] = true;
            stack.push(id);
        }
    };
    for &id in roots {
        visit(id, &mut reach, &mut stack);
    }
    for t in split.types() {
        for id in t.referenced_ids() {
            visit(id, &mut reach, &mut stack);
        }
    }
    while let Some(id) = stack.pop() {
        if let Some(t) = split.type_by_id(id) {
            for r in t.referenced_ids() {
                visit(r, &mut reach, &mut stack);
            }
        }
    }
    reach
}

/// Detaches `split` from its base. The result's `btf` is standalone (ids from 1); its
/// `id_map` covers `0..=split.last_id` (unreached base ids map to 0).
pub fn detach(split: &Btf) -> Result<Rebased> {
    detach_with_roots(split, &[])
}

/// [`detach`], also keeping the base types `roots` (and what they reach).
pub fn detach_with_roots(split: &Btf, roots: &[u32]) -> Result<Rebased> {
    if !split.is_split() {
        return Err(Error::rebase(None, "BTF is not split: nothing to detach"));
    }
    let reach = reachable_from(split, roots);
    let mut id_map = vec![0u32; split.type_cnt() as usize];
    let mut order: Vec<u32> = Vec::new();
    for (id, &r) in reach.iter().enumerate() {
        if r {
            order.push(id as u32);
        }
    }
    order.extend(split.start_id()..split.type_cnt());
    for (i, &old) in order.iter().enumerate() {
        id_map[old as usize] = i as u32 + 1;
    }
    // A dangling id cannot be carried over (it would silently become void).
    for &old in &order {
        if let Some(t) = split.type_by_id(old) {
            if let Some(bad) = t.referenced_ids().find(|&x| x > split.last_id()) {
                return Err(Error::rebase(
                    Some(old),
                    format!("type [{old}] refers to id {bad} past the last id {}", split.last_id()),
                ));
            }
        }
    }
    let byte_order = split.byte_order();
    let mut strs = StrTable::new_base();
    let mut writer = TypeWriter::new(byte_order, split.type_section().len() + order.len() * 16);
    let mut str_map: Vec<(u32, u32)> = Vec::new();
    let mut rec = Vec::new();
    for &old in &order {
        let Some(t) = split.type_by_id(old) else {
            return Err(Error::rebase(Some(old), format!("type [{old}] cannot be read")));
        };
        let Some(kind) = t.kind() else { continue };
        // Records of a base in another byte order cannot be mixed in (parse forbids it).
        rec.clear();
        rec.extend_from_slice(t.bytes());
        let src = t.btf();
        let mut failed = None;
        remap_record(
            &mut rec,
            kind,
            t.vlen(),
            byte_order,
            |x| id_map.get(x as usize).copied().unwrap_or(0),
            |s| {
                if s == 0 {
                    return 0;
                }
                let text = src.str_at(s).unwrap_or(b"");
                match strs.intern(text) {
                    Ok(n) => {
                        str_map.push((s, n));
                        n
                    }
                    Err(e) => {
                        failed = Some(e);
                        0
                    }
                }
            },
        );
        if let Some(e) = failed {
            return Err(e);
        }
        writer.push_raw(&rec);
    }
    str_map.sort_unstable();
    str_map.dedup();
    Ok(Rebased { btf: writer.finish(strs.bytes()), id_map, str_map })
}
