"""Retargeting one module's ELF image: the pure-Python reference of ``btfx.retarget``.

Given the uncompressed, unsigned ELF of a kernel module and a target vmlinux BTF:

1. Decide what the module's ``.BTF`` is: *standalone* (parses alone, every id and string
   offset inside itself) — checked first; else *split* on ``old_base`` when one is given;
   else split on the target itself (*on-base*: nothing to do, but ``.BTF_ids`` must
   agree with it).
2. Rebase: standalone → ``rebase(mode)``; split → ``rebase_forward.retarget_declaring``
   (dedup) or detach + shift.
   The result must pass the kernel's module-BTF checks.
3. ``.BTF_ids``: every id maps through the rebase's id map; an id the map does not cover
   (a vmlinux type no module type reaches), or maps to a declaration (FWD), is resolved
   as resolve_btfids does, by kind and name in the new BTF, lowest id first. Sets are
   re-sorted (``btf_ids.fixup``). The fixed section may not disagree with the new BTF
   more than the input did with its own.
4. The new sections replace the old ones in the ELF (``module.replace_sections``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..errors import BtfElfError, BtfError, BtfRebaseError
from . import btf_ids as ids_ref
from .btf import Btf
from .elf import read_elf_btf
from .module import replace_sections
from .rebase import detach, rebase
from .rebase_common import check_standalone
from .rebase_equiv import base_map
from .rebase_forward import retarget_declaring

#: Slot kind -> BTF kind name of the type it names.
_BTF_KIND = ids_ref.BTF_KIND


def _classify(btf: bytes, base: Btf, old_base: Optional[Btf]) -> Tuple[str, Btf]:
    try:
        m = Btf.from_bytes(btf)
        check_standalone(m)
        return "standalone", m
    except BtfError:
        pass
    if old_base is not None:
        m = Btf.from_bytes(btf, old_base)
        try:
            m.validate(level="module")
        except BtfError as e:
            raise BtfRebaseError(f"module BTF does not validate on old_base: {e}") from None
        return "split", m
    try:
        m = Btf.from_bytes(btf, base)
        m.validate(level="module")
    except BtfError as e:
        raise BtfRebaseError(
            f"module BTF is neither standalone nor valid split BTF on the target base ({e})"
        ) from None
    return "on-base", m


def _first_by_name(btf: Btf, kind: str, name: str) -> int:
    for type_id in range(1, btf.last_id + 1):
        if btf.kind(type_id) == kind and btf.type_name(type_id) == name:
            return type_id
    return 0


def _complete(ids: ids_ref.BtfIds, old: Btf, new: Btf, id_map: List[int]) -> int:
    values: List[Tuple[str, int]] = []
    for e in ids.entries:
        if isinstance(e, ids_ref.Slot):
            values.append((e.symbol, e.id))
        elif isinstance(e, ids_ref.Set):
            values += [(e.symbol, v) for v in e.ids]
        else:
            values += [(e.symbol, p[0]) for p in e.pairs]
    resolved = 0
    for symbol, v in values:
        if v == 0 or (v < len(id_map) and id_map[v] != 0 and new.kind(id_map[v]) != "FWD"):
            continue
        if old.type_by_id(v) is None:
            raise BtfRebaseError(f"{symbol}: id {v} is not a type of the module's BTF", type_id=v)
        kind, name = old.kind(v), old.type_name(v)
        if kind not in _BTF_KIND.values():
            raise BtfRebaseError(
                f"{symbol}: id {v} is a {kind}, not a struct/union/typedef/func", type_id=v
            )
        new_id = _first_by_name(new, kind, name)
        if new_id == 0:
            raise BtfRebaseError(
                f"{symbol}: {kind.lower()} {name} (id {v}) does not exist in the target BTF",
                type_id=v,
            )
        id_map.extend([0] * (v + 1 - len(id_map)))
        id_map[v] = new_id
        resolved += 1
    return resolved


def retarget_elf(
    elf: bytes,
    base: Btf,
    old_base: Optional[Btf] = None,
    mode: str = "dedup",
    fix_btf_ids: bool = True,
    via_base: Optional[List[int]] = None,
) -> Tuple[bytes, Dict[str, object]]:
    """The module ELF ``elf`` retargeted onto ``base``, and what was done. ``via_base``:
    ``base_map(old_base, base)`` if already computed (it is the same for every module)."""
    btf, distilled = read_elf_btf(elf)
    if distilled is not None:
        raise BtfElfError(
            "module has distilled base BTF (.BTF.base); converting it is not supported yet",
            section=".BTF.base",
        )
    kind, m = _classify(btf, base, old_base)
    ids = ids_ref.parse_btf_ids(elf)
    facts: Dict[str, object] = {"input_kind": kind, "types_in": len(m), "warnings": []}
    if kind == "on-base":
        if ids is not None:
            problems = ids_ref.check(ids, m)
            if problems:
                raise BtfRebaseError(
                    f"module BTF is split on the target base but .BTF_ids does not match "
                    f"it ({problems[0]})"
                )
        facts["types_out"] = len(m)
        return elf, facts

    if kind == "standalone":
        result = rebase(m, base, mode)
        id_map = list(result.id_map)
    elif mode == "dedup":
        assert old_base is not None
        result = retarget_declaring(m, old_base, base, via_base)
        id_map = list(result.id_map)
    else:
        assert old_base is not None
        detached = detach(m, old_base)
        result = rebase(detached.btf, base, "shift")
        if via_base is None:
            via_base = base_map(old_base, base)
        id_map = [0] * (m.last_id + 1)
        for old in range(1, m.last_id + 1):
            mid = detached.id_map[old]
            if mid:
                id_map[old] = result.id_map[mid]
            elif old < m.start_id:
                id_map[old] = via_base[old]
    new_btf = result.to_bytes()
    new = Btf.from_bytes(new_btf, base)
    try:
        new.validate(level="module")
    except BtfError as e:
        raise BtfRebaseError(f"rebased BTF does not validate: {e}") from None
    facts["types_out"] = len(new)
    replacements = {".BTF": new_btf}
    if ids is not None and fix_btf_ids:
        before = ids_ref.check(ids, m)
        facts["warnings"] = [f".BTF_ids of the input disagrees with its BTF: {p}" for p in before]
        facts["ids_by_name"] = _complete(ids, m, new, id_map)
        section = ids_ref.section_bytes(elf, ids)
        fixed, report = ids_ref.fixup(ids, section, id_map)
        after_elf = elf[: ids.section_offset] + fixed + elf[ids.section_offset + len(fixed) :]
        after_ids = ids_ref.parse_btf_ids(after_elf)
        assert after_ids is not None
        after = ids_ref.check(after_ids, new)
        if len(after) > len(before):
            raise BtfRebaseError(
                f".BTF_ids would not match the rebased BTF after fix-up: {after[0]}"
            )
        facts.update(
            ids_total=report.ids, ids_changed=report.ids_changed, sets_resorted=report.sets_resorted
        )
        replacements[".BTF_ids"] = fixed
    return replace_sections(elf, replacements), facts
