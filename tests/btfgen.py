"""A small, independent BTF builder and hypothesis strategies (test-only code).

Written from the BTF format description (uapi ``struct btf_header`` / ``struct btf_type`` and
the per-kind trailing records) and the contract in ``docs/rules.md``. It shares no code with
either backend on purpose: it is the yardstick both are measured against.

Strategies:

* :func:`valid_btf` -> ``bytes``: a base BTF blob that passes ``validate("strict")`` and
  ``validate("module")``; canonical (header, types, optional layout, strings; contiguous), so
  write∘parse must reproduce it byte for byte.
* :func:`valid_split` -> ``(base_bytes, split_bytes)``.
* :func:`invalid_btf` -> :class:`Invalid` ``(bytes, exception_class, type_id or None)``;
  ``.fails_module`` tells whether ``validate("module")`` fails too (phase 3 defects, made in
  ``btfgen_resolve``, are strict-only), ``.note`` names the defect.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Tuple, Union

from btfx.errors import BtfFormatError, BtfValidationError
from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------------
# Format constants (uapi linux/btf.h)

MAGIC = 0xEB9F
MAX_ID = 0xFFFFF

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC = 9, 10, 11, 12, 13, 14, 15
FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = 16, 17, 18, 19

KIND_NAMES = {
    INT: "INT",
    PTR: "PTR",
    ARRAY: "ARRAY",
    STRUCT: "STRUCT",
    UNION: "UNION",
    ENUM: "ENUM",
    FWD: "FWD",
    TYPEDEF: "TYPEDEF",
    VOLATILE: "VOLATILE",
    CONST: "CONST",
    RESTRICT: "RESTRICT",
    FUNC: "FUNC",
    FUNC_PROTO: "FUNC_PROTO",
    VAR: "VAR",
    DATASEC: "DATASEC",
    FLOAT: "FLOAT",
    DECL_TAG: "DECL_TAG",
    TYPE_TAG: "TYPE_TAG",
    ENUM64: "ENUM64",
}

INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4

# (info_size, elem_size) of the trailing data per kind
TRAILING = {
    INT: (4, 0),
    ARRAY: (12, 0),
    STRUCT: (0, 12),
    UNION: (0, 12),
    ENUM: (0, 8),
    FUNC_PROTO: (0, 8),
    VAR: (4, 0),
    DATASEC: (0, 12),
    DECL_TAG: (4, 0),
    ENUM64: (0, 12),
}
VLEN_KINDS = (STRUCT, UNION, ENUM, FUNC_PROTO, DATASEC, ENUM64)
MODIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)
SIZED = (INT, PTR, ARRAY, STRUCT, UNION, ENUM, ENUM64, FLOAT)
# kinds whose size/type word is a type id
TYPE_WORD_KINDS = (
    PTR,
    FWD,
    TYPEDEF,
    VOLATILE,
    CONST,
    RESTRICT,
    FUNC,
    FUNC_PROTO,
    VAR,
    DECL_TAG,
    TYPE_TAG,
)


def layout_section() -> bytes:
    """A kind-layout section: ``{u8 info_sz, u8 elem_sz, u16 flags}`` for kinds 0..19."""
    out = bytearray()
    for kind in range(20):
        info, elem = TRAILING.get(kind, (0, 0))
        out += bytes((info, elem, 0, 0))  # flags 0: identical in both byte orders
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Model

Name = Union[None, str, int]  # None: anonymous (offset 0); str: interned; int: raw offset


@dataclass
class T:
    """One type record. ``data`` holds the kind-specific trailing records:

    INT ``[encoding_word]``; ARRAY ``[(elem, index, nelems)]``; STRUCT/UNION
    ``[(name, type, offset_word)]``; ENUM ``[(name, s32)]``; ENUM64 ``[(name, u64)]``;
    FUNC_PROTO ``[(name, type)]``; VAR ``[linkage]``; DATASEC ``[(type, offset, size)]``;
    DECL_TAG ``[component_idx]``.
    """

    kind: int
    name: Name = None
    st: int = 0  # the size/type word
    kflag: int = 0
    data: List[Any] = field(default_factory=list)
    vlen: int | None = None  # None: derived (len(data) for vlen kinds, else 0)
    kind_word: int | None = None  # raw override of the kind bits (unknown kinds)

    def info_vlen(self) -> int:
        if self.vlen is not None:
            return self.vlen
        return len(self.data) if self.kind in VLEN_KINDS else 0


class StrTab:
    """A string section. Base: starts with the empty string. Split: starts with the first
    real string; offsets are absolute (``start + local``)."""

    def __init__(self, start: int = 0) -> None:
        self.start = start
        self.buf = bytearray(b"" if start else b"\0")
        self.index: Dict[bytes, int] = {} if start else {b"": 0}

    def add(self, s: Union[str, bytes]) -> int:
        b = s.encode() if isinstance(s, str) else s
        if b in self.index:
            return self.index[b]
        off = self.start + len(self.buf)
        self.buf += b + b"\0"
        self.index[b] = off
        return off

    def __len__(self) -> int:
        return len(self.buf)


@dataclass
class Model:
    types: List[T]
    start_id: int = 1
    start_str_off: int = 0
    strings: StrTab | None = None  # pre-filled table (names may be raw ints into it)
    byteorder: str = "little"
    hdr_len: int = 24
    layout: bool = False
    facts: Dict[str, Any] = field(default_factory=dict)  # generator bookkeeping

    @property
    def last_id(self) -> int:
        return self.start_id + len(self.types) - 1

    def tid(self, idx: int) -> int:
        return self.start_id + idx


def _name_off(tab: StrTab, name: Name) -> int:
    if name is None:
        return 0
    if isinstance(name, int):
        return name
    return tab.add(name)


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


def encode_types(model: Model, tab: StrTab) -> List[int]:
    """All type records as 32-bit words (every BTF word after the header is a u32)."""
    words: List[int] = []
    for t in model.types:
        kind = t.kind if t.kind_word is None else t.kind_word
        info = (t.kflag << 31) | ((kind & 0x7F) << 24) | (t.info_vlen() & 0xFFFFFF)
        words += [_name_off(tab, t.name), _u32(info), _u32(t.st)]
        k = t.kind
        for item in t.data:
            if k in (INT, VAR, DECL_TAG):
                words.append(_u32(item))
            elif k in (ARRAY, DATASEC):
                words += [_u32(x) for x in item]
            elif k in (STRUCT, UNION):
                words += [_name_off(tab, item[0]), _u32(item[1]), _u32(item[2])]
            elif k in (ENUM, FUNC_PROTO):
                words += [_name_off(tab, item[0]), _u32(item[1])]
            elif k == ENUM64:
                v = item[1] & 0xFFFFFFFFFFFFFFFF
                words += [_name_off(tab, item[0]), v & 0xFFFFFFFF, v >> 32]
            else:
                raise AssertionError(f"kind {k} has no trailing data")
    return words


@dataclass
class Header:
    """Raw header fields; ``None`` fields are derived from the section sizes."""

    magic: int = MAGIC
    version: int = 1
    flags: int = 0
    hdr_len: int = 24
    type_off: int | None = None
    type_len: int | None = None
    str_off: int | None = None
    str_len: int | None = None
    layout_off: int | None = None
    layout_len: int | None = None
    extra: bytes = b""  # bytes [32, hdr_len)


def assemble(
    type_bytes: bytes, str_bytes: bytes, layout: bytes, byteorder: str, hdr: Header
) -> bytes:
    """Header, types, layout, strings: the canonical (libbpf) order, contiguous."""
    e = "<" if byteorder == "little" else ">"
    type_len = len(type_bytes) if hdr.type_len is None else hdr.type_len
    lay_len = len(layout) if hdr.layout_len is None else hdr.layout_len
    out = struct.pack(
        e + "HBBIIIII",
        hdr.magic,
        hdr.version,
        hdr.flags,
        hdr.hdr_len,
        0 if hdr.type_off is None else hdr.type_off,
        type_len,
        len(type_bytes) + len(layout) if hdr.str_off is None else hdr.str_off,
        len(str_bytes) if hdr.str_len is None else hdr.str_len,
    )
    if hdr.hdr_len >= 32:
        lay_off = len(type_bytes) if hdr.layout_off is None else hdr.layout_off
        out += struct.pack(e + "II", lay_off, lay_len)
        out += hdr.extra.ljust(hdr.hdr_len - 32, b"\0")
    else:
        out += hdr.extra
    return out + type_bytes + layout + str_bytes


def serialize(model: Model, hdr: Header | None = None) -> bytes:
    tab = model.strings if model.strings is not None else StrTab(model.start_str_off)
    words = encode_types(model, tab)
    e = "<" if model.byteorder == "little" else ">"
    type_bytes = struct.pack(f"{e}{len(words)}I", *words)
    if hdr is None:
        hdr = Header(hdr_len=model.hdr_len)
    layout = layout_section() if model.layout else b""
    return assemble(type_bytes, bytes(tab.buf), layout, model.byteorder, hdr)


def str_len_of(model: Model) -> int:
    tab = model.strings if model.strings is not None else StrTab(model.start_str_off)
    encode_types(model, tab)
    return len(tab)


def record_sizes(model: Model) -> List[int]:
    out = []
    for t in model.types:
        info, elem = TRAILING.get(t.kind, (0, 0))
        out.append(12 + info + elem * (len(t.data) if t.kind in VLEN_KINDS else 0))
    return out


# ---------------------------------------------------------------------------------------------
# Valid type graphs

IDENT_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_."
IDENT_REST = IDENT_FIRST + "0123456789"

idents = st.builds(
    lambda a, b: a + b,
    st.sampled_from(IDENT_FIRST),
    st.text(IDENT_REST, max_size=10),
)
INT_NAMES = [
    "int",
    "unsigned int",
    "char",
    "long unsigned int",
    "_Bool",
    "short int",
    "long long int",
    "__int128 unsigned",
    "u8",
]
FLOAT_NAMES = ["float", "double", "long double", "_Float16", "__float128"]
SEC_NAMES = [".data", ".bss", ".rodata", ".data..percpu", "license", ".maps", "sec with space"]


class _G:
    """Type graph under construction. Indices are 0-based positions; a type's id is
    ``start_id + index``; void is :data:`VOID`."""

    VOID = -1

    def __init__(self, draw) -> None:
        self.draw = draw
        self.types: List[T | None] = []
        self.sizes: Dict[int, int] = {}  # ref -> byte size, for sized types
        self.refs_by_kind: Dict[int, List[int]] = {}
        # refs of INTs that are not regular (btf_type_int_is_regular) and of modifiers on
        # them: no ARRAY may have one as its element (R8), no kflag struct as a member (R11)
        self.irregular: set = set()
        # sized ref -> the record it reaches past modifiers (whose check_member applies, R11)
        self.under: Dict[int, T] = {}

    # refs: >= 0 own index; VOID; a base id n (split graphs) is BASE_REF - n
    def reserve(self) -> int:
        self.types.append(None)
        return len(self.types) - 1

    def put(self, t: T, ref: int | None = None, size: int | None = None) -> int:
        if ref is None:
            self.types.append(t)
            ref = len(self.types) - 1
        else:
            self.types[ref] = t
        if size is not None:
            self.sizes[ref] = size
        self.refs_by_kind.setdefault(t.kind, []).append(ref)
        if t.kind in MODIFIERS:
            if t.st in self.irregular:
                self.irregular.add(ref)  # a modifier on an irregular INT (R8 sees through it)
            if t.st in self.under:
                self.under[ref] = self.under[t.st]
        elif t.kind in SIZED:
            self.under[ref] = t
        return ref

    def sized(self) -> List[int]:
        return sorted(self.sizes)

    def pick_sized(self) -> int:
        return self.draw(st.sampled_from(self.sized()))


BASE_REF = -1000  # base id n is encoded as BASE_REF - n


def _gen_scalars(draw, g: _G) -> int:
    """INTs, FLOATs, ENUMs; returns the ref of a regular INT (array index): mostly a 4-byte
    ``int``, else of 1, 2, 8 or (__int128) 16 bytes (``btf_type_int_is_regular``)."""
    idx_size = draw(st.sampled_from([4, 4, 1, 2, 8, 16]))
    bits = 8 * idx_size
    idx_int = g.put(T(INT, "int", idx_size, data=[(INT_SIGNED << 24) | bits]), size=idx_size)
    for _ in range(draw(st.integers(0, 3))):
        size = draw(st.sampled_from([1, 2, 4, 8, 16]))
        enc = draw(st.sampled_from([0, INT_SIGNED, INT_CHAR, INT_BOOL]))
        bits = draw(st.integers(1, 8 * size))
        off = draw(st.integers(0, 8 * size - bits))
        ref = g.put(
            T(INT, draw(st.sampled_from(INT_NAMES)), size, data=[(enc << 24) | (off << 16) | bits]),
            size=size,
        )
        if off or bits % 8 or bits // 8 not in (1, 2, 4, 8, 16):
            g.irregular.add(ref)
    for _ in range(draw(st.integers(0, 2))):
        size = draw(st.sampled_from([2, 4, 8, 12, 16]))
        g.put(T(FLOAT, draw(st.sampled_from(FLOAT_NAMES)), size), size=size)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from([ENUM, ENUM64]))
        size = draw(st.sampled_from([1, 2, 4, 8]))
        signed = draw(st.integers(0, 1))
        nvals = draw(st.integers(0, 4))
        lo, hi = (-(2**31), 2**31 - 1) if kind == ENUM else (-(2**63), 2**64 - 1)
        vals = [(draw(idents), draw(st.integers(lo, hi))) for _ in range(nvals)]
        name = draw(st.one_of(st.none(), idents))
        g.put(T(kind, name, size, kflag=signed, data=vals), size=size)
    return idx_int


def _round_up(v: int, align: int) -> int:
    return -(-v // align) * align


def _place_member(draw, u: T, msize: int, pos: int, kflag: int) -> Tuple[int, int, int, int]:
    """Where a member whose type reaches ``u`` (past modifiers) may start at or after bit
    ``pos`` (-1: a union's, at 0) so that its ``check_member`` / ``check_kflag_member``
    passes; returns ``(bitfield, bit offset, end for the next member, end the struct size
    must cover)``."""
    union = pos < 0
    pos = max(pos, 0)
    byte = _round_up(pos, 8)
    if u.kind == INT:
        word = u.data[0]
        bits, ioff = word & 0xFF, (word >> 16) & 0xFF
        if kflag and draw(st.booleans()):  # btf_int_check_kflag_member, a bitfield
            bf = draw(st.integers(1, bits))
            off = pos if bf + pos % 8 <= 128 else byte  # nr_copy_bits <= 128
            return bf, off, off + bf, off + bf
        if not kflag and draw(st.booleans()):  # btf_int_check_member: any bit offset
            off = pos if union else pos + draw(st.integers(0, 7))
            off = off if bits + (off + ioff) % 8 <= 128 else _round_up(off, 8)
            return 0, off, off + ioff + bits, off + ioff + bits
        return 0, byte, byte + 8 * msize, byte + 8 * msize
    if u.kind in (ENUM, ENUM64) and kflag:
        # btf_enum_check_kflag_member: a bitfield of up to 32 bits, else 32 bits whatever
        # the enum's size
        if draw(st.booleans()):
            bf = draw(st.integers(1, 32))
            return bf, pos, pos + bf, pos + bf
        return 0, byte, byte + 8 * msize, byte + max(32, 8 * msize)
    if u.kind == FLOAT:  # btf_float_check_member: aligned to min(8, size) bytes
        off = _round_up(pos, 8 * min(8, msize))
        return 0, off, off + 8 * msize, off + 8 * msize
    return 0, byte, byte + 8 * msize, byte + 8 * msize  # byte aligned


def _struct_members(draw, g: _G, candidates: List[int], kind: int, kflag: int):
    """Members at non-decreasing offsets that ``btf_struct_resolve`` accepts (kflag: no
    irregular INT, plus int and enum bitfields; no kflag: ints at any bit offset)."""
    if kflag:
        candidates = [r for r in candidates if r not in g.irregular]
    members = []
    pos = 0  # bits
    max_end = 0
    for _ in range(draw(st.integers(0, 4))):
        ref = draw(st.sampled_from(candidates))
        t = g.types[ref] if ref >= 0 else None
        name = (
            draw(st.one_of(st.none(), idents))
            if t is not None and t.kind in (STRUCT, UNION)
            else draw(idents)
        )
        bitfield, bitoff, end, need = _place_member(
            draw, g.under[ref], g.sizes[ref], pos if kind == STRUCT else -1, kflag
        )
        members.append((name, ref, (bitfield << 24) | bitoff))
        max_end = max(max_end, need)
        if kind == STRUCT:
            pos = end
    size = -(-max_end // 8)
    size += draw(st.integers(0, 8))
    return members, size


@st.composite
def _graph(draw, start_id: int = 1, base: Tuple[Model, Dict[str, Any]] | None = None):
    """Generate a valid list of types. ``base``: (base model, base facts) for a split."""
    g = _G(draw)
    if base is not None:
        _, facts = base
        # sized base types, usable like own ones (refs encoded as BASE_REF - id)
        for bid, size in facts["sized"].items():
            g.sizes[BASE_REF - bid] = size
        idx_int = BASE_REF - facts["index_int"]
        g.irregular.update(BASE_REF - bid for bid in facts["irregular"])
        g.under.update((BASE_REF - bid, t) for bid, t in facts["under"].items())
        if draw(st.booleans()):
            idx_int = _gen_scalars(draw, g)
    else:
        idx_int = _gen_scalars(draw, g)

    def val(ref: int) -> int:
        return ref  # refs are resolved to ids (after an optional permutation) at the end

    # struct/union shells: pointers may reference them before they are complete
    shells = [g.reserve() for _ in range(draw(st.integers(0, 3)))]
    shell_kinds = {s: draw(st.sampled_from([STRUCT, UNION])) for s in shells}

    # forward declarations
    for _ in range(draw(st.integers(0, 2))):
        u = draw(st.integers(0, 1))
        g.put(T(FWD, draw(idents), 0, kflag=u))

    def add_ptr(target: int) -> int:
        return g.put(T(PTR, None, val(target)), size=8)

    # pointers (incl. void *, pointers to shells = cycles through pointers, fwd, base types)
    ptr_targets = [_G.VOID] + shells + g.refs_by_kind.get(FWD, []) + g.sized()
    for _ in range(draw(st.integers(0, 4))):
        add_ptr(draw(st.sampled_from(ptr_targets)))

    # type tag chains: PTR -> TYPE_TAG -> ... -> [CONST/VOLATILE ->] target
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from([_G.VOID] + g.sized()))
        if draw(st.booleans()):
            target = g.put(
                T(draw(st.sampled_from([CONST, VOLATILE])), None, val(target)),
                size=g.sizes.get(target),
            )
        for _ in range(draw(st.integers(1, 3))):
            target = g.put(T(TYPE_TAG, draw(idents), val(target), kflag=draw(st.integers(0, 1))))
        add_ptr(target)

    # modifiers and typedefs on sized types (and void for CONST/VOLATILE/TYPEDEF)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from([CONST, VOLATILE, RESTRICT, TYPEDEF]))
        if kind == RESTRICT:
            target = draw(st.sampled_from(g.refs_by_kind.get(PTR, []) or g.sized()))
        else:
            target = draw(st.sampled_from([_G.VOID] + g.sized()))
        name = draw(idents) if kind == TYPEDEF else None
        g.put(T(kind, name, val(target)), size=g.sizes.get(target))

    # arrays
    for _ in range(draw(st.integers(0, 3))):
        elem = draw(st.sampled_from([r for r in g.sized() if r not in g.irregular]))
        n = draw(st.integers(0, 8))
        index = idx_int
        if draw(st.booleans()):
            index = g.put(T(TYPEDEF, draw(idents), val(idx_int)), size=g.sizes[idx_int])
        g.put(T(ARRAY, None, 0, data=[(val(elem), val(index), n)]), size=g.sizes[elem] * n)

    # complete shells (members: sized types existing now, including pointers to shells),
    # then a few more structs that may embed completed ones
    complete = [r for r in g.sized()]
    for s in shells:
        kind = shell_kinds[s]
        kflag = draw(st.integers(0, 1))
        members, size = _struct_members(draw, g, complete, kind, kflag)
        g.put(
            T(kind, draw(st.one_of(st.none(), idents)), size, kflag=kflag, data=members),
            ref=s,
            size=size,
        )
        complete.append(s)
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from([STRUCT, UNION]))
        kflag = draw(st.integers(0, 1))
        members, size = _struct_members(draw, g, g.sized(), kind, kflag)
        g.put(
            T(kind, draw(st.one_of(st.none(), idents)), size, kflag=kflag, data=members), size=size
        )

    # functions
    protos = []
    for _ in range(draw(st.integers(0, 3))):
        ret = draw(st.sampled_from([_G.VOID] + g.sized()))
        named = draw(st.booleans())
        params = [
            (draw(idents) if named else draw(st.one_of(st.none(), idents)), val(g.pick_sized()))
            for _ in range(draw(st.integers(0, 3)))
        ]
        if draw(st.booleans()):
            params.append((None, _G.VOID))  # varargs
        p = g.put(T(FUNC_PROTO, None, val(ret), data=params))
        if named:
            protos.append(p)
        elif draw(st.booleans()):
            add_ptr(p)
    funcs = []
    for p in protos:
        funcs.append(g.put(T(FUNC, draw(idents), val(p), vlen=draw(st.integers(0, 1)))))

    # variables and data sections
    variables = []
    for _ in range(draw(st.integers(0, 3))):
        ty = g.pick_sized()
        variables.append(g.put(T(VAR, draw(idents), val(ty), data=[draw(st.integers(0, 1))])))
    if variables:
        for _ in range(draw(st.integers(0, 2))):
            chosen = draw(st.lists(st.sampled_from(variables), max_size=3, unique=True))
            entries = []
            pos = 0
            for v in chosen:
                vsize = g.sizes[g.types[v].st]
                if vsize == 0:
                    continue
                pos += draw(st.integers(0, 8))
                entries.append((val(v), pos, vsize))
                pos += vsize
            size = pos + draw(st.integers(0, 8))
            if size == 0:
                size = 4
            g.put(T(DATASEC, draw(st.sampled_from(SEC_NAMES)), size, data=entries))

    # declaration tags
    tag_targets = []
    for kind in (STRUCT, UNION, FUNC, VAR, TYPEDEF):
        for r in g.refs_by_kind.get(kind, []):
            t = g.types[r]
            if kind in (STRUCT, UNION):
                tag_targets += [(r, -1)] + [(r, i) for i in range(len(t.data))]
            elif kind == FUNC:
                proto = g.types[t.st]
                tag_targets += [(r, -1)] + [(r, i) for i in range(len(proto.data))]
            else:
                tag_targets.append((r, -1))
    if tag_targets:
        for _ in range(draw(st.integers(0, 3))):
            r, idx = draw(st.sampled_from(tag_targets))
            g.put(T(DECL_TAG, draw(idents), val(r), kflag=draw(st.integers(0, 1)), data=[idx]))

    if not g.types:  # a split with nothing of its own: give it one typedef
        g.put(T(TYPEDEF, draw(idents), val(idx_int)))

    # final ids: optionally permute own types (forward references everywhere)
    n = len(g.types)
    order = list(range(n))
    if draw(st.booleans()):
        order = draw(st.permutations(order))
    pos_of = {old: new for new, old in enumerate(order)}

    def fid(ref: int) -> int:
        if ref == _G.VOID:
            return 0
        if ref <= BASE_REF:
            return BASE_REF - ref
        return start_id + pos_of[ref]

    out: List[T | None] = [None] * n
    for old, t in enumerate(g.types):
        assert t is not None
        out[pos_of[old]] = remap_ids(t, fid)
    sized = {fid(r): s for r, s in g.sizes.items() if r > BASE_REF}
    irregular = {fid(r) for r in g.irregular if r > BASE_REF}
    # what a sized type reaches past modifiers (for its kind, size and INT encoding only:
    # the ids in it are refs)
    under = {fid(r): t for r, t in g.under.items() if r > BASE_REF}
    facts = {"sized": sized, "index_int": fid(idx_int), "irregular": irregular, "under": under}
    return out, facts


def remap_ids(t: T, f) -> T:
    """Apply ``f`` to every type-id field (the field table of ``btf_field_iter``)."""
    k = t.kind
    st_ = f(t.st) if k in TYPE_WORD_KINDS and k != FWD else t.st
    data = t.data
    if k == ARRAY:
        data = [(f(e), f(i), n) for e, i, n in data]
    elif k in (STRUCT, UNION):
        data = [(nm, f(ty), off) for nm, ty, off in data]
    elif k == FUNC_PROTO:
        data = [(nm, f(ty)) for nm, ty in data]
    elif k == DATASEC:
        data = [(f(ty), off, sz) for ty, off, sz in data]
    return replace(t, st=st_, data=list(data))


@st.composite
def _layout_opts(draw, short_only: bool = False):
    hdr_len = 24 if short_only else draw(st.sampled_from([24, 32]))
    layout = hdr_len == 32 and draw(st.booleans())
    return hdr_len, layout


@st.composite
def valid_model(draw, byteorder: str | None = None, old_libbpf: bool = False) -> Model:
    """``old_libbpf``: opposite-endian blobs keep the 24-byte header (libbpf < 1.6 refuses
    a longer one when it has to byte-swap)."""
    types, facts = draw(_graph())
    bo = byteorder or draw(st.sampled_from(["little", "big"]))
    hdr_len, layout = draw(_layout_opts(old_libbpf and bo != sys.byteorder))
    return Model(types=types, byteorder=bo, hdr_len=hdr_len, layout=layout, facts=facts)


def valid_btf(byteorder: str | None = None, old_libbpf: bool = False) -> st.SearchStrategy[bytes]:
    """Valid, canonical base BTF blobs."""
    return valid_model(byteorder, old_libbpf).map(serialize)


@st.composite
def valid_split_models(draw, old_libbpf: bool = False) -> Tuple[Model, Model]:
    base = draw(valid_model(None, old_libbpf))
    base_tab = StrTab()
    base.strings = base_tab
    base_bytes = serialize(base)  # fills base_tab
    start_id = base.last_id + 1
    start_str_off = len(base_tab)
    types, facts = draw(_graph(start_id=start_id, base=(base, base.facts)))
    # reuse some base strings by offset (below start_str_off) for own names
    base_idents = [
        off
        for s, off in base_tab.index.items()
        if s and s[:1].decode() in IDENT_FIRST and all(chr(c) in IDENT_REST for c in s)
    ]
    for t in types:
        if base_idents and t.kind in (TYPEDEF, VAR, FUNC, FWD) and draw(st.booleans()):
            t.name = draw(st.sampled_from(base_idents))
    split_tab = StrTab(start_str_off)
    split_tab.add(draw(idents))  # own strings always present, first byte not NUL
    hdr_len, layout = draw(_layout_opts(old_libbpf and base.byteorder != sys.byteorder))
    split = Model(
        types=types,
        start_id=start_id,
        start_str_off=start_str_off,
        strings=split_tab,
        byteorder=base.byteorder,
        hdr_len=hdr_len,
        layout=layout,
        facts=facts,
    )
    base.strings = None
    assert serialize(base) == base_bytes
    return base, split


def valid_split(old_libbpf: bool = False) -> st.SearchStrategy[Tuple[bytes, bytes]]:
    """(base_bytes, split_bytes): split types reference base types and base strings."""
    return valid_split_models(old_libbpf).map(lambda ms: (serialize(ms[0]), _ser_split(ms[1])))


def _copy_tab(src: StrTab | None) -> StrTab:
    assert src is not None
    tab = StrTab(src.start)
    tab.buf = bytearray(src.buf)
    tab.index = dict(src.index)
    return tab


def _ser_split(m: Model) -> bytes:
    # a StrTab grows as it is used: serialize a fresh copy so repeated calls agree
    return serialize(replace(m, strings=_copy_tab(m.strings)))


# ---------------------------------------------------------------------------------------------
# Invalid blobs


class Invalid(tuple):
    """``(data, exception_class, type_id)``; also ``fails_module`` (False: only strict
    validation fails) and ``note`` (which defect)."""

    def __new__(
        cls,
        data: bytes,
        exc: type,
        type_id: int | None,
        *,
        fails_module: bool = True,
        note: str = "",
    ):
        self = super().__new__(cls, (data, exc, type_id))
        self.fails_module = fails_module
        self.note = note
        return self

    def __repr__(self) -> str:
        exc = self[1].__name__
        return (
            f"Invalid({self.note!r}, {exc}, type_id={self[2]}, "
            f"fails_module={self.fails_module}, data={self[0].hex()})"
        )


def _fmt(data: bytes, type_id: int | None, note: str) -> Invalid:
    return Invalid(data, BtfFormatError, type_id, note=note)


def _val(data: bytes, type_id: int | None, note: str, strict_only: bool = False) -> Invalid:
    return Invalid(data, BtfValidationError, type_id, fails_module=not strict_only, note=note)


def _pick(draw, m: Model, kinds) -> int | None:
    idx = [i for i, t in enumerate(m.types) if t.kind in kinds]
    return draw(st.sampled_from(idx)) if idx else None


BAD_IDENTS = ["", "1abc", "a-b", "a b", "x" * 513, "é", "a\x01"]


def _any_int(m: Model) -> int:
    """id of the regular ``int`` (always present in generated base graphs)."""
    return m.facts["index_int"]


def _ensure(draw, m: Model, kind: int) -> int:
    """Index of a type of ``kind``: an existing one, or a valid one appended for the
    purpose (with what it needs appended before it)."""
    have = [i for i, t in enumerate(m.types) if t.kind == kind]
    if have and draw(st.booleans()):
        return draw(st.sampled_from(have))
    i32 = _any_int(m)  # a regular INT of up to 16 bytes: room for 16 is left (R6, R11)
    nid = m.last_id + 1
    simple = {
        INT: T(INT, "long int", 8, data=[(INT_SIGNED << 24) | 64]),
        PTR: T(PTR, None, i32),
        ARRAY: T(ARRAY, None, 0, data=[(i32, i32, 2)]),
        STRUCT: T(
            STRUCT,
            "s",
            48,
            kflag=draw(st.integers(0, 1)),
            data=[("a", i32, 0), ("b", i32, 128), (None, i32, 256)],
        ),
        UNION: T(UNION, None, 16, data=[("a", i32, 0), ("b", i32, 0)]),
        ENUM: T(ENUM, "e", 4, kflag=1, data=[("A", -1), ("B", 2)]),
        ENUM64: T(ENUM64, None, 8, data=[("C", 2**40), ("D", 0)]),
        FWD: T(FWD, "f", 0, kflag=draw(st.integers(0, 1))),
        TYPEDEF: T(TYPEDEF, "td", i32),
        VOLATILE: T(VOLATILE, None, i32),
        CONST: T(CONST, None, i32),
        RESTRICT: T(RESTRICT, None, i32),
        TYPE_TAG: T(TYPE_TAG, "user", i32),
        FUNC_PROTO: T(FUNC_PROTO, None, i32, data=[("x", i32), (None, 0)]),
        VAR: T(VAR, "v", i32, data=[1]),
        FLOAT: T(FLOAT, "double", 8),
    }
    if kind in simple:
        _append(m, simple[kind])
    elif kind == FUNC:
        _append(m, T(FUNC_PROTO, None, 0, data=[("x", i32)]), T(FUNC, "fn", nid, vlen=1))
    elif kind == DATASEC:
        _append(
            m,
            T(VAR, "v1", i32, data=[0]),
            T(VAR, "v2", i32, data=[1]),
            T(DATASEC, ".bss", 32, data=[(nid, 0, 16), (nid + 1, 16, 16)]),
        )
    else:
        assert kind == DECL_TAG
        _append(
            m,
            T(STRUCT, "s", 16, data=[("a", i32, 0)]),
            T(DECL_TAG, "tag", nid, data=[draw(st.integers(-1, 0))]),
        )
    return len(m.types) - 1


def _header_mutation(draw, m: Model) -> Invalid:
    e = "<" if m.byteorder == "little" else ">"
    data = serialize(m)
    what = draw(
        st.sampled_from(
            [
                "magic",
                "version",
                "flags",
                "hdr_len_big",
                "hdr_len_odd",
                "hdr_extra",
                "hdr_extra_short",
                "type_off_unaligned",
                "sec_past_end",
                "gap",
                "overlap",
                "trailing",
                "layout_unaligned",
                "str_no_nul_end",
                "str_no_nul_start",
                "str_empty",
                "str_empty_at",
                "chop",
                "short",
            ]
        )
    )
    if what == "short":
        return _fmt(data[: draw(st.integers(0, 23))], None, what)
    if what == "magic":
        bad = draw(st.integers(0, 0xFFFF).filter(lambda v: v not in (0xEB9F, 0x9FEB)))
        return _fmt(struct.pack(e + "H", bad) + data[2:], None, what)
    if what == "version":
        v = draw(st.integers(0, 255).filter(lambda v: v != 1))
        return _fmt(data[:2] + bytes([v]) + data[3:], None, what)
    if what == "flags":
        return _fmt(data[:3] + bytes([draw(st.integers(1, 255))]) + data[4:], None, what)
    if what == "hdr_len_big":
        v = draw(st.integers(len(data) + 1, 0xFFFFFFFF))
        return _fmt(data[:4] + struct.pack(e + "I", v) + data[8:], None, what)
    if what == "hdr_len_odd":
        v = draw(st.sampled_from([0, 4, 12, 23, 25, 28, 31, 33, 34, 35]))
        return _fmt(data[:4] + struct.pack(e + "I", v) + data[8:], None, what)
    if what == "hdr_extra":
        extra = draw(st.binary(min_size=4, max_size=8).filter(lambda b: any(b)))
        n = -(-len(extra) // 4) * 4
        h = Header(hdr_len=32 + n, extra=extra)
        return _fmt(serialize(replace(m, hdr_len=32 + n), h), None, what)
    if what == "hdr_extra_short":  # 25..31 bytes: no layout fields, the rest must be 0
        n = draw(st.integers(1, 7))
        extra = draw(st.binary(min_size=n, max_size=n).filter(lambda b: any(b)))
        m2 = replace(m, hdr_len=24, layout=False)
        return _fmt(serialize(m2, Header(hdr_len=24 + n, extra=extra)), None, what)
    if what == "type_off_unaligned":
        return _fmt(
            serialize(m, Header(hdr_len=m.hdr_len, type_off=draw(st.sampled_from([1, 2, 3, 5])))),
            None,
            what,
        )
    slen = str_len_of(m)
    tlen = len(data) - m.hdr_len - slen - (80 if m.layout else 0)
    if what == "sec_past_end":
        return _fmt(
            serialize(m, Header(hdr_len=m.hdr_len, str_len=slen + draw(st.integers(1, 64)))),
            None,
            what,
        )
    if what == "gap":
        # strings start 4 bytes after the types end; the blob keeps its length
        return _fmt(
            serialize(
                m,
                Header(
                    hdr_len=m.hdr_len, str_off=tlen + (80 if m.layout else 0) + 4, str_len=slen - 4
                ),
            ),
            None,
            what,
        )
    if what == "overlap":
        return _fmt(serialize(m, Header(hdr_len=m.hdr_len, type_len=tlen + 4)), None, what)
    if what == "trailing":
        return _fmt(data + b"\0" * draw(st.integers(1, 8)), None, what)
    if what == "layout_unaligned":
        m2 = replace(m, hdr_len=32, layout=True)
        bad = draw(st.sampled_from(["off", "len"]))
        h = (
            Header(hdr_len=32, layout_off=tlen + 2)
            if bad == "off"
            else Header(hdr_len=32, layout_len=78)
        )
        return _fmt(serialize(m2, h), None, what)
    if what == "str_no_nul_end":  # strings are last: their last byte is the blob's
        return _fmt(data[:-1] + b"x", None, what)
    if what == "str_no_nul_start":
        off = len(data) - slen
        return _fmt(data[:off] + b"x" + data[off + 1 :], None, what)
    if what == "str_empty":  # a base needs its leading NUL
        blob = serialize(m, Header(hdr_len=m.hdr_len, str_len=0))
        return _fmt(blob[: len(blob) - slen], None, what)
    if what == "str_empty_at":  # empty sections count too: past the data, or inside another
        off = draw(st.one_of(st.integers(tlen + 1, tlen + 64), st.integers(1, tlen - 1)))
        blob = serialize(m, Header(hdr_len=m.hdr_len, str_off=off, str_len=0))
        return _fmt(blob[: len(blob) - slen], None, what)
    # chop: cut bytes off the end of the blob, header unchanged -> sections run past the end
    return _fmt(data[: len(data) - draw(st.integers(1, min(len(data) - 24, 16)))], None, what)


@st.composite
def _invalid(draw, byteorder: str | None = None) -> Invalid:
    m: Model = draw(valid_model(byteorder))
    group = draw(st.sampled_from(["meta", "header", "records", "meta", "tags", "resolve"]))
    if group == "header":
        return _header_mutation(draw, m)
    if group == "records":
        return _record_mutation(draw, m)
    if group == "meta":
        return _meta_mutation(draw, m)
    if group == "tags":
        return _tag_mutation(draw, m)
    from btfgen_resolve import _resolve_mutation  # lazily: btfgen_resolve imports btfgen

    return _resolve_mutation(draw, m)


def invalid_btf(byteorder: str | None = None) -> st.SearchStrategy[Invalid]:
    """Targeted corruptions of valid blobs with the outcome docs/rules.md prescribes (in
    ``byteorder``, or either)."""
    return _invalid(byteorder)


@st.composite
def _invalid_split(draw) -> Tuple[bytes, Invalid]:
    base, split = draw(valid_split_models())
    split = replace(split, strings=_copy_tab(split.strings))
    group = draw(st.sampled_from(["meta", "records", "meta", "tags", "resolve"]))
    from btfgen_resolve import _resolve_mutation  # lazily: btfgen_resolve imports btfgen

    mutate = {
        "records": _record_mutation,
        "meta": _meta_mutation,
        "tags": _tag_mutation,
        "resolve": _resolve_mutation,
    }[group]
    return serialize(base), mutate(draw, split)


def invalid_split() -> st.SearchStrategy[Tuple[bytes, Invalid]]:
    """(base_bytes, Invalid): a valid base and a corrupted split BTF on it."""
    return _invalid_split()


def _record_mutation(draw, m: Model) -> Invalid:
    what = draw(st.sampled_from(["truncate", "inflate_vlen", "unknown_kind"]))
    sizes = record_sizes(m)
    if what == "truncate":
        # cut 1..size-1 bytes off the last record; header consistent -> T1/T3 on the last id
        data = serialize(m)
        if m.layout:  # keep layout_off aligned so that the record check is reached
            cut = 4 * draw(st.integers(1, sizes[-1] // 4 - 1))
        else:
            cut = draw(st.integers(1, sizes[-1] - 1))
        slen = str_len_of(m)
        tlen = sum(sizes)
        lay = layout_section() if m.layout else b""
        types_b = data[m.hdr_len : m.hdr_len + tlen - cut]
        strs = data[len(data) - slen :]
        return _fmt(
            assemble(types_b, strs, lay, m.byteorder, Header(hdr_len=m.hdr_len)), m.last_id, what
        )
    if what == "inflate_vlen":
        i = _pick(draw, m, VLEN_KINDS)
        if i is not None:
            remaining = sum(sizes[i + 1 :]) + (len(m.types[i].data) * TRAILING[m.types[i].kind][1])
            elem = TRAILING[m.types[i].kind][1]
            vlen = draw(st.integers(remaining // elem + 1, min(0xFFFFFF, remaining // elem + 1000)))
            m.types[i] = replace(m.types[i], vlen=vlen)
            return _fmt(serialize(m), m.tid(i), what)
    i = draw(st.integers(0, len(m.types) - 1))
    kind = draw(st.sampled_from([0, 20, 21, 31, 32, 64, 127]))
    m.types[i] = replace(m.types[i], kind_word=kind)
    return _fmt(serialize(m), m.tid(i), "unknown_kind")


def _meta_mutation(draw, m: Model) -> Invalid:
    """Phase 1: one record made invalid in place; reported at that id in both levels."""
    slen = m.start_str_off + str_len_of(m)  # first out-of-range offset
    bad_ident = draw(st.sampled_from(BAD_IDENTS))
    what = draw(st.sampled_from([f"kind{k}" for k in KIND_NAMES] + ["name_off_range", "big_vlen"]))
    if what == "name_off_range":
        i = draw(st.integers(0, len(m.types) - 1))
        m.types[i] = replace(m.types[i], name=draw(st.integers(slen, slen + 100)))
        return _val(serialize(m), m.tid(i), what)
    if what == "big_vlen":
        i = _pick(draw, m, [k for k in KIND_NAMES if k not in VLEN_KINDS])
        if i is not None:
            m.types[i] = replace(m.types[i], vlen=draw(st.integers(0x10000, 0xFFFFFF)))
            return _val(serialize(m), m.tid(i), what)
        i = 0
        m.types[i] = replace(m.types[i], name=slen)
        return _val(serialize(m), m.tid(i), "name_off_range")
    kind = int(what[4:])
    i = _ensure(draw, m, kind)
    slen = m.start_str_off + str_len_of(m)
    t = m.types[i]
    sub, nt = _break_meta(draw, t, bad_ident, slen)
    m.types[i] = nt
    return _val(serialize(m), m.tid(i), f"{KIND_NAMES[kind]}:{sub}")


def _break_meta(draw, t: T, bad_ident: str, slen: int) -> Tuple[str, T]:
    k = t.kind
    opts: List[str] = []
    if k not in VLEN_KINDS and k not in (FUNC,):
        opts.append("vlen")
    if k not in (STRUCT, UNION, ENUM, ENUM64, FWD, DECL_TAG, TYPE_TAG):
        opts.append("kflag")
    if k == INT:
        opts += ["int_high", "int_bits", "int_size", "int_enc"]
    if k in (PTR, CONST, VOLATILE, RESTRICT, ARRAY, FUNC_PROTO):
        opts.append("named")
    if k in (PTR, CONST, VOLATILE, RESTRICT, TYPEDEF, TYPE_TAG):
        opts.append("type_big")
    if k in (TYPEDEF, FWD, FUNC, VAR):
        opts.append("bad_ident")
    if k in (TYPE_TAG, DECL_TAG):
        opts.append("empty_name")
    if k == FWD:
        opts.append("fwd_type")
    if k == ARRAY:
        opts += ["arr_size", "arr_elem0", "arr_index0", "arr_elem_big"]
    if k in (STRUCT, UNION):
        opts.append("su_name")
        if t.data:
            opts += ["m_name", "m_name_range", "m_type0", "m_type_big"]
            if k == UNION:
                opts.append("u_off")
            else:
                opts.append("m_off_beyond")
                if len(t.data) >= 2:
                    opts.append("s_order")
    if k in (ENUM, ENUM64):
        opts += ["enum_size", "enum_name"]
        if t.data:
            opts.append("e_name")
    if k == FUNC:
        opts.append("linkage")
    if k == VAR:
        opts += ["var_type0", "var_linkage"]
    if k == DATASEC:
        opts += ["ds_size0", "ds_name"]
        if t.data:
            opts += ["ds_esize0", "ds_type0", "ds_esize_big"]
            if len(t.data) >= 2:
                opts.append("ds_overlap")
    if k == FLOAT:
        opts.append("float_size")
    if k == DECL_TAG:
        opts.append("comp_idx")
    sub = draw(st.sampled_from(opts))
    r = lambda **kw: (sub, replace(t, **kw))  # noqa: E731
    if sub == "vlen":
        return r(vlen=draw(st.integers(1, 0xFFFF)))
    if sub == "kflag":
        return r(kflag=1)
    if sub == "int_high":
        return r(data=[t.data[0] | (draw(st.integers(1, 15)) << 28)])
    if sub == "int_bits":  # bits + offset > 128
        bits = draw(st.integers(1, 255))
        off = draw(st.integers(max(0, 129 - bits), 255))
        return r(st=16, data=[(t.data[0] & 0x0F000000) | (off << 16) | bits])
    if sub == "int_size":  # ceil((bits+offset)/8) > size
        w = t.data[0]
        need = -(-((w & 0xFF) + ((w >> 16) & 0xFF)) // 8)
        return r(st=draw(st.integers(0, need - 1)))
    if sub == "int_enc":
        enc = draw(st.sampled_from([3, 5, 6, 7, 8, 15]))
        return r(data=[(t.data[0] & ~0x0F000000) | (enc << 24)])
    if sub == "named":
        return r(name=draw(idents))
    if sub == "type_big":
        return r(st=draw(st.integers(MAX_ID + 1, 0xFFFFFFFF)))
    if sub == "bad_ident":
        return r(name=None if bad_ident == "" else bad_ident)
    if sub == "empty_name":
        return r(name=None)
    if sub == "fwd_type":
        return r(st=draw(st.integers(1, 0xFFFFFFFF)))
    if sub == "arr_size":
        return r(st=draw(st.integers(1, 0xFFFFFFFF)))
    e, ix, n = t.data[0] if k == ARRAY else (0, 0, 0)
    if sub == "arr_elem0":
        return r(data=[(0, ix, n)])
    if sub == "arr_index0":
        return r(data=[(e, 0, n)])
    if sub == "arr_elem_big":
        return r(data=[(draw(st.integers(MAX_ID + 1, 0xFFFFFFFF)), ix, n)])
    if sub in ("su_name", "enum_name"):
        return r(name=draw(st.sampled_from(BAD_IDENTS[1:])))
    j = draw(st.integers(0, max(0, len(t.data) - 1)))
    data = list(t.data)
    if sub == "m_name":
        nm, ty, off = data[j]
        data[j] = (draw(st.sampled_from(BAD_IDENTS[1:])), ty, off)
        return r(data=data)
    if sub == "m_name_range":
        nm, ty, off = data[j]
        data[j] = (slen + draw(st.integers(0, 50)), ty, off)
        return r(data=data)
    if sub == "m_type0":
        nm, ty, off = data[j]
        data[j] = (nm, 0, off)
        return r(data=data)
    if sub == "m_type_big":
        nm, ty, off = data[j]
        data[j] = (nm, draw(st.integers(MAX_ID + 1, 0xFFFFFFFF)), off)
        return r(data=data)
    if sub == "m_off_beyond":
        # the last member's bit offset past the struct's end (keeps struct order intact)
        j = len(data) - 1
        nm, ty, off = data[j]
        bitoff = 8 * t.st + draw(st.integers(1, 64))
        data[j] = (nm, ty, (off & 0xFF000000) | bitoff if t.kflag else bitoff)
        return r(data=data)
    if sub == "u_off":
        nm, ty, off = data[j]
        return r(data=data[:j] + [(nm, ty, off | draw(st.integers(1, 0xFFFF)))] + data[j + 1 :])
    if sub == "s_order":
        j = draw(st.integers(1, len(data) - 1))
        prev = data[j - 1][2] & (0xFFFFFF if t.kflag else 0xFFFFFFFF)
        if prev == 0:
            # make the previous one larger instead
            nm, ty, off = data[j - 1]
            cur = data[j][2] & (0xFFFFFF if t.kflag else 0xFFFFFFFF)
            data[j - 1] = (nm, ty, (off & ~0xFFFFFF if t.kflag else 0) | (cur + 1))
            return r(st=max(t.st, cur // 8 + 1), data=data)
        nm, ty, off = data[j]
        data[j] = (nm, ty, (off & 0xFF000000 if t.kflag else 0) | (prev - 1))
        return r(data=data)
    if sub == "enum_size":
        return r(st=draw(st.sampled_from([0, 3, 5, 6, 7, 9, 16, 0xFFFFFFFF])))
    if sub == "e_name":
        nm, v = data[j]
        bad = draw(st.sampled_from(BAD_IDENTS))
        data[j] = (None if bad == "" else bad, v)
        return r(data=data)
    if sub == "linkage":
        return r(vlen=draw(st.integers(2, 0xFFFF)))
    if sub == "var_type0":
        return r(st=0)
    if sub == "var_linkage":
        return r(data=[draw(st.integers(2, 0xFFFFFFFF))])
    if sub == "ds_size0":
        return r(st=0)
    if sub == "ds_name":
        return r(name=draw(st.sampled_from([None, "a\x01", "tab\there", "x" * 513, "\x7f"])))
    if sub == "ds_esize0":
        ty, off, _ = data[j]
        data[j] = (ty, off, 0)
        return r(data=data)
    if sub == "ds_type0":
        _, off, sz = data[j]
        data[j] = (0, off, sz)
        return r(data=data)
    if sub == "ds_esize_big":
        ty, off, _ = data[j]
        data[j] = (ty, off, t.st + draw(st.integers(1, 16)))
        return r(data=data)
    if sub == "ds_overlap":
        j = draw(st.integers(1, len(data) - 1))
        ty, off, sz = data[j]
        pty, poff, psz = data[j - 1]
        data[j] = (ty, poff + psz - 1, sz)
        return r(data=data)
    if sub == "float_size":
        return r(st=draw(st.sampled_from([0, 1, 3, 5, 6, 10, 32, 0xFFFFFFFF])))
    if sub == "comp_idx":
        return r(data=[draw(st.integers(-(2**31), -2))])
    raise AssertionError(sub)


def _append(m: Model, *types: T) -> List[int]:
    """Append types; returns their ids."""
    first = m.last_id + 1
    m.types.extend(types)
    return list(range(first, first + len(types)))


def _tag_mutation(draw, m: Model) -> Invalid:
    """Phase 2 (both levels): type tags after modifiers, chain loops/length, dangling."""
    what = draw(st.sampled_from(["tag_after_mod", "mod_cycle", "long_chain", "dangling_mod"]))
    target = _any_int(m)
    nid = m.last_id + 1
    if what == "tag_after_mod":
        mod = draw(st.sampled_from([CONST, VOLATILE, RESTRICT, TYPEDEF]))
        name = draw(idents) if mod == TYPEDEF else None
        if draw(st.booleans()):  # modifier first, forward reference to the tag
            _append(m, T(mod, name, nid + 1), T(TYPE_TAG, draw(idents), target))
            return _val(serialize(m), nid, what)
        _append(m, T(TYPE_TAG, draw(idents), target), T(mod, name, nid))
        return _val(serialize(m), nid + 1, what)
    if what == "mod_cycle":
        n = draw(st.integers(1, 4))
        chain = []
        for j in range(n):
            mod = draw(st.sampled_from([CONST, VOLATILE, TYPEDEF, RESTRICT]))
            chain.append(T(mod, draw(idents) if mod == TYPEDEF else None, nid + (j + 1) % n))
        _append(m, *chain)
        return _val(serialize(m), nid, what)
    if what == "long_chain":
        n = draw(st.integers(33, 40))
        chain = [T(CONST, None, nid + j + 1) for j in range(n - 1)] + [T(CONST, None, target)]
        _append(m, *chain)
        return _val(serialize(m), nid, what)
    # a modifier pointing past last_id (but a valid id): phase 2 "Invalid type_id"
    mod = draw(st.sampled_from([CONST, VOLATILE, TYPEDEF, RESTRICT, TYPE_TAG]))
    name = draw(idents) if mod in (TYPEDEF, TYPE_TAG) else None
    _append(m, T(mod, name, draw(st.integers(nid + 1, MAX_ID))))
    return _val(serialize(m), nid, what)
