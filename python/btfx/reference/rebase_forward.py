"""Retargeting split BTF with unmatched old-base structs declared, not copied.

A module compiled for kernel A whose BTF was split on kernel B's vmlinux points, through
pahole's resolution of forward declarations, at B's full definitions of structs it only
declares. Carried onto A, those definitions are not A's, and the module's own (A) types
pointing at them no longer deduplicate against A. Rule (docs/modules.md §3):

* an old base STRUCT/UNION that the detached graph reaches and the old->new base map has
  no image for is replaced by the module's own definition of the same kind and name when
  the module has exactly one (libbpf's ``btf_dedup_resolve_fwds`` would resolve a
  declaration to it); otherwise it is *declared* — becomes a FWD of its name and kind —
  when the new base has a type of the same kind and name and no kept type needs its
  layout (nothing refers to it except pointers, directly or through typedefs and
  modifiers that are themselves only referred to that way), repeated until stable;
* types then unreachable from the module's own types are dropped;
* the rest is deduplicated onto the new base as ``retarget`` does. FWD == STRUCT/UNION of
  the same name in libbpf's equivalence, so pointers meet the new base's definitions.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set

from . import _layout as L
from .btf import Btf
from .rebase import _dedup, detach
from .rebase_common import RebaseResult, assemble, id_values, rewrite
from .rebase_equiv import base_map

#: Kinds whose references do not need the referenced type's layout by themselves.
_POINTER_LIKE = {L.PTR, L.TYPEDEF, L.CONST, L.VOLATILE, L.RESTRICT, L.TYPE_TAG}
_TRANSPARENT = {L.TYPEDEF, L.CONST, L.VOLATILE, L.RESTRICT, L.TYPE_TAG}


def _reachable(m: Btf, roots: List[int], declared: Set[int], alias: Dict[int, int]) -> Set[int]:
    """Types reachable from ``roots``; a declared type's own edges are not followed, and
    an aliased type stands for its alias."""
    keep: Set[int] = set()
    todo = [alias.get(r, r) for r in roots if r]
    while todo:
        t = todo.pop()
        if t in keep:
            continue
        keep.add(t)
        if t not in declared:
            todo.extend(alias.get(v, v) for v in id_values(m._need(t)) if v)
    return keep


def _needs_layout(m: Btf, keep: Set[int], declared: Set[int], alias: Dict[int, int]) -> Set[int]:
    """Types whose layout a kept, undeclared type uses (through typedefs/modifiers too)."""
    need: Set[int] = set()
    for t in keep - declared:
        rec = m._need(t)
        if rec.kind not in _POINTER_LIKE:
            need.update(alias.get(v, v) for v in id_values(rec) if v)
    todo = list(need)
    while todo:
        ref = m.type_by_id(todo.pop())
        if ref is not None and ref.kind in _TRANSPARENT:
            for v in (alias.get(x, x) for x in id_values(ref)):
                if v and v not in need:
                    need.add(v)
                    todo.append(v)
    return need


def _has_named(base: Btf, kind: int, name: str) -> bool:
    return any(rec.kind == kind and base.type_name(rec.id) == name for rec in base.types)


def retarget_declaring(
    split: Btf, old_base: Btf, new_base: Btf, via_base: Optional[List[int]] = None
) -> RebaseResult:
    """Like ``rebase.retarget``; the id map covers old ids ``0..=split.last_id``."""
    detached = detach(split, old_base)
    m = detached.btf
    if via_base is None:
        via_base = base_map(old_base, new_base)
    # The module's own unique struct/union definitions by (kind, name).
    own: Dict[tuple, Optional[int]] = {}
    for rec in split.types:
        name = split.type_name(rec.id)
        if rec.kind in (L.STRUCT, L.UNION) and name:
            key = (rec.kind, name)
            own[key] = rec.id if key not in own else None
    declared: Set[int] = set()
    alias: Dict[int, int] = {}
    for old in range(1, split.start_id):
        mid = detached.id_map[old]
        if not mid or via_base[old]:
            continue
        found = m.type_by_id(mid)
        if found is None or found.kind not in (L.STRUCT, L.UNION):
            continue
        name = m.type_name(mid)
        if not name:
            continue
        own_id = own.get((found.kind, name))
        if own_id is not None:
            alias[mid] = detached.id_map[own_id]
        elif _has_named(new_base, found.kind, name):
            declared.add(mid)
    roots = [detached.id_map[o] for o in range(split.start_id, split.last_id + 1)]
    # A candidate whose layout a kept type needs keeps its body; repeat until stable.
    while declared:
        keep = _reachable(m, roots, declared, alias)
        needed = declared & _needs_layout(m, keep, declared, alias)
        if not needed:
            break
        declared -= needed

    reduced_map: Dict[int, int] = {i: i for i in range(m.last_id + 1)}
    if declared or alias:
        keep = _reachable(m, roots, declared, alias)
        kept = sorted(keep)
        reduced_map = {0: 0}
        reduced_map.update({old: new for new, old in enumerate(kept, start=1)})
        records: List[Sequence[int]] = []
        for t in kept:
            rec = m._need(t)
            if t in declared:
                kflag = 1 if rec.kind == L.UNION else 0
                info = (kflag << L.KFLAG_SHIFT) | (L.FWD << L.KIND_SHIFT)
                records.append((rec.name_off, info, 0))
            else:
                records.append(
                    rewrite(rec, lambda x: reduced_map.get(alias.get(x, x), 0), lambda s: s)
                )
        m = Btf.from_bytes(assemble(records, m.strings, m.byteorder))
    rebased = _dedup(m, new_base)
    id_map = [0] * (split.last_id + 1)
    for old in range(1, split.last_id + 1):
        mid = detached.id_map[old]
        red = reduced_map.get(mid, 0) if mid else 0
        if red:
            id_map[old] = rebased.id_map[red]
        elif old < split.start_id:
            id_map[old] = via_base[old]
    str_map = {old: rebased.str_map.get(mid, 0) for old, mid in detached.str_map.items()}
    return RebaseResult(rebased.btf, rebased.to_bytes(), id_map, str_map)
