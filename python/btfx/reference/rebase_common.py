"""Shared pieces of the rebase reference (docs/rebase.md): field positions, string tables,
blob assembly and the result object.

Every BTF record is a tuple of u32 words (``parse.TypeRecord.words``); the per-kind table
in ``_layout`` says which words are type ids and which are string offsets.  All helpers
here work on those word tuples, so no second parser exists.
"""

from __future__ import annotations

import sys
from array import array
from functools import cache
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

from ..errors import BtfRebaseError
from ._layout import COMMON_WORDS, LAYOUTS, MAX_ID, MAX_STR, ByteOrder, kind_name
from .btf import Btf
from .parse import TypeRecord

Words = Tuple[int, ...]


# ------------------------------------------------------------------------ field positions
@cache
def _positions(kind: int, vlen: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(id word indexes, string word indexes) of a record, both in record order."""
    lay = LAYOUTS[kind]
    assert lay is not None
    ids: List[int] = [2] if lay.type_is_id else []
    ids.extend(COMMON_WORDS + i for i in lay.info_ids)
    strs: List[int] = [0]
    start = COMMON_WORDS + lay.info_words
    for e in range(vlen if lay.elem_words else 0):
        base = start + e * lay.elem_words
        ids.extend(base + i for i in lay.elem_ids)
        strs.extend(base + i for i in lay.elem_strs)
    return tuple(ids), tuple(strs)


def id_positions(rec: TypeRecord) -> Tuple[int, ...]:
    """Word indexes of the type-id fields of ``rec`` (libbpf ``btf_field_iter`` order)."""
    return _positions(rec.kind, rec.vlen)[0]


def str_positions(rec: TypeRecord) -> Tuple[int, ...]:
    """Word indexes of the string fields of ``rec``: ``name_off`` then each element's."""
    return _positions(rec.kind, rec.vlen)[1]


def id_values(rec: TypeRecord) -> List[int]:
    w = rec.words
    return [w[i] for i in id_positions(rec)]


def rewrite(rec: TypeRecord, id_fn: Callable[[int], int], str_fn: Callable[[int], int]) -> Words:
    """``rec``'s words with every id field passed through ``id_fn`` and every string field
    through ``str_fn`` (both are called for zero values too; callers keep 0 as 0)."""
    w = list(rec.words)
    ids, strs = _positions(rec.kind, rec.vlen)
    for i in ids:
        w[i] = id_fn(w[i])
    for i in strs:
        w[i] = str_fn(w[i])
    return tuple(w)


def describe(btf: Btf, type_id: int) -> str:
    """``[id] KIND 'name'`` for messages."""
    if type_id == 0:
        return "[0] void"
    rec = btf.type_by_id(type_id)
    if rec is None:
        return f"[{type_id}] <missing>"
    name = btf.str_at(rec.name_off) or ""
    return f"[{type_id}] {kind_name(rec.kind)} '{name}'"


# ------------------------------------------------------------------------ bases and strings
def str_end(btf: Btf) -> int:
    """``L``: the first string offset after ``btf``'s last level."""
    return btf.start_str_off + len(btf.strings)


def levels(btf: Btf) -> List[Btf]:
    """``btf`` and its bases, lowest level first."""
    out = []
    cur: Btf | None = btf
    while cur is not None:
        out.append(cur)
        cur = cur.base
    return out[::-1]


def first_offsets(btf: Btf) -> Dict[bytes, int]:
    """Each string of ``btf`` (all levels) -> absolute offset of its first occurrence.

    Only strings starting at a string boundary count (what libbpf's ``btf__find_str``
    sees: its string set is built by walking NUL-terminated strings from the start)."""
    found: Dict[bytes, int] = {}
    for level in levels(btf):
        data = level.strings
        off = level.start_str_off
        pieces = data.split(b"\0")
        if data.endswith(b"\0"):
            pieces.pop()
        for s in pieces:
            found.setdefault(s, off)
            off += len(s) + 1
    return found


class StringTable:
    """A string section being built: ``intern`` returns absolute offsets.

    ``start`` is the absolute offset of the first byte; ``leading_nul`` puts the empty
    string at ``start`` (base BTF); ``known`` maps strings that already have an offset
    (e.g. in the base) and are never appended.  The empty string is always offset 0."""

    def __init__(self, start: int, leading_nul: bool, known: Dict[bytes, int] | None = None):
        self.start = start
        self.buf = bytearray(b"\0" if leading_nul else b"")
        self.known = known if known is not None else {}
        self.added: Dict[bytes, int] = {}

    def intern(self, s: bytes) -> int:
        if s == b"":
            return 0
        off = self.known.get(s)
        if off is not None:
            return off
        off = self.added.get(s)
        if off is None:
            off = self.start + len(self.buf)
            self.buf += s + b"\0"
            self.added[s] = off
        return off

    def data(self) -> bytes:
        return bytes(self.buf)


# ------------------------------------------------------------------------ output
def assemble(records: Iterable[Sequence[int]], strings: bytes, byteorder: ByteOrder) -> bytes:
    """Canonical blob: 24-byte header, type section, string section."""
    words = array("I")
    for rec in records:
        words.extend(rec)
    if byteorder != sys.byteorder:
        words.byteswap()
    types = words.tobytes()

    def u32(v: int) -> bytes:
        return v.to_bytes(4, byteorder)

    head = (0xEB9F).to_bytes(2, byteorder) + bytes((1, 0)) + u32(24)
    head += u32(0) + u32(len(types)) + u32(len(types)) + u32(len(strings))
    return head + types + strings


def check_limits(first_new_id: int, count: int, str_start: int, str_len: int) -> None:
    """Output limits: ids up to ``BTF_MAX_TYPE``, string offsets up to 2^24 - 1."""
    if count and first_new_id + count - 1 > MAX_ID:
        raise BtfRebaseError(
            f"too many types: last id would be {first_new_id + count - 1} > {MAX_ID:#x}"
        )
    if str_len and str_start + str_len - 1 > MAX_STR:
        raise BtfRebaseError(
            f"string section too large: last offset would be {str_start + str_len - 1:#x} "
            f"> {MAX_STR:#x}"
        )


class RebaseResult:
    """The outcome of ``rebase``/``detach``/``retarget``.

    ``btf``: the new BTF (split on the target base, or standalone for ``detach``);
    ``id_map``: list indexed by old id, new id or 0 (docs/rebase.md "id map");
    ``str_map``: old string offset -> new offset for every non-zero string field value."""

    def __init__(self, btf: Btf, data: bytes, id_map: List[int], str_map: Dict[int, int]):
        self.btf = btf
        self._data = data
        self.id_map = id_map
        self.str_map = str_map

    def to_bytes(self) -> bytes:
        return self._data

    def __repr__(self) -> str:
        return f"<RebaseResult: {self.btf!r}, {len(self.id_map)} ids mapped>"


def parse_result(data: bytes, base: Btf | None) -> Btf:
    """Parse our own output; a failure here is a bug, reported as a rebase error."""
    try:
        return Btf.from_bytes(data, base)
    except Exception as exc:  # pragma: no cover - would be an internal error
        raise BtfRebaseError(f"internal error: output does not parse: {exc}") from exc


def check_standalone(m: Btf) -> None:
    """Precondition 1 of docs/rebase.md §1: own ids ``1..N`` only, strings inside ``S``."""
    if m.base is not None:
        raise BtfRebaseError("BTF is split, not standalone (it has a base)")
    n = m.last_id
    s = len(m.strings)
    for rec in m.types:
        for v in id_values(rec):
            if v > n:
                raise BtfRebaseError(
                    f"type id {v} out of range 0..{n}: not standalone BTF",
                    type_id=rec.id,
                    kind=rec.kind_name,
                )
        w = rec.words
        for i in str_positions(rec):
            if w[i] >= s and w[i] != 0:
                raise BtfRebaseError(
                    f"string offset {w[i]:#x} outside the string section ({s} bytes): "
                    "not standalone BTF",
                    type_id=rec.id,
                    kind=rec.kind_name,
                )


def check_byteorder(m: Btf, base: Btf) -> None:
    if m.byteorder != base.byteorder:
        raise BtfRebaseError(
            f"byte order differs: BTF is {m.byteorder}-endian, base is {base.byteorder}-endian"
        )
