"""Validation of parsed BTF (docs/rules.md §2): phases 0-3, lowest failing id reported.

Phase 1 mirrors kernel ``btf_check_meta`` and the per-kind ``*_check_meta`` functions,
phase 2 ``btf_check_type_tags``, phase 3 ``btf_check_all_types`` / the ``*_resolve``
functions (strict level only).  Only the blob's own types are checked; base types are
trusted.  Errors are :class:`BtfValidationError` with ``type_id`` and ``kind`` set.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import BtfValidationError
from ._layout import (
    ARRAY,
    CLASSIC_MAX_VLEN,
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
    MAX_BTF_SIZE,
    MAX_ID,
    MAX_STR,
    MODIFIERS,
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
from .validate_resolve import ResolveFailure, Resolver

if TYPE_CHECKING:
    from .btf import Btf

KSYM_NAME_LEN = 512
_IDENT_RE = re.compile(rb"[A-Za-z_.][A-Za-z0-9_.]*")
_SECTION_RE = re.compile(rb"[\x20-\x7e]+")


class _Fail(Exception):
    """Internal: one rule failed for the type being checked."""


def _fail(t: TypeRecord, msg: str) -> BtfValidationError:
    return BtfValidationError(msg, type_id=t.id, offset=t.offset, section="types", kind=t.kind_name)


def is_ident(s: bytes | None) -> bool:
    """``btf_name_valid_identifier``: ``[A-Za-z_.][A-Za-z0-9_.]*``, length 1..512."""
    if not s:
        return False
    return len(s) <= KSYM_NAME_LEN and _IDENT_RE.fullmatch(s) is not None


def is_section_name(s: bytes | None) -> bool:
    """``btf_name_valid_section``: non-empty, printable ASCII, length 1..512."""
    if not s:
        return False
    return len(s) <= KSYM_NAME_LEN and _SECTION_RE.fullmatch(s) is not None


def validate(btf: Btf, level: str = "strict", wide: bool = False) -> None:
    if level not in ("strict", "module"):
        raise ValueError(f"level must be 'strict' or 'module', not {level!r}")
    _phase0(btf, level)
    checker = _MetaChecker(btf, wide)
    for t in btf.types:
        checker.check(t)
    # `btf_parse` (user BTF) resolves every type (`btf_parse_type_sec`) before it checks
    # type tags; `btf_parse_module` checks type tags only.
    if level == "strict":
        _phase3_resolve(btf)
    _phase2_type_tags(btf)


# ---------------------------------------------------------------- phase 0 (global limits)
def _phase0(btf: Btf, level: str) -> None:
    h = btf.header
    # G0 (``btf_parse``: E2BIG, no log): the header and the sections that tile the rest
    size = h["hdr_len"] + h["type_len"] + h["str_len"] + (h["layout_len"] or 0)
    if level == "strict" and size > MAX_BTF_SIZE:
        msg = f"BTF too large ({size} bytes; BPF_BTF_LOAD takes {MAX_BTF_SIZE})"
        raise BtfValidationError(msg, section="header")
    str_len = len(btf.strings)
    if str_len and btf.start_str_off + str_len - 1 > MAX_STR:  # G1
        raise BtfValidationError("String section too large", section="strings")
    # G3 (``btf_parse_type_sec``): user BTF, which is never split, has a type
    if level == "strict" and btf.base is None and not btf.types:
        raise BtfValidationError("No type found", section="types")
    if btf.last_id > MAX_ID:  # G2
        raise BtfValidationError("Too many types", type_id=MAX_ID + 1, section="types")


# ---------------------------------------------------------------- phase 1 (meta)
class _MetaChecker:
    def __init__(self, btf: Btf, wide: bool) -> None:
        self.btf = btf
        self.wide = wide
        self.str_end = btf.start_str_off + len(btf.strings)

    def name(self, off: int) -> bytes | None:
        return self.btf.str_bytes(off)

    def check(self, t: TypeRecord) -> None:
        if not self.wide and t.vlen > CLASSIC_MAX_VLEN:  # M1
            raise _fail(t, f"Invalid btf_info:{t.info:x}")
        if t.name_off >= self.str_end:  # M2
            raise _fail(t, f"Invalid name_offset:{t.name_off}")
        try:
            self.KIND_CHECKS[t.kind](self, t)
        except _Fail as exc:
            raise _fail(t, str(exc)) from None

    # Each method raises _Fail(message) on the first broken rule, in the documented order.
    def int_(self, t: TypeRecord) -> None:  # btf_int_check_meta
        _no_vlen(t)
        _no_kflag(t)
        data = t.fixed()[0]
        if data & 0xF0000000:
            raise _Fail(f"Invalid int_data:{data:x}")
        bits, offset = data & 0xFF, (data >> 16) & 0xFF
        if bits + offset > 128:
            raise _Fail("nr_bits exceeds 128")
        if (bits + offset + 7) // 8 > t.size_type:
            raise _Fail("nr_bits exceeds type_size")
        if (data >> 24) & 0xF not in (0, 1, 2, 4):
            raise _Fail("Unsupported encoding")

    def ref(self, t: TypeRecord) -> None:  # btf_ref_type_check_meta
        _no_vlen(t)
        if t.kind != TYPE_TAG:
            _no_kflag(t)
        if t.size_type > MAX_ID:
            raise _Fail("Invalid type_id")
        if t.kind == TYPEDEF:
            if not is_ident(self.name(t.name_off)):
                raise _Fail("Invalid name")
        elif t.kind == TYPE_TAG:
            if not self.name(t.name_off):
                raise _Fail("Invalid name")
        elif t.name_off:
            raise _Fail("Invalid name")

    def fwd(self, t: TypeRecord) -> None:  # btf_fwd_check_meta
        _no_vlen(t)
        if t.size_type:
            raise _Fail("type != 0")
        if not is_ident(self.name(t.name_off)):
            raise _Fail("Invalid name")

    def array(self, t: TypeRecord) -> None:  # btf_array_check_meta
        if t.name_off:
            raise _Fail("Invalid name")
        _no_vlen(t)
        _no_kflag(t)
        if t.size_type:
            raise _Fail("size != 0")
        elem, index, _ = t.fixed()
        if not elem or elem > MAX_ID:
            raise _Fail("Invalid elem")
        if not index or index > MAX_ID:
            raise _Fail("Invalid index")

    def struct(self, t: TypeRecord) -> None:  # btf_struct_check_meta
        if t.name_off and not is_ident(self.name(t.name_off)):
            raise _Fail("Invalid name")
        size = t.size_type
        prev = 0
        for j, (name_off, mtype, moff) in enumerate(t.elems()):
            # The kernel logs these on the member's own line: the prefix says which.
            if name_off >= self.str_end:
                raise _Fail(f"member #{j}: Invalid member name_offset:{name_off}")
            if name_off and not is_ident(self.name(name_off)):
                raise _Fail(f"member #{j}: Invalid name")
            if not mtype or mtype > MAX_ID:
                raise _Fail(f"member #{j}: Invalid type_id")
            bit_off = moff & 0xFFFFFF if t.kflag else moff
            if t.kind == UNION and bit_off:
                raise _Fail(f"member #{j}: Invalid member bits_offset")
            if bit_off < prev:
                raise _Fail(f"member #{j}: Invalid member bits_offset")
            if (bit_off + 7) // 8 > size:
                raise _Fail(f"member #{j}: Member bits_offset exceeds its struct size")
            prev = bit_off

    def enum(self, t: TypeRecord) -> None:  # btf_enum_check_meta / btf_enum64_check_meta
        if t.size_type not in (1, 2, 4, 8):
            raise _Fail("Unexpected size")
        if t.name_off and not is_ident(self.name(t.name_off)):
            raise _Fail("Invalid name")
        for j, elem in enumerate(t.elems()):
            if elem[0] >= self.str_end:
                raise _Fail(f"value #{j}: Invalid name_offset:{elem[0]}")
            if not is_ident(self.name(elem[0])):
                raise _Fail(f"value #{j}: Invalid name")

    def func_proto(self, t: TypeRecord) -> None:  # btf_func_proto_check_meta
        if t.name_off:
            raise _Fail("Invalid name")
        _no_kflag(t)

    def func(self, t: TypeRecord) -> None:  # btf_func_check_meta
        if not is_ident(self.name(t.name_off)):
            raise _Fail("Invalid name")
        if t.vlen > 1:  # linkage > BTF_FUNC_GLOBAL
            raise _Fail("Invalid func linkage")
        _no_kflag(t)

    def var(self, t: TypeRecord) -> None:  # btf_var_check_meta
        _no_vlen(t)
        _no_kflag(t)
        if not is_ident(self.name(t.name_off)):
            raise _Fail("Invalid name")
        if not t.size_type or t.size_type > MAX_ID:
            raise _Fail("Invalid type_id")
        if t.fixed()[0] not in (0, 1):
            raise _Fail("Linkage not supported")

    def datasec(self, t: TypeRecord) -> None:  # btf_datasec_check_meta
        size = t.size_type
        if not size:
            raise _Fail("size == 0")
        _no_kflag(t)
        if not is_section_name(self.name(t.name_off)):
            raise _Fail("Invalid name")
        last_end = 0
        total = 0
        for j, (vtype, voff, vsize) in enumerate(t.elems()):
            if not vtype or vtype > MAX_ID:
                raise _Fail(f"secinfo #{j}: Invalid type_id")
            if voff < last_end or voff >= size:
                raise _Fail(f"secinfo #{j}: Invalid offset")
            if not vsize or vsize > size:
                raise _Fail(f"secinfo #{j}: Invalid size")
            last_end = voff + vsize
            if last_end > size:
                raise _Fail(f"secinfo #{j}: Invalid offset+size")
            total += vsize
        if total > size:
            raise _Fail("Invalid btf_info size")

    def float_(self, t: TypeRecord) -> None:  # btf_float_check_meta
        _no_vlen(t)
        _no_kflag(t)
        if t.size_type not in (2, 4, 8, 12, 16):
            raise _Fail("Invalid type_size")

    def decl_tag(self, t: TypeRecord) -> None:  # btf_decl_tag_check_meta
        if not self.name(t.name_off):
            raise _Fail("Invalid value")
        _no_vlen(t)
        component_idx = _s32(t.fixed()[0])
        if component_idx < -1:
            raise _Fail("Invalid component_idx")

    KIND_CHECKS = {
        INT: int_,
        PTR: ref,
        CONST: ref,
        VOLATILE: ref,
        RESTRICT: ref,
        TYPEDEF: ref,
        TYPE_TAG: ref,
        FWD: fwd,
        ARRAY: array,
        STRUCT: struct,
        UNION: struct,
        ENUM: enum,
        ENUM64: enum,
        FUNC_PROTO: func_proto,
        FUNC: func,
        VAR: var,
        DATASEC: datasec,
        FLOAT: float_,
        DECL_TAG: decl_tag,
    }


def _no_vlen(t: TypeRecord) -> None:
    if t.vlen:
        raise _Fail("vlen != 0")


def _no_kflag(t: TypeRecord) -> None:
    if t.kflag:
        raise _Fail("Invalid btf_info kind_flag")


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


# ---------------------------------------------------------------- phase 2 (type tags)
def _phase2_type_tags(btf: Btf) -> None:
    """``btf_check_type_tags``: in a modifier chain all TYPE_TAGs come first."""
    last_id = btf.last_id
    for t in btf.types:
        if t.kind not in MODIFIERS:
            continue
        i = t.id
        in_tags = t.kind == TYPE_TAG
        cur = btf.type_by_id(i)
        steps = 32
        while cur is not None and cur.kind in MODIFIERS:
            if steps == 0:
                raise _fail(t, "Max chain length or cycle detected")
            steps -= 1
            if cur.kind == TYPE_TAG:
                if not in_tags:
                    raise _fail(t, "Type tags don't precede modifiers")
            else:
                in_tags = False
            if cur.id < i:  # already checked (kernel: cur_id <= good_id)
                break
            nxt = cur.size_type
            if nxt > last_id:
                raise _fail(t, "Invalid type_id")
            cur = btf.type_by_id(nxt)  # None for void (id 0)


# ---------------------------------------------------------------- phase 3 (resolve)
def _phase3_resolve(btf: Btf) -> None:
    """``btf_check_all_types``, step by step (:mod:`.validate_resolve`)."""
    resolver = Resolver(btf, lambda off: is_ident(btf.str_bytes(off)))
    try:
        resolver.run()
    except ResolveFailure as e:
        t = btf.type_by_id(e.type_id)
        assert t is not None
        raise _fail(t, e.message) from None
