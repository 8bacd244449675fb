"""Per-kind layout table and bit masks of BTF records (uapi ``include/uapi/linux/btf.h``).

Every BTF type record is a sequence of 32-bit words: a 3-word common part
``{name_off, info, size|type}`` followed by ``info_words`` fixed words and ``vlen``
elements of ``elem_words`` words each.  Because every field is a whole u32 word
(ENUM64 values are two words, lo then hi), one table tells where the type-id and
string-offset fields sit; parsing, byte swapping, validation and dumping all use it.
The id/string field positions mirror libbpf ``btf_field_iter_init`` (``src/btf_iter.c``).
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Tuple

# Byte order of a BTF blob (``int.from_bytes`` / ``sys.byteorder`` spelling).
ByteOrder = Literal["little", "big"]

# --- info word (2026 widened encoding, always used to decode) -------------------------
VLEN_MASK = 0xFFFFFF  # bits 0-23
KIND_SHIFT = 24
KIND_MASK = 0x7F  # bits 24-30
KFLAG_SHIFT = 31

CLASSIC_MAX_VLEN = 0xFFFF  # pre-2026 limit, checked by validate(wide=False)
# the info bits of the classic encoding (BTF_INFO_MASK): vlen 0-15, kind 24-28, kind_flag 31
CLASSIC_INFO_MASK = 0x9F00FFFF
MAX_ID = 0xFFFFF  # BTF_MAX_TYPE
MAX_STR = 0xFFFFFF  # BTF_MAX_NAME_OFFSET
MAX_BTF_SIZE = 16 << 20  # BTF_MAX_SIZE: the largest blob BPF_BTF_LOAD takes

HEADER_MIN = 24  # struct btf_header without the layout fields
HEADER_LAYOUT = 32  # header with layout_off / layout_len
COMMON_WORDS = 3  # name_off, info, size/type

# --- kind numbers ------------------------------------------------------------------------
UNKN = 0
INT = 1
PTR = 2
ARRAY = 3
STRUCT = 4
UNION = 5
ENUM = 6
FWD = 7
TYPEDEF = 8
VOLATILE = 9
CONST = 10
RESTRICT = 11
FUNC = 12
FUNC_PROTO = 13
VAR = 14
DATASEC = 15
FLOAT = 16
DECL_TAG = 17
TYPE_TAG = 18
ENUM64 = 19
KIND_MAX = ENUM64

# Kinds that are "modifiers" for chain walking (kernel btf_type_is_modifier).
MODIFIERS = frozenset({TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG})


class KindLayout(NamedTuple):
    """Where things sit in one kind's record (word indexes, not bytes)."""

    name: str
    info_words: int  # fixed trailing words after the 3-word common part
    elem_words: int  # words per vlen element
    type_is_id: bool  # word 2 (size/type) is a type id
    info_ids: Tuple[int, ...]  # indexes into the fixed trailing words that are type ids
    elem_ids: Tuple[int, ...]  # indexes inside one element that are type ids
    elem_strs: Tuple[int, ...]  # indexes inside one element that are string offsets
    by_value: bool  # id fields are by-value edges for resolve (PTR/FWD: no)


_NONE: Tuple[int, ...] = ()

# Index = kind number.  Sizes cross-checked with libbpf btf_type_size.
LAYOUTS: Tuple[KindLayout | None, ...] = (
    None,  # UNKN: never a valid record
    KindLayout("INT", 1, 0, False, _NONE, _NONE, _NONE, False),
    KindLayout("PTR", 0, 0, True, _NONE, _NONE, _NONE, False),
    # btf_array {type, index_type, nelems}
    KindLayout("ARRAY", 3, 0, False, (0, 1), _NONE, _NONE, True),
    # btf_member {name_off, type, offset}
    KindLayout("STRUCT", 0, 3, False, _NONE, (1,), (0,), True),
    KindLayout("UNION", 0, 3, False, _NONE, (1,), (0,), True),
    # btf_enum {name_off, val}
    KindLayout("ENUM", 0, 2, False, _NONE, _NONE, (0,), False),
    KindLayout("FWD", 0, 0, True, _NONE, _NONE, _NONE, False),
    KindLayout("TYPEDEF", 0, 0, True, _NONE, _NONE, _NONE, True),
    KindLayout("VOLATILE", 0, 0, True, _NONE, _NONE, _NONE, True),
    KindLayout("CONST", 0, 0, True, _NONE, _NONE, _NONE, True),
    KindLayout("RESTRICT", 0, 0, True, _NONE, _NONE, _NONE, True),
    KindLayout("FUNC", 0, 0, True, _NONE, _NONE, _NONE, True),
    # btf_param {name_off, type}; word 2 is the return type
    KindLayout("FUNC_PROTO", 0, 2, True, _NONE, (1,), (0,), True),
    # btf_var {linkage}
    KindLayout("VAR", 1, 0, True, _NONE, _NONE, _NONE, True),
    # btf_var_secinfo {type, offset, size}
    KindLayout("DATASEC", 0, 3, False, _NONE, (0,), _NONE, True),
    KindLayout("FLOAT", 0, 0, False, _NONE, _NONE, _NONE, False),
    # btf_decl_tag {component_idx}
    KindLayout("DECL_TAG", 1, 0, True, _NONE, _NONE, _NONE, True),
    KindLayout("TYPE_TAG", 0, 0, True, _NONE, _NONE, _NONE, True),
    # btf_enum64 {name_off, val_lo32, val_hi32}
    KindLayout("ENUM64", 0, 3, False, _NONE, _NONE, (0,), False),
)

KIND_NAMES: Tuple[str, ...] = ("UNKN",) + tuple(lay.name for lay in LAYOUTS[1:] if lay is not None)


def kind_name(kind: int) -> str:
    """Name of a kind number ("UNKN" for 0, "KIND<n>" for unknown numbers)."""
    if 0 <= kind < len(KIND_NAMES):
        return KIND_NAMES[kind]
    return f"KIND{kind}"


def split_info(info: int) -> Tuple[int, int, int]:
    """Decode an info word into (kind, vlen, kflag)."""
    return (info >> KIND_SHIFT) & KIND_MASK, info & VLEN_MASK, info >> KFLAG_SHIFT
