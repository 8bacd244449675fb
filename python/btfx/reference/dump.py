"""The ``bpftool btf dump file X format raw`` text (bpftool 7.1, ``dump_btf_raw`` and
``dump_btf_type`` in ``tools/bpf/bpftool/btf.c``).

One line ``[id] KIND 'name'`` plus kind details per type, element lines start with a
tab.  Only the blob's own types are printed, numbered from ``start_id`` (split BTF).
Strings are decoded as UTF-8 with ``surrogateescape`` so that
``dump().encode("utf-8", "surrogateescape")`` gives bpftool's exact bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from ._layout import (
    ARRAY,
    CONST,
    DATASEC,
    DECL_TAG,
    ENUM,
    ENUM64,
    FLOAT,
    FUNC,
    FUNC_PROTO,
    FWD,
    INT,
    PTR,
    RESTRICT,
    STRUCT,
    TYPE_TAG,
    TYPEDEF,
    UNION,
    VAR,
    VOLATILE,
)
from .parse import TypeRecord

if TYPE_CHECKING:
    from .btf import Btf

# bpftool btf_kind_str: kind 0 is "UNKNOWN" there.
_KIND_STR = (
    "UNKNOWN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF",
    "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT",
    "DECL_TAG", "TYPE_TAG", "ENUM64",
)  # fmt: skip
_INT_ENC = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}  # btf_int_enc_str
_LINKAGE = {0: "static", 1: "global", 2: "extern"}  # btf_func/var_linkage_str
_REF_KINDS = (PTR, CONST, VOLATILE, RESTRICT, TYPEDEF, TYPE_TAG)


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _s64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v


class _Dumper:
    def __init__(self, btf: Btf) -> None:
        self.btf = btf
        self.type_cnt = btf.last_id + 1  # btf__type_cnt: void included

    def name(self, off: int) -> str:
        """bpftool ``btf_str``: "(anon)" for 0, "(invalid)" for an offset out of range."""
        if off == 0:
            return "(anon)"
        s = self.btf.str_bytes(off)
        if s is None:
            return "(invalid)"
        return s.decode("utf-8", "surrogateescape")

    def kind_str(self, kind: int) -> str:
        return _KIND_STR[kind] if kind < len(_KIND_STR) else "UNKNOWN"  # btf_kind_safe

    def type_line(self, t: TypeRecord) -> str:
        kind = t.kind
        parts: List[str] = [f"[{t.id}] {self.kind_str(kind)} '{self.name(t.name_off)}'"]
        add = parts.append
        if kind == INT:
            data = t.fixed()[0]
            enc = _INT_ENC.get((data >> 24) & 0x0F, "UNKN")
            add(
                f" size={t.size_type} bits_offset={(data >> 16) & 0xFF}"
                f" nr_bits={data & 0xFF} encoding={enc}"
            )
        elif kind in _REF_KINDS:
            add(f" type_id={t.size_type}")
        elif kind == ARRAY:
            elem, index, nelems = t.fixed()
            add(f" type_id={elem} index_type_id={index} nr_elems={nelems}")
        elif kind in (STRUCT, UNION):
            add(f" size={t.size_type} vlen={t.vlen}")
            for name_off, mtype, moff in t.elems():
                if t.kflag:
                    bit_off, bit_sz = moff & 0xFFFFFF, moff >> 24
                else:
                    bit_off, bit_sz = moff, 0
                add(f"\n\t'{self.name(name_off)}' type_id={mtype} bits_offset={bit_off}")
                if bit_sz:
                    add(f" bitfield_size={bit_sz}")
        elif kind == ENUM:
            add(f" encoding={'SIGNED' if t.kflag else 'UNSIGNED'}")
            add(f" size={t.size_type} vlen={t.vlen}")
            for name_off, val in t.elems():
                shown = _s32(val) if t.kflag else val
                add(f"\n\t'{self.name(name_off)}' val={shown}")
        elif kind == ENUM64:
            add(f" encoding={'SIGNED' if t.kflag else 'UNSIGNED'}")
            add(f" size={t.size_type} vlen={t.vlen}")
            for name_off, lo, hi in t.elems():
                val = (hi << 32) | lo
                if t.kflag:
                    add(f"\n\t'{self.name(name_off)}' val={_s64(val)}LL")
                else:
                    add(f"\n\t'{self.name(name_off)}' val={val}ULL")
        elif kind == FWD:
            add(f" fwd_kind={'union' if t.kflag else 'struct'}")
        elif kind == FUNC:
            add(f" type_id={t.size_type} linkage={_LINKAGE.get(t.vlen, '(unknown)')}")
        elif kind == FUNC_PROTO:
            add(f" ret_type_id={t.size_type} vlen={t.vlen}")
            for name_off, ptype in t.elems():
                add(f"\n\t'{self.name(name_off)}' type_id={ptype}")
        elif kind == VAR:
            linkage = _LINKAGE.get(t.fixed()[0], "(unknown)")
            add(f" type_id={t.size_type}, linkage={linkage}")
        elif kind == DATASEC:
            add(f" size={t.size_type} vlen={t.vlen}")
            for vtype, voff, vsize in t.elems():
                add(f"\n\ttype_id={vtype} offset={voff} size={vsize}")
                if vtype < self.type_cnt:
                    self.add_target(parts, vtype)
        elif kind == FLOAT:
            add(f" size={t.size_type}")
        elif kind == DECL_TAG:
            add(f" type_id={t.size_type} component_idx={_s32(t.fixed()[0])}")
        add("\n")
        return "".join(parts)

    def add_target(self, parts: List[str], type_id: int) -> None:
        """DATASEC entry suffix `` (KIND 'name')``; id 0 is libbpf's void type."""
        target = self.btf.type_by_id(type_id)
        if target is None:
            parts.append(" (UNKNOWN '(anon)')")
        else:
            parts.append(f" ({self.kind_str(target.kind)} '{self.name(target.name_off)}')")


def dump_raw(btf: Btf) -> str:
    d = _Dumper(btf)
    return "".join(d.type_line(t) for t in btf.types)
