//! Retargeting split BTF whose module was compiled for another kernel than its BTF base
//! (docs/modules.md §3): old base structs/unions that the new base has no structural
//! counterpart of, but a type of the same kind and name, are declared (FWD) instead of
//! copied when nothing needs their layout.
//!
//! Why: pahole resolves a module's forward declarations (`struct mm_struct;` in a CU) to
//! the full definitions of the vmlinux it splits on. Carried to another kernel, those
//! definitions differ from the new kernel's, so every module type pointing at them (e.g.
//! its complete copy of the new kernel's `task_struct`) stops deduplicating against the
//! new base. As a declaration again, the pointer matches by name — libbpf's FWD ↔
//! STRUCT/UNION equivalence in `btf_dedup_is_equiv` — as it would have if the module's
//! BTF had been split on the new base.

use crate::btf::Btf;
use crate::builder::TypeWriter;
use crate::error::Result;
use crate::kind::{info, Kind};
use crate::rebase::detach::detach;
use crate::rebase::retarget::{compose, BaseMap};
use crate::rebase::{dedup::dedup, remap_record, Rebased};

use super::base_index::BaseIndex;

/// Whether a reference from a type of `kind` needs the referenced type's layout (a
/// member, an element, a variable, a parameter...). Pointers do not; typedefs and
/// modifiers pass the need on (see [`needs_layout`]).
fn is_layout_edge(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Ptr | Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
    )
}

fn is_transparent(kind: Kind) -> bool {
    matches!(kind, Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag)
}

/// `need[id]`: some kept, not declared type of `btf` (standalone) uses type `id`'s
/// layout, directly or through typedefs and modifiers.
fn needs_layout(btf: &Btf, keep: &[bool], declare: &[bool], alias: &[u32]) -> Vec<bool> {
    let n = btf.type_cnt() as usize;
    let mut need = vec![false; n];
    let mut stack = Vec::new();
    for t in btf.types() {
        let id = t.id() as usize;
        if keep[id] && !declare[id] && t.kind().is_some_and(is_layout_edge) {
            for r in t.referenced_ids().map(|r| resolve(alias, r)) {
                if (r as usize) < n && !need[r as usize] {
                    need[r as usize] = true;
                    stack.push(r);
                }
            }
        }
    }
    while let Some(id) = stack.pop() {
        let Some(t) = btf.type_by_id(id) else { continue };
        if t.kind().is_some_and(is_transparent) {
            for r in t.referenced_ids().map(|r| resolve(alias, r)) {
                if (r as usize) < n && !need[r as usize] {
                    need[r as usize] = true;
                    stack.push(r);
                }
            }
        }
    }
    need
}

/// `id`, or the module's own definition that stands for it (see [`retarget_declaring`]).
fn resolve(alias: &[u32], id: u32) -> u32 {
    match alias.get(id as usize) {
        Some(&a) if a != 0 => a,
        _ => id,
    }
}

/// Types reachable from `roots`, not looking inside declared types (a declaration has
/// no edges).
fn reachable(btf: &Btf, roots: &[u32], declare: &[bool], alias: &[u32]) -> Vec<bool> {
    let n = btf.type_cnt() as usize;
    let mut keep = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    for r in roots.iter().map(|&r| resolve(alias, r)) {
        if (r as usize) < n && r != 0 && !keep[r as usize] {
            keep[r as usize] = true;
            stack.push(r);
        }
    }
    while let Some(id) = stack.pop() {
        if declare[id as usize] {
            continue;
        }
        let Some(t) = btf.type_by_id(id) else { continue };
        for r in t.referenced_ids().map(|r| resolve(alias, r)) {
            if (r as usize) < n && r != 0 && !keep[r as usize] {
                keep[r as usize] = true;
                stack.push(r);
            }
        }
    }
    keep
}

/// `standalone` with each type of `declare` replaced by a FWD of its name and kind, and
/// only the types still reachable from `roots` kept (in order, renumbered from 1).
/// Returns the new blob and the map old id → new id (0: dropped).
/// References to a type with a nonzero `alias` go to that type instead (it is dropped).
pub fn declare_types(
    standalone: &Btf,
    declare: &[bool],
    alias: &[u32],
    roots: &[u32],
) -> (Vec<u8>, Vec<u32>) {
    let n = standalone.type_cnt() as usize;
    let is_declared = |id: u32| declare.get(id as usize).copied().unwrap_or(false);
    let keep = reachable(standalone, roots, declare, alias);
    let mut map = vec![0u32; n];
    let mut next = 0u32;
    for id in 1..n {
        if keep[id] {
            next += 1;
            map[id] = next;
        }
    }
    let order = standalone.byte_order();
    let mut writer = TypeWriter::new(order, standalone.type_section().len());
    let mut rec = Vec::new();
    for t in standalone.types() {
        let id = t.id();
        if !keep[id as usize] {
            continue;
        }
        let Some(kind) = t.kind() else { continue };
        if is_declared(id) {
            // FWD: kind_flag 1 declares a union, 0 a struct.
            let kflag = if kind == Kind::Union { info::KFLAG } else { 0 };
            writer.push(&[t.name_off(), (Kind::Fwd as u32) << info::KIND_SHIFT | kflag, 0]);
            continue;
        }
        rec.clear();
        rec.extend_from_slice(t.bytes());
        remap_record(&mut rec, kind, t.vlen(), order, |x| map[resolve(alias, x) as usize], |s| s);
        writer.push_raw(&rec);
    }
    (writer.finish(standalone.string_section()), map)
}

/// [`crate::rebase::retarget::retarget`] with the old base types described in the module
/// docs declared instead of copied. Without a base map, or when no type qualifies, the
/// result is exactly `retarget`'s.
pub fn retarget_declaring(
    split: &Btf,
    new: &BaseIndex,
    base_map: Option<&BaseMap>,
) -> Result<Rebased> {
    let detached = detach(split)?;
    let standalone = Btf::from_slice(&detached.btf, None)?;
    let start = split.start_id();
    let new_base = new.base();
    // Own structs/unions by (kind, name): the module's definitions.
    let mut own: std::collections::HashMap<(Kind, &[u8]), Option<u32>> = Default::default();
    for t in split.types() {
        if let Some(k @ (Kind::Struct | Kind::Union)) = t.kind() {
            if !t.name().is_empty() {
                let e = own.entry((k, t.name())).or_insert(Some(t.id()));
                if *e != Some(t.id()) {
                    *e = None; // not unique
                }
            }
        }
    }
    // Unmatched old base structs/unions: the module's own unique definition of that name
    // stands for one (as libbpf's btf_dedup_resolve_fwds would resolve a declaration);
    // else it is declared if the new base has that name.
    let n = standalone.type_cnt() as usize;
    let mut declare = vec![false; n];
    let mut alias = vec![0u32; n];
    for old in 1..start {
        let mid = detached.id_map[old as usize];
        if mid == 0 || base_map.is_some_and(|m| m.get(old) != 0) {
            continue;
        }
        let Some(t) = standalone.type_by_id(mid) else { continue };
        let Some(kind @ (Kind::Struct | Kind::Union)) = t.kind() else { continue };
        if t.name().is_empty() {
            continue;
        }
        if let Some(&Some(own_id)) = own.get(&(kind, t.name())) {
            alias[mid as usize] = detached.id_map[own_id as usize];
        } else if !new_base.find_by_name(t.name(), Some(kind)).is_empty() {
            declare[mid as usize] = true;
        }
    }
    let roots: Vec<u32> = (start..split.type_cnt()).map(|o| detached.id_map[o as usize]).collect();
    // Keep the layout of every candidate some kept type needs, until nothing changes
    // (declaring fewer types keeps more bodies, which may need more layouts).
    let mut declaring = declare.iter().any(|&d| d);
    while declaring {
        let keep = reachable(&standalone, &roots, &declare, &alias);
        let need = needs_layout(&standalone, &keep, &declare, &alias);
        let mut changed = false;
        for (d, &nd) in declare.iter_mut().zip(&need) {
            if *d && nd {
                *d = false;
                changed = true;
            }
        }
        declaring = declare.iter().any(|&d| d);
        if !changed {
            break;
        }
    }
    let any = declare.iter().any(|&d| d) || alias.iter().any(|&a| a != 0);
    if !any {
        let rebased = dedup(&standalone, new)?;
        return Ok(compose(start, &detached, None, rebased, base_map));
    }
    // The reduced blob keeps the detached string section: string offsets are unchanged.
    let (blob, reduce) = declare_types(&standalone, &declare, &alias, &roots);
    let rebased = dedup(&Btf::from_slice(&blob, None)?, new)?;
    Ok(compose(start, &detached, Some(&reduce), rebased, base_map))
}
