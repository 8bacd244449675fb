"""Validation of parsed BTF (docs/rules.md §2): phases 0-3, lowest failing id reported.

Phase 1 mirrors kernel ``btf_check_meta`` and the per-kind ``*_check_meta`` functions,
phase 2 ``btf_check_type_tags``, phase 3 ``btf_check_all_types`` / the ``*_resolve``
functions (strict level only).  Only the blob's own types are checked; base types are
trusted.  Errors are :class:`BtfValidationError` with ``type_id`` and ``kind`` set.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Deque, Dict, List

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
    LAYOUTS,
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
from .validate_members import array_overflows, member_rule, regular_int, type_size

if TYPE_CHECKING:
    from .btf import Btf

KSYM_NAME_LEN = 512
_IDENT_RE = re.compile(rb"[A-Za-z_.][A-Za-z0-9_.]*")
_SECTION_RE = re.compile(rb"[\x20-\x7e]+")
SIZED_KINDS = frozenset({INT, PTR, ARRAY, STRUCT, UNION, ENUM, ENUM64, FLOAT})
DECL_TAG_TARGETS = frozenset({STRUCT, UNION, FUNC, VAR, TYPEDEF})


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
    _phase0(btf)
    checker = _MetaChecker(btf, wide)
    for t in btf.types:
        checker.check(t)
    # `btf_parse` (user BTF) resolves every type (`btf_parse_type_sec`) before it checks
    # type tags; `btf_parse_module` checks type tags only.
    if level == "strict":
        _phase3_resolve(btf)
    _phase2_type_tags(btf)


# ---------------------------------------------------------------- phase 0 (global limits)
def _phase0(btf: Btf) -> None:
    str_len = len(btf.strings)
    if str_len and btf.start_str_off + str_len - 1 > MAX_STR:  # G1
        raise BtfValidationError("String section too large", section="strings")
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
            raise _fail(t, "Invalid btf_info")
        if t.name_off >= self.str_end:  # M2
            raise _fail(t, "Invalid name_offset")
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
            raise _Fail("Invalid int_data")
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
        for name_off, mtype, moff in t.elems():
            if name_off >= self.str_end:
                raise _Fail("Invalid member name_offset")
            if name_off and not is_ident(self.name(name_off)):
                raise _Fail("Invalid name")
            if not mtype or mtype > MAX_ID:
                raise _Fail("Invalid member type_id")
            bit_off = moff & 0xFFFFFF if t.kflag else moff
            if t.kind == UNION and bit_off:
                raise _Fail("Invalid member bits_offset")
            if bit_off < prev:
                raise _Fail("Invalid member bits_offset")
            if (bit_off + 7) // 8 > size:
                raise _Fail("Member bits_offset exceeds its struct size")
            prev = bit_off

    def enum(self, t: TypeRecord) -> None:  # btf_enum_check_meta / btf_enum64_check_meta
        if t.size_type not in (1, 2, 4, 8):
            raise _Fail("Unexpected size")
        if t.name_off and not is_ident(self.name(t.name_off)):
            raise _Fail("Invalid name")
        for elem in t.elems():
            if elem[0] >= self.str_end:
                raise _Fail("Invalid name_offset")
            if not is_ident(self.name(elem[0])):
                raise _Fail("Invalid name")

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
        for vtype, voff, vsize in t.elems():
            if not vtype or vtype > MAX_ID:
                raise _Fail("Invalid type_id")
            if voff < last_end or voff >= size:
                raise _Fail("Invalid offset")
            if not vsize or vsize > size:
                raise _Fail("Invalid size")
            last_end = voff + vsize
            if last_end > size:
                raise _Fail("Invalid offset+size")
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
def _own_edges(btf: Btf, t: TypeRecord) -> List[int]:
    """By-value edges of ``t`` that land on own types (void, base and dangling ids drop).
    A FUNC_PROTO is never on the kernel's resolve stack (it needs no resolve): no edge
    enters or leaves one."""
    lay = LAYOUTS[t.kind]
    assert lay is not None
    if not lay.by_value or t.kind == FUNC_PROTO:
        return []
    lo, hi = btf.start_id, btf.last_id
    out = []
    for x in t.id_fields():
        target = btf.type_by_id(x) if lo <= x <= hi else None
        if target is not None and target.kind != FUNC_PROTO:
            out.append(x)
    return out


def _reaches_cycle(btf: Btf) -> Dict[int, bool]:
    """R2: which own types reach a cycle through by-value edges.

    Peel types whose every edge leads to an already-peeled type (reverse topological
    peeling); whatever can never be peeled reaches a cycle.
    """
    out_count: Dict[int, int] = {}
    preds: Dict[int, List[int]] = {}
    ready: Deque[int] = deque()
    for t in btf.types:
        edges = _own_edges(btf, t)
        out_count[t.id] = len(edges)
        for e in edges:
            preds.setdefault(e, []).append(t.id)
        if not edges:
            ready.append(t.id)
    while ready:
        v = ready.popleft()
        for p in preds.get(v, ()):
            out_count[p] -= 1
            if out_count[p] == 0:
                ready.append(p)
    return {tid: n > 0 for tid, n in out_count.items()}


def _skip_modifiers(btf: Btf, type_id: int) -> TypeRecord | None:
    """Follow modifiers from ``type_id``; None for void, dangling ids or a base loop."""
    seen = set()
    cur = btf.type_by_id(type_id) if type_id <= btf.last_id else None
    while cur is not None and cur.kind in MODIFIERS:
        if cur.id in seen:
            return None
        seen.add(cur.id)
        nxt = cur.size_type
        cur = btf.type_by_id(nxt) if nxt <= btf.last_id else None
    return cur


def _phase3_resolve(btf: Btf) -> None:
    in_loop = _reaches_cycle(btf)
    in_ptr_loop = _reaches_ptr_loop(btf)
    last_id = btf.last_id
    for t in btf.types:
        if any(x > last_id for x in t.id_fields()):  # R1
            raise _fail(t, _r1_message(btf, t, in_loop))
        if in_loop[t.id] or t.id in in_ptr_loop:  # R2, R13
            raise _fail(t, "Loop detected")
        msg = _resolve_rules(btf, t, in_loop)
        if msg is not None:
            raise _fail(t, msg)


def _reaches_ptr_loop(btf: Btf) -> set:
    """R13: the kernel resolves a PTR following only PTRs and modifiers, so any loop met
    after a PTR is "Loop detected".  The own PTRs and modifiers whose chain of types ends
    in a loop and holds a PTR (on the way or in the loop) fail, and so do the VARs whose
    type is one of them and the DECL_TAGs (on such a TYPEDEF or VAR) and DATASECs (with
    such a VAR) that name one (a STRUCT or ARRAY stops at a PTR)."""

    def link(type_id: int) -> TypeRecord | None:
        t = btf.type_by_id(type_id) if btf.start_id <= type_id <= btf.last_id else None
        return t if t is not None and (t.kind == PTR or t.kind in MODIFIERS) else None

    # per chain member: "out" (ends outside a loop), "loop" (ends in a loop, no PTR met
    # yet) or "fails"
    verdict: Dict[int, str] = {}
    for t in btf.types:
        path: List[TypeRecord] = []
        index: Dict[int, int] = {}
        cur = link(t.id)
        while cur is not None and cur.id not in verdict and cur.id not in index:
            index[cur.id] = len(path)
            path.append(cur)
            cur = link(cur.size_type)
        if cur is None:
            end = "out"
        elif cur.id in verdict:
            end = verdict[cur.id]
        else:  # back on the path: the loop is path[index[cur.id]:]
            loop = path[index[cur.id] :]
            end = "fails" if any(p.kind == PTR for p in loop) else "loop"
        for p in reversed(path):
            if end == "loop" and p.kind == PTR:
                end = "fails"
            verdict[p.id] = end
    chains = {i for i, v in verdict.items() if v == "fails"}
    variables = {t.id for t in btf.types if t.kind == VAR and t.size_type in chains}
    out = chains | variables
    for t in btf.types:
        if t.kind == DECL_TAG:
            target = btf.type_by_id(t.size_type) if 0 < t.size_type <= btf.last_id else None
            if target is not None and target.kind in (TYPEDEF, VAR) and target.id in out:
                out.add(t.id)
        elif t.kind == DATASEC and any(v in variables for v, _, _ in t.elems()):
            out.add(t.id)
    return out


def _r1_message(btf: Btf, t: TypeRecord, in_loop: Dict[int, bool]) -> str:
    """R1's message: for STRUCT, UNION, ARRAY, FUNC_PROTO and DATASEC the kernel's resolve
    checks meet an id past ``last_id`` as a bad member, element, index, parameter or
    entry and word it so; for the others it is "Invalid type_id"."""
    if t.kind in (STRUCT, UNION, ARRAY, FUNC_PROTO, DATASEC):
        msg = _resolve_rules(btf, t, in_loop)
        if msg is not None:
            return msg
    return "Invalid type_id"


def _is_sized(btf: Btf, type_id: int) -> bool:
    target = _skip_modifiers(btf, type_id)
    return target is not None and target.kind in SIZED_KINDS


def _resolve_rules(btf: Btf, t: TypeRecord, in_loop: Dict[int, bool]) -> str | None:
    """R3-R12 for one type; returns the failure message or None."""
    kind = t.kind
    if kind in MODIFIERS or kind == PTR:  # R10 (btf_modifier_resolve, btf_ptr_resolve)
        target = btf.type_by_id(t.size_type) if 0 < t.size_type <= btf.last_id else None
        if target is not None and target.kind in (VAR, DATASEC, DECL_TAG):
            return "Invalid type_id"
    elif kind in (STRUCT, UNION):  # member by member: R3, then R11
        for member in t.elems():
            m = _skip_modifiers(btf, member[1])
            if m is None or m.kind not in SIZED_KINDS:
                return "Invalid member"
            msg = member_rule(btf, t, member, m)
            if msg is not None:
                return msg
    elif kind == ARRAY:  # btf_array_resolve checks the index first
        elem, index, _ = t.fixed()
        if not regular_int(_skip_modifiers(btf, index)):  # R4
            return "Invalid index"
        if not _is_sized(btf, elem):  # R3
            return "Invalid elem"
        target = _skip_modifiers(btf, elem)
        if target is not None and target.kind == INT and not regular_int(target):  # R8
            return "Invalid array of int"
        if array_overflows(btf, t):  # R12
            return "Array size overflows U32_MAX"
    elif kind == VAR:
        if not _is_sized(btf, t.size_type):  # R3 (btf_var_resolve's words)
            return "Invalid type_id"
    elif kind == FUNC:  # R5 (btf_func_check)
        proto = btf.type_by_id(t.size_type)
        if proto is None or proto.kind != FUNC_PROTO:
            return "Invalid type_id"
        for n, (name_off, ptype) in enumerate(proto.elems(), 1):
            if not name_off and ptype:
                return f"Invalid arg#{n}"
    elif kind == FUNC_PROTO:  # R9 (btf_func_proto_check)
        return _func_proto_rule(btf, t, in_loop)
    elif kind == DATASEC:  # R6
        return _datasec_rule(btf, t)
    elif kind == DECL_TAG:  # R7
        return _decl_tag_rule(btf, t)
    return None


def _func_proto_rule(btf: Btf, t: TypeRecord, in_loop: Dict[int, bool]) -> str | None:
    """R9: the return type is void or sized; a last parameter of type void (varargs) has
    no name; every other parameter has a sized type and no name or an identifier.  The
    kernel resolves each type as it comes: at one that reaches a loop it stops (that
    type fails on its own)."""

    def stops(type_id: int) -> bool:
        target = btf.type_by_id(type_id) if btf.start_id <= type_id <= btf.last_id else None
        return (
            in_loop.get(type_id, False)
            and target is not None
            and target.kind
            not in (
                VAR,
                DATASEC,
                DECL_TAG,
            )
        )

    if t.size_type:
        if stops(t.size_type):
            return None
        if not _is_sized(btf, t.size_type):
            return "Invalid return type"
    params = t.elems()
    if params and params[-1][1] == 0:
        if params[-1][0]:
            return f"Invalid arg#{len(params)}"
        params = params[:-1]
    for n, (name_off, ptype) in enumerate(params, 1):
        if name_off and not is_ident(btf.str_bytes(name_off)):
            return f"Invalid arg#{n}"
        if stops(ptype):
            return None
        if not _is_sized(btf, ptype):
            return f"Invalid arg#{n}"
    return None


def _datasec_rule(btf: Btf, t: TypeRecord) -> str | None:
    """R6: each entry a VAR of a sized type (an own VAR whose type is not fails on its
    own, and the check stops there).  The kernel resolves a VAR it meets unresolved (an
    own VAR with a higher id than the DATASEC, the first time) and resumes after its
    entry without checking its size; the others' type is no larger than the entry."""
    resolved_here = set()
    for vtype, _, vsize in t.elems():
        var = btf.type_by_id(vtype) if 0 < vtype <= btf.last_id else None
        if var is None or var.kind != VAR:
            return "Not a VAR kind member"
        if not _is_sized(btf, var.size_type):
            return None if vtype >= btf.start_id else "Invalid type"
        if vtype > t.id and vtype not in resolved_here:
            resolved_here.add(vtype)
            continue
        if vsize < type_size(btf, var.size_type):
            return "Invalid size"
    return None


def _decl_tag_rule(btf: Btf, t: TypeRecord) -> str | None:
    target = btf.type_by_id(t.size_type) if t.size_type else None
    if target is None or target.kind not in DECL_TAG_TARGETS:
        return "Invalid type_id"
    component_idx = _s32(t.fixed()[0])
    if component_idx == -1:
        return None
    if target.kind in (STRUCT, UNION):
        limit = target.vlen
    elif target.kind == FUNC:
        # btf_decl_tag_resolve counts the entries of whatever the FUNC's type is; a FUNC
        # whose type is not a FUNC_PROTO fails R5 on its own.
        proto = btf.type_by_id(target.size_type)
        limit = proto.vlen if proto is not None else 0
    else:
        return "Invalid component_idx"
    if component_idx >= limit:
        return "Invalid component_idx"
    return None
