"""Rebasing, detaching and retargeting BTF: the pure-Python reference of docs/rebase.md.

* :func:`rebase` turns a module's standalone BTF ``M`` (ids ``1..N``) into split BTF on a
  vmlinux base ``B``: ``mode="shift"`` (§1, same size, every id ``+K`` and string ``+L``)
  or ``mode="dedup"`` (§2, libbpf ``btf__add_btf`` + ``btf__dedup`` semantics, see
  ``rebase_dedup``).
* :func:`detach` makes split BTF standalone again (§3).
* :func:`retarget` moves split BTF from one base to another (§4), using :func:`base_map`.
* :func:`equivalent` checks structural equivalence of two graphs (§5, ``rebase_equiv``).

Results are :class:`RebaseResult` objects: ``.btf`` (a reference ``Btf``), ``.id_map``
(list indexed by old id), ``.str_map`` (old -> new string offset) and ``.to_bytes()``.
"""

from __future__ import annotations

import sys
from array import array
from typing import Dict, List, Optional, Union

from ..errors import BtfRebaseError
from ._layout import HEADER_LAYOUT, MAX_ID, MAX_STR
from .btf import Btf
from .rebase_common import (
    RebaseResult,
    StringTable,
    assemble,
    check_byteorder,
    check_limits,
    check_standalone,
    first_offsets,
    id_values,
    parse_result,
    rewrite,
    str_end,
    str_positions,
)
from .rebase_dedup import dedup_map
from .rebase_equiv import Equivalence, base_map, equivalent

__all__ = [
    "RebaseResult",
    "Equivalence",
    "rebase",
    "detach",
    "retarget",
    "base_map",
    "equivalent",
]


def rebase(
    standalone: Union[Btf, bytes, bytearray, memoryview], base: Btf, mode: str = "dedup"
) -> RebaseResult:
    """Rebase standalone BTF onto ``base`` (docs/rebase.md §1 ``shift``, §2 ``dedup``).

    ``standalone`` is a parsed :class:`Btf` or bytes as :meth:`Btf.from_bytes` takes them.
    """
    if not isinstance(standalone, Btf):
        standalone = Btf.from_bytes(bytes(standalone))
    if mode == "shift":
        return _shift(standalone, base)
    if mode == "dedup":
        return _dedup(standalone, base)
    raise ValueError(f"mode must be 'dedup' or 'shift', not {mode!r}")


# ------------------------------------------------------------------------ §1 shift
def _shift(m: Btf, base: Btf) -> RebaseResult:
    check_standalone(m)
    k, n, s, l_ = base.last_id, m.last_id, len(m.strings), str_end(base)
    if k + n > MAX_ID:
        raise BtfRebaseError(f"too many types: {k} base + {n} module types > {MAX_ID:#x}")
    if s > 0 and l_ + s - 1 > MAX_STR:
        raise BtfRebaseError(
            f"string offsets would reach {l_ + s - 1:#x} > {MAX_STR:#x} ({l_} base + {s} bytes)"
        )
    check_byteorder(m, base)

    def new_id(x: int) -> int:
        return x + k if x else 0

    def new_str(x: int) -> int:
        return x + l_ if x else 0

    records = [rewrite(rec, new_id, new_str) for rec in m.types]
    data = _same_layout_blob(m, records)
    str_map: Dict[int, int] = {}
    for rec in m.types:
        for i in str_positions(rec):
            if rec.words[i]:
                str_map[rec.words[i]] = rec.words[i] + l_
    id_map = [0] + [x + k for x in range(1, n + 1)]
    return RebaseResult(parse_result(data, base), data, id_map, str_map)


def _same_layout_blob(m: Btf, records: List[tuple]) -> bytes:
    """``m``'s blob, byte for byte, with its type records replaced by ``records`` (same
    sizes): header fields and section placement exactly as parsed."""
    h = m.header
    order = m.byteorder
    words = array("I")
    for rec in records:
        words.extend(rec)
    if order != sys.byteorder:
        words.byteswap()
    types = words.tobytes()
    assert len(types) == h["type_len"]
    hdr_len = h["hdr_len"]
    sections = [(h["type_off"], types), (h["str_off"], m.strings)]
    if m.layout is not None:
        layout_off = h["layout_off"]
        assert layout_off is not None  # a layout section implies the long header
        sections.append((layout_off, m.layout))
    size = hdr_len + sum(len(body) for _, body in sections)
    out = bytearray(size)

    def put(off: int, v: int) -> None:
        out[off : off + 4] = v.to_bytes(4, order)

    out[0:2] = (0xEB9F).to_bytes(2, order)
    out[2], out[3] = 1, 0
    put(4, hdr_len)
    fields = (h["type_off"], h["type_len"], h["str_off"], h["str_len"])
    for i, value in enumerate(fields, start=2):
        put(4 * i, value)
    if hdr_len >= HEADER_LAYOUT:
        put(24, h["layout_off"] or 0)
        put(28, h["layout_len"] or 0)
    for off, body in sections:
        if body:
            out[hdr_len + off : hdr_len + off + len(body)] = body
    return bytes(out)


# ------------------------------------------------------------------------ §2 dedup
def _dedup(m: Btf, base: Btf) -> RebaseResult:
    check_standalone(m)
    check_byteorder(m, base)
    d = dedup_map(m, base)
    k = base.last_id
    table = StringTable(str_end(base), leading_nul=False, known=first_offsets(base))

    def new_str(off: int) -> int:
        return table.intern(m.str_bytes(off) or b"") if off else 0

    records = []
    for combined_id in d.kept:
        rec = m.types[combined_id - k - 1]
        records.append(rewrite(rec, lambda x: d.final(x + k) if x else 0, new_str))
    strings = table.data()
    check_limits(k + 1, len(records), table.start, len(strings))

    str_map: Dict[int, int] = {}
    for rec in m.types:
        for i in str_positions(rec):
            off = rec.words[i]
            if off and off not in str_map:
                s = m.str_bytes(off) or b""
                new = table.known.get(s, table.added.get(s)) if s else 0
                if new is None:  # pragma: no cover - a dropped type's strings all occur
                    # in its canonical type (names are part of every equality check)
                    raise BtfRebaseError(f"internal error: string {s!r} lost by dedup")
                str_map[off] = new
    data = assemble(records, strings, m.byteorder)
    return RebaseResult(parse_result(data, base), data, d.id_map, str_map)


# ------------------------------------------------------------------------ §3 detach
def _check_split_on(split: Btf, base: Btf) -> None:
    if split.base is None:
        raise BtfRebaseError("BTF is not split: it has no base to detach from")
    if base is not split.base and (
        base.last_id + 1 != split.start_id or str_end(base) != split.start_str_off
    ):
        raise BtfRebaseError(
            f"BTF is split from id {split.start_id} / string offset {split.start_str_off}, "
            f"but the given base ends at id {base.last_id} / string offset {str_end(base)}"
        )


def detach(split: Btf, base: Btf) -> RebaseResult:
    """Standalone BTF: the base types ``split`` reaches (in base id order), then its own
    types; strings re-interned into a fresh base table (docs/rebase.md §3)."""
    _check_split_on(split, base)
    start = split.start_id

    def record(type_id: int):
        return split.type_by_id(type_id) if type_id >= start else base.type_by_id(type_id)

    reached = set()
    todo = [v for rec in split.types for v in id_values(rec) if 0 < v < start]
    while todo:
        type_id = todo.pop()
        if type_id in reached:
            continue
        reached.add(type_id)
        rec = record(type_id)
        if rec is None:
            raise BtfRebaseError(f"reference to missing base type [{type_id}]", type_id=type_id)
        todo.extend(v for v in id_values(rec) if 0 < v < start and v not in reached)

    order = sorted(reached) + list(range(start, split.last_id + 1))
    id_map = [0] * (split.last_id + 1)
    for new, old in enumerate(order, start=1):
        id_map[old] = new
    # A dangling id (in a split type or a reached base type) cannot be carried over.
    for old in order:
        for v in id_values(record(old)):
            if v > split.last_id:
                raise BtfRebaseError(
                    f"type id {v} out of range (last id {split.last_id})", type_id=old
                )

    table = StringTable(0, leading_nul=True)
    str_map: Dict[int, int] = {}

    def new_str(off: int) -> int:
        if not off:
            return 0
        s = split.str_bytes(off) if off >= split.start_str_off else base.str_bytes(off)
        new = table.intern(s or b"")
        str_map[off] = new
        return new

    records = [rewrite(record(old), lambda x: id_map[x], new_str) for old in order]
    strings = table.data()
    check_limits(1, len(records), 0, len(strings))
    data = assemble(records, strings, split.byteorder)
    return RebaseResult(parse_result(data, None), data, id_map, str_map)


# ------------------------------------------------------------------------ §4 retarget
def retarget(
    split: Btf, old_base: Btf, new_base: Btf, via_base: Optional[List[int]] = None
) -> RebaseResult:
    """``detach`` from ``old_base`` then ``dedup`` onto ``new_base``; the id map covers
    old ids ``0..=split.last_id`` (unreached old base ids go through :func:`base_map`,
    or ``via_base`` when the caller computed it already)."""
    detached = detach(split, old_base)
    rebased = _dedup(detached.btf, new_base)
    unreached = [x for x in range(1, split.start_id) if detached.id_map[x] == 0]
    if via_base is None:
        via_base = base_map(old_base, new_base) if unreached else []
    id_map = [0] * (split.last_id + 1)
    for old in range(1, split.last_id + 1):
        mid = detached.id_map[old]
        id_map[old] = rebased.id_map[mid] if mid else via_base[old]
    str_map = {old: rebased.str_map.get(mid, 0) for old, mid in detached.str_map.items()}
    return RebaseResult(rebased.btf, rebased.to_bytes(), id_map, str_map)
