"""Sizes of base types and the per-member checks of the resolve phase (docs/rules.md).

A size is what the kernel's ``btf_type_id_size`` gives: the size word of an INT, STRUCT,
UNION, ENUM, ENUM64 or FLOAT, 8 for a PTR (a 64-bit kernel), the element size times
``nelems`` for an ARRAY, through modifiers. Own types get theirs as the resolve pass
goes (``validate_resolve``); a trusted base type's comes from its chain. Each member of a
STRUCT or UNION is checked by the ``check_member`` (or, with kflag,
``check_kflag_member``) of the kind its type reaches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

from ._layout import ARRAY, ENUM, ENUM64, FLOAT, INT, MODIFIERS, PTR, STRUCT, UNION

if TYPE_CHECKING:
    from .btf import Btf
    from .parse import TypeRecord

U32_MAX = 0xFFFFFFFF
BASE_LINKS = 64  # links a base type's size follows (docs/rules.md)
PTR_SIZE = 8
_SIZE_WORD_KINDS = (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT)


def _own_ext(t: TypeRecord) -> Tuple[int, int]:
    """(size, INT encoding word) a record gives by itself (size 0: none, or it comes
    from another type; word 0 unless an INT)."""
    if t.kind == INT:
        return t.size_type, t.fixed()[0]
    if t.kind in _SIZE_WORD_KINDS:
        return t.size_type, 0
    return (PTR_SIZE if t.kind == PTR else 0), 0


def _times(factor: int, ext: Tuple[int, int]) -> Tuple[int, int]:
    """An ARRAY level's (size, 0) from its element's; 0 past u32."""
    total = factor * ext[0]
    return (total if total <= U32_MAX else 0), 0


def base_ext(btf: Btf, type_id: int) -> Tuple[int, int]:
    """A base type's (size, INT word): at most BASE_LINKS links; more, or a partial
    product past u32, give (0, 0)."""
    factor = None
    cur = type_id
    for _ in range(BASE_LINKS + 1):
        t = btf.type_by_id(cur) if 0 < cur <= btf.last_id else None
        if t is None:
            return 0, 0
        if t.kind in MODIFIERS:
            cur = t.size_type
        elif t.kind == ARRAY:
            elem, _, nelems = t.fixed()
            factor = (1 if factor is None else factor) * nelems
            if factor > U32_MAX:
                return 0, 0
            cur = elem
        else:
            return _own_ext(t) if factor is None else _times(factor, _own_ext(t))
    return 0, 0


def regular_int(t: Optional[TypeRecord]) -> bool:
    """``btf_type_int_is_regular`` (R4): no bit offset, whole bytes, 1, 2, 4, 8 or
    (__int128) 16 of them."""
    if t is None or t.kind != INT:
        return False
    data = t.fixed()[0]
    bits, offset = data & 0xFF, (data >> 16) & 0xFF
    return offset == 0 and bits % 8 == 0 and bits // 8 in (1, 2, 4, 8, 16)


def _fits(struct_size: int, bit_off: int, nbits: int) -> Optional[str]:
    """An INT member's ``nbits`` from bit ``bit_off`` within the struct."""
    copy_bits = nbits + bit_off % 8
    if copy_bits > 128:
        return "nr_copy_bits exceeds 128"
    start = bit_off // 8
    if struct_size < start or struct_size - start < -(-copy_bits // 8):
        return "Member exceeds struct_size"
    return None


def member_fail(s: TypeRecord, word: int, m: TypeRecord, size: int, data: int) -> Optional[str]:
    """R11 for a member of ``s`` at offset word ``word`` whose type reaches ``m`` (sized,
    modifiers skipped) of ``size`` bytes (``btf_type_id_size``) and, for an INT,
    encoding word ``data``: ``check_member``, or ``check_kflag_member`` with kflag."""
    ssize = s.size_type
    kflag = bool(s.kflag)
    bitfield, bit_off = word >> 24, word & 0xFFFFFF
    if m.kind == INT:
        bits = data & 0xFF
        if not kflag:  # btf_int_check_member
            start = word + ((data >> 16) & 0xFF)
            if start > U32_MAX:
                return "bits_offset exceeds U32_MAX"
            return _fits(ssize, start, bits)
        if not regular_int(m):  # btf_int_check_kflag_member
            return "Invalid member base type"
        if bitfield == 0:
            if bit_off % 8:
                return "Invalid member offset"
            return _fits(ssize, bit_off, bits)
        if bitfield > bits:
            return "Invalid member bitfield_size"
        return _fits(ssize, bit_off, bitfield)
    if kflag and m.kind in (ENUM, ENUM64):  # btf_enum_check_kflag_member
        if bitfield == 0:
            if bit_off % 8:
                return "Member is not byte aligned"
            bitfield = 32  # an int's bits, whatever the enum's size
        elif bitfield > 32:
            return "Invalid member bitfield_size"
        if ssize < -(-(bit_off + bitfield) // 8):
            return "Member exceeds struct_size"
        return None
    if kflag and bitfield:  # btf_generic_check_kflag_member
        return "Invalid member bitfield_size"
    if m.kind == FLOAT:  # btf_float_check_member
        align_bits = 8 * min(PTR_SIZE, size)
        if align_bits and word % align_bits:
            return "Member is not properly aligned"
        if word // 8 + size > ssize:
            return "Member exceeds struct_size"
        return None
    if word % 8:  # PTR, ARRAY, STRUCT, UNION, ENUM, ENUM64
        return "Member is not byte aligned"
    if (ssize - word // 8) % (U32_MAX + 1) < size:
        return "Member exceeds struct_size"
    return None
