"""Parsing raw BTF: header, section framing, strings and type records (docs/rules.md §1).

Mirrors kernel ``btf_parse_hdr``, ``btf_check_sec_info``, ``btf_parse_str_sec`` and the
record walk of ``btf_check_all_metas`` (only the framing part; the value rules are in
``validate.py``).  Every failure is a :class:`BtfFormatError`; the checks run in the
documented order so the first failing rule is the one reported.
"""

from __future__ import annotations

import sys
from array import array
from typing import List, NamedTuple, Optional, Tuple, TypedDict

from ..errors import BtfFormatError
from ._layout import (
    COMMON_WORDS,
    HEADER_LAYOUT,
    HEADER_MIN,
    KIND_MAX,
    LAYOUTS,
    ByteOrder,
    kind_name,
    split_info,
)

BTF_MAGIC = 0xEB9F


class Header(TypedDict):
    """The decoded ``struct btf_header`` fields (also ``btfx.Btf.header``)."""

    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    # None with the 24-byte header; both set whenever ``hdr_len >= HEADER_LAYOUT``
    layout_off: Optional[int]
    layout_len: Optional[int]


class TypeRecord:
    """One type record, decoded to native integers.

    ``words`` holds every u32 word of the record (common part, fixed part, elements).
    """

    __slots__ = ("id", "offset", "words", "kind", "vlen", "kflag")

    def __init__(self, type_id: int, offset: int, words: Tuple[int, ...]) -> None:
        self.id = type_id
        self.offset = offset  # byte offset of the record inside the blob
        self.words = words
        self.kind, self.vlen, self.kflag = split_info(words[1])

    @property
    def name_off(self) -> int:
        return self.words[0]

    @property
    def info(self) -> int:
        return self.words[1]

    @property
    def size_type(self) -> int:
        """Word 2: ``size`` for sized kinds, ``type`` for referencing kinds."""
        return self.words[2]

    @property
    def kind_name(self) -> str:
        return kind_name(self.kind)

    def fixed(self) -> Tuple[int, ...]:
        """The kind's fixed trailing words (INT data, btf_array, VAR linkage, ...)."""
        lay = LAYOUTS[self.kind]
        assert lay is not None
        return self.words[COMMON_WORDS : COMMON_WORDS + lay.info_words]

    def elems(self) -> List[Tuple[int, ...]]:
        """The ``vlen`` elements (members, enumerators, params, secinfos) as word tuples."""
        lay = LAYOUTS[self.kind]
        assert lay is not None
        step = lay.elem_words
        if step == 0:
            return []
        start = COMMON_WORDS + lay.info_words
        w = self.words
        return [w[i : i + step] for i in range(start, start + step * self.vlen, step)]

    def id_fields(self) -> List[int]:
        """Every type-id field value (libbpf ``btf_field_iter_init``), element ids last."""
        lay = LAYOUTS[self.kind]
        assert lay is not None
        w = self.words
        out = [w[2]] if lay.type_is_id else []
        out.extend(w[COMMON_WORDS + i] for i in lay.info_ids)
        start = COMMON_WORDS + lay.info_words
        for i in lay.elem_ids:  # the record ends with its last element: stride slice
            out.extend(w[start + i :: lay.elem_words])
        return out

    def __repr__(self) -> str:
        return f"TypeRecord(id={self.id}, kind={self.kind_name}, words={self.words!r})"


class Parsed(NamedTuple):
    byteorder: ByteOrder
    header: Header
    types: List[TypeRecord]
    strings: bytes
    layout: bytes | None


def _err(msg: str, section: str | None, offset: int | None = None, **kw) -> BtfFormatError:
    return BtfFormatError(msg, section=section, offset=offset, **kw)


def parse_header(data: bytes) -> Tuple[ByteOrder, Header]:
    """Rules H1-H7: decode and check the fixed header fields."""
    if len(data) < HEADER_MIN:  # H1
        raise _err(f"BTF too short: {len(data)} bytes, header needs 24", "header", 0)
    order: ByteOrder
    if data[0:2] == b"\x9f\xeb":  # H2: 0xEB9F read little-endian
        order = "little"
    elif data[0:2] == b"\xeb\x9f":
        order = "big"
    else:
        raise _err("Invalid magic", "header", 0)
    if data[2] != 1:  # H3
        raise _err(f"Unsupported version {data[2]}", "header", 2)
    if data[3] != 0:  # H4
        raise _err(f"Unsupported flags {data[3]:#x}", "header", 3)

    def u32(off: int) -> int:
        return int.from_bytes(data[off : off + 4], order)

    hdr_len = u32(4)
    if hdr_len > len(data):  # H5
        raise _err(f"hdr_len {hdr_len} exceeds data size {len(data)}", "header", 4)
    if not (hdr_len == HEADER_MIN or (hdr_len >= HEADER_LAYOUT and hdr_len % 4 == 0)):  # H6
        raise _err(f"Unsupported hdr_len {hdr_len}", "header", 4)
    if any(data[HEADER_LAYOUT:hdr_len]):  # H7 (btf_parse_hdr)
        raise _err("Unsupported btf_header", "header", HEADER_LAYOUT)
    has_layout_fields = hdr_len >= HEADER_LAYOUT
    header: Header = {
        "magic": BTF_MAGIC,
        "version": data[2],
        "flags": data[3],
        "hdr_len": hdr_len,
        "type_off": u32(8),
        "type_len": u32(12),
        "str_off": u32(16),
        "str_len": u32(20),
        "layout_off": u32(24) if has_layout_fields else None,
        "layout_len": u32(28) if has_layout_fields else None,
    }
    return order, header


def check_sections(data_len: int, h: Header) -> None:
    """Rules H8-H12: alignment and exact tiling of the sections (``btf_check_sec_info``)."""
    hdr_len = h["hdr_len"]
    if h["type_off"] % 4:  # H8
        raise _err("Unaligned type_off", "types", 8)
    has_layout = bool(h["layout_len"])  # None (short header) or 0 => absent
    # both None together (short header), and then unused: has_layout is False
    layout_off, layout_len = h["layout_off"] or 0, h["layout_len"] or 0
    if has_layout and (layout_off % 4 or layout_len % 4):  # H9
        raise _err("Unaligned layout section", "layout", 24)
    avail = data_len - hdr_len
    # (name, offset, length); checked in header-field order: types, strings, layout.
    secs = [("types", h["type_off"], h["type_len"]), ("strings", h["str_off"], h["str_len"])]
    if has_layout:
        secs.append(("layout", layout_off, layout_len))
    for name, off, length in secs:  # H10
        if length and off + length > avail:
            raise _err(f"{name} section runs past the end of the data", name, hdr_len + off)
    expected = 0
    for name, off, length in sorted((s for s in secs if s[2]), key=lambda s: s[1]):  # H11
        if off > expected:
            raise _err("Unsupported section found (gap)", None, hdr_len + expected)
        if off < expected:
            raise _err(f"Section overlap found ({name})", None, hdr_len + off)
        expected = off + length
    if expected != avail:
        raise _err("Unsupported section found (trailing data)", None, hdr_len + expected)
    if hdr_len == HEADER_MIN and h["str_len"] and h["str_off"] + h["str_len"] != avail:  # H12
        raise _err("String section is not at the end", "strings", hdr_len + h["str_off"])


def check_strings(strings: bytes, is_split: bool, str_start: int) -> None:
    """Rules S1-S2 (``btf_parse_str_sec``)."""
    if strings and strings[-1] != 0:  # S1
        raise _err("String section is not NUL-terminated", "strings", str_start + len(strings) - 1)
    if not is_split and (not strings or strings[0] != 0):  # S2
        raise _err("Base BTF string section must start with an empty string", "strings", str_start)


def parse_types(
    data: bytes, order: ByteOrder, type_start: int, type_len: int, start_id: int
) -> List[TypeRecord]:
    """Rules T1-T3: walk the type section record by record."""
    usable = type_len - type_len % 4
    words = array("I", data[type_start : type_start + usable])
    assert words.itemsize == 4
    if order != sys.byteorder:
        words.byteswap()
    types: List[TypeRecord] = []
    pos = 0  # in words
    type_id = start_id
    while pos * 4 < type_len:
        offset = type_start + pos * 4
        left = type_len - pos * 4
        if left < 12:  # T1
            raise _err("Truncated type record", "types", offset, type_id=type_id)
        kind, vlen, _ = split_info(words[pos + 1])
        if not 1 <= kind <= KIND_MAX:  # T2
            raise _err(f"Unknown kind {kind}", "types", offset, type_id=type_id)
        lay = LAYOUTS[kind]
        assert lay is not None
        trailing = lay.info_words + vlen * lay.elem_words  # in words; no allocation yet
        if (COMMON_WORDS + trailing) * 4 > left:  # T3
            raise _err(
                f"Truncated type record: needs {trailing * 4} trailing bytes",
                "types",
                offset,
                type_id=type_id,
                kind=lay.name,
            )
        end = pos + COMMON_WORDS + trailing
        types.append(TypeRecord(type_id, offset, tuple(words[pos:end])))
        pos = end
        type_id += 1
    return types


def parse_raw(data: bytes, is_split: bool, start_id: int) -> Parsed:
    """Parse a raw BTF blob (no ELF, no compression) following docs/rules.md §1."""
    order, h = parse_header(data)
    check_sections(len(data), h)
    hdr_len = h["hdr_len"]
    str_start = hdr_len + h["str_off"]
    strings = bytes(data[str_start : str_start + h["str_len"]])
    check_strings(strings, is_split, str_start)
    types = parse_types(data, order, hdr_len + h["type_off"], h["type_len"], start_id)
    layout = None
    layout_off, layout_len = h["layout_off"], h["layout_len"]
    if layout_len:
        assert layout_off is not None  # the layout fields are set together
        lstart = hdr_len + layout_off
        layout = bytes(data[lstart : lstart + layout_len])
    return Parsed(order, h, types, strings, layout)
