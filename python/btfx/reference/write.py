"""Writing BTF back to bytes in the canonical layout, in either byte order.

Canonical order (libbpf ``btf_get_raw_data``): header, types, optional layout section,
strings, contiguous.  Byte swapping mirrors libbpf ``btf_bswap_hdr`` /
``btf_bswap_type_base`` / ``btf_bswap_type_rest``: every header word and every type
record word is a u32 (ENUM64 values are two words, each swapped in place, lo first);
strings are bytes; a layout entry ``{u8 info_sz, u8 elem_sz, u16 flags}`` only has its
``flags`` swapped.
"""

from __future__ import annotations

import sys
from array import array
from typing import TYPE_CHECKING, cast

from ._layout import HEADER_LAYOUT, ByteOrder

if TYPE_CHECKING:
    from .btf import Btf


def resolve_byteorder(btf: Btf, byteorder: str | None) -> ByteOrder:
    if byteorder is None:
        return btf.byteorder
    if byteorder == "native":
        return sys.byteorder
    if byteorder in ("little", "big"):
        return cast(ByteOrder, byteorder)  # checked just above
    raise ValueError(f"byteorder must be None, 'little', 'big' or 'native', not {byteorder!r}")


def _swap_layout(layout: bytes, src: ByteOrder, dst: ByteOrder) -> bytes:
    if src == dst:
        return layout
    out = bytearray(layout)
    for i in range(0, len(out) - 3, 4):  # entry: info_sz, elem_sz, flags (u16)
        out[i + 2], out[i + 3] = out[i + 3], out[i + 2]
    return bytes(out)


def to_bytes(btf: Btf, byteorder: str | None = None) -> bytes:
    order = resolve_byteorder(btf, byteorder)
    words = array("I")
    for t in btf.types:
        words.extend(t.words)
    if order != sys.byteorder:
        words.byteswap()
    types = words.tobytes()
    layout = _swap_layout(btf.layout, btf.byteorder, order) if btf.layout is not None else b""
    strings = btf.strings

    h = btf.header
    hdr_len = h["hdr_len"]

    def u32(v: int) -> bytes:
        return v.to_bytes(4, order)

    head = bytearray()
    head += (0xEB9F).to_bytes(2, order)
    head += bytes((1, 0))  # version, flags
    head += u32(hdr_len)
    head += u32(0) + u32(len(types))  # type_off, type_len
    head += u32(len(types) + len(layout)) + u32(len(strings))  # str_off, str_len
    if hdr_len >= HEADER_LAYOUT:
        # layout_off: right after the types; when there is no layout section the
        # input's (meaningless) layout_off is kept so canonical input round-trips.
        old_layout_off = h["layout_off"]
        assert old_layout_off is not None  # set whenever hdr_len >= HEADER_LAYOUT
        layout_off = len(types) if layout else old_layout_off
        head += u32(layout_off) + u32(len(layout))
    head += bytes(hdr_len - len(head))  # header tail (all zero, rule H4)
    return bytes(head) + types + layout + strings
