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

from ..errors import BtfError, BtfFormatError
from ._layout import (
    CLASSIC_INFO_MASK,
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


def parse_header(data: bytes, is_split: bool) -> Tuple[ByteOrder, Header]:
    """Rules H1-H8: decode and check the fixed header fields (``btf_parse_hdr``)."""
    # (H10, a header shorter than the classic fields, is decided after the sections.)
    if len(data) < 8:  # H1
        raise _err(f"hdr_len not found ({len(data)} bytes of data)", "header", 4)
    order: ByteOrder
    if data[0:2] == b"\x9f\xeb":  # H2: 0xEB9F read little-endian; first, for the order
        order = "little"
    elif data[0:2] == b"\xeb\x9f":
        order = "big"
    else:
        raise _err("Invalid magic", "header", 0)

    def u32(off: int) -> int:
        return int.from_bytes(data[off : off + 4], order)

    hdr_len = u32(4)
    if hdr_len > len(data):  # H3
        raise _err(f"btf_header not found (hdr_len {hdr_len}, {len(data)} bytes)", "header", 4)
    # H4: the layout fields exist only from HEADER_LAYOUT bytes on; what lies past the
    # fields this hdr_len holds must be zero.
    has_layout_fields = hdr_len >= HEADER_LAYOUT
    known = HEADER_LAYOUT if has_layout_fields else HEADER_MIN
    for at in range(known, hdr_len):
        if data[at]:
            raise _err("Unsupported btf_header (non-zero byte past the known fields)", "header", at)
    # the kernel copies the first hdr_len bytes into its header and reads zeros past them
    image = bytes(data[: min(hdr_len, HEADER_LAYOUT)]).ljust(HEADER_LAYOUT, b"\0")
    if image[0:2] != data[0:2]:  # H5
        raise _err("Invalid magic", "header", 0)
    if image[2] != 1:  # H6
        raise _err(f"Unsupported version ({image[2]})", "header", 2)
    if image[3] != 0:  # H7
        raise _err(f"Unsupported flags ({image[3]:#x})", "header", 3)
    if not is_split and len(data) == hdr_len:  # H8
        raise _err("No data", "header", 4)

    def field(off: int) -> int:
        return int.from_bytes(image[off : off + 4], order)

    header: Header = {
        "magic": BTF_MAGIC,
        "version": image[2],
        "flags": image[3],
        "hdr_len": hdr_len,
        "type_off": field(8),
        "type_len": field(12),
        "str_off": field(16),
        "str_len": field(20),
        "layout_off": field(24) if has_layout_fields else None,
        "layout_len": field(28) if has_layout_fields else None,
    }
    return order, header


def _to_int(v: int) -> int:
    """A u32 read as the kernel's ``int`` cast of it."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _sections_in_kernel_order(secs: List[Tuple[str, int, int]]) -> List[Tuple[str, int, int]]:
    """The kernel sorts by offset, then length, comparing the ``int`` of the u32
    difference (``btf_sec_info_cmp``); for two sections its sort keeps the pair in
    order exactly when the first compares below the second. Three exist only with the
    layout section: sorted as numbers."""
    if len(secs) == 2:
        (_, off_a, len_a), (_, off_b, len_b) = secs
        d = _to_int(off_a - off_b) or _to_int(len_a - len_b)
        return secs if d < 0 else [secs[1], secs[0]]
    return sorted(secs, key=lambda s: (s[1], s[2]))


def check_sections(data_len: int, h: Header) -> None:
    """Rule H9: the sections, empty ones included, tile the data after the header
    exactly (``btf_check_sec_info``)."""
    hdr_len = h["hdr_len"]
    avail = data_len - hdr_len
    secs = [("types", h["type_off"], h["type_len"]), ("strings", h["str_off"], h["str_len"])]
    if h["layout_len"]:  # None (no layout fields) or 0: no layout section
        assert h["layout_off"] is not None
        secs.append(("layout", h["layout_off"], h["layout_len"]))
    total = 0
    for name, off, length in _sections_in_kernel_order(secs):
        after = f"{avail} bytes follow the header"
        if off > avail:
            raise _err(f"Invalid section offset ({name} at {off}; {after})", name)
        if off > total:
            raise _err(f"Unsupported section found (gap before {name})", name)
        if off < total:
            raise _err(
                f"Section overlap found ({name} at {off}; the one before ends at {total})", name
            )
        if length > avail - total:
            raise _err(f"Total section length too long ({name} at {off}+{length}; {after})", name)
        total += length
    if total != avail:
        raise _err(
            "Unsupported section found (data after the last section)", "header", hdr_len + total
        )


def check_strings(data: bytes, h: Header, is_split: bool) -> None:
    """Rules S1-S2 (``btf_parse_str_sec``)."""
    hdr_len, off, length = h["hdr_len"], h["str_off"], h["str_len"]
    start = hdr_len + off
    if hdr_len < HEADER_LAYOUT and start + length != len(data):  # S1
        raise _err("String section is not at the end", "strings", start)
    if is_split and not length:
        return
    strings = data[start : start + length]
    why, at = "", start  # S2
    if not strings:
        why, at = "empty", start
    elif strings[-1] != 0:
        why, at = "not NUL-terminated", start + length - 1
    elif not is_split and strings[0] != 0:
        why, at = "does not start with NUL: split BTF without its base?", start
    if why:
        raise _err(f"Invalid string section ({why})", "strings", at)


def check_layout(h: Header) -> None:
    """Rule L1 (``btf_parse_layout_sec``): the layout section holds 4-byte entries."""
    off, length = h["layout_off"], h["layout_len"]
    if not length:
        return
    assert off is not None  # the layout fields are set together
    if off % 4:
        raise _err("Unaligned layout_off", "layout", 24)
    if length % 4:
        raise _err("Invalid layout_len: not a multiple of 4", "layout", 28)


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
            msg = f"Truncated type record: meta_left:{left} meta_needed:12"
            raise _err(msg, "types", offset, type_id=type_id)
        info = words[pos + 1]
        kind, vlen, _ = split_info(info)
        # a record that fails T2 or T3 with bits set outside the classic encoding (vlen
        # past 16 bits, kind past 5) fails on those first in the kernels of that encoding
        classic = info & ~CLASSIC_INFO_MASK == 0
        if not 1 <= kind <= KIND_MAX:  # T2
            msg = f"Invalid kind:{kind}" if classic else f"Invalid btf_info:{info:x}"
            raise _err(msg, "types", offset, type_id=type_id)
        lay = LAYOUTS[kind]
        assert lay is not None
        trailing = lay.info_words + vlen * lay.elem_words  # in words; no allocation yet
        if (COMMON_WORDS + trailing) * 4 > left:  # T3
            msg = f"Truncated {lay.name} record: meta_left:{left - 12} meta_needed:{trailing * 4}"
            if not classic:
                msg = f"Invalid btf_info:{info:x}"
            raise _err(msg, "types", offset, type_id=type_id, kind=lay.name)
        end = pos + COMMON_WORDS + trailing
        types.append(TypeRecord(type_id, offset, tuple(words[pos:end])))
        pos = end
        type_id += 1
    return types


def parse_raw(
    data: bytes, is_split: bool, start_id: int, base_order: Optional[ByteOrder] = None
) -> Parsed:
    """Parse a raw BTF blob (no ELF, no compression) following docs/rules.md §1; split
    BTF must be in its base's byte order (``base_order``), checked before the records."""
    order, h = parse_header(data, is_split)
    check_sections(len(data), h)
    check_strings(data, h, is_split)
    check_layout(h)
    if h["type_off"] % 4:  # T0 (``btf_parse_type_sec``)
        raise _err("Unaligned type_off", "types", 8)
    hdr_len = h["hdr_len"]
    if hdr_len < HEADER_MIN:  # H10: past the kernel's checks, still refused
        raise _err(f"Invalid hdr_len ({hdr_len}, below {HEADER_MIN})", "header", 4)
    if base_order is not None and order != base_order:
        raise BtfError(f"split BTF is {order}-endian but its base is {base_order}-endian")
    str_start = hdr_len + h["str_off"]
    strings = bytes(data[str_start : str_start + h["str_len"]])
    types = parse_types(data, order, hdr_len + h["type_off"], h["type_len"], start_id)
    layout = None
    layout_off, layout_len = h["layout_off"], h["layout_len"]
    if layout_len:
        assert layout_off is not None  # the layout fields are set together
        lstart = hdr_len + layout_off
        layout = bytes(data[lstart : lstart + layout_len])
    return Parsed(order, h, types, strings, layout)
