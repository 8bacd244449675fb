"""Hypothesis strategies for the rebase tests (test-only code, built on ``btfgen``).

``btfgen`` makes valid base and split BTF; rebasing needs more: a *standalone* module
graph that shares structure with a base.  :func:`base_and_module` draws a base
(:func:`btfgen.valid_model`) and a standalone module made of

* copies of base type closures (exact duplicates of base types, possibly twice, so they
  collapse onto the base and onto each other),
* mutated copies (an enum with an extra value, a struct with another size or member name,
  an int with another name) that must *not* map onto the base,
* forward declarations naming base and module structs/unions (resolvable or not),
* pointer cycles (``struct a { struct b *b; }; struct b { struct a *a; }``, optionally two
  copies), anonymous structs/unions embedded in named ones, kflag bitfield structs,
* an independent btfgen graph appended after them,

optionally permuted (forward references everywhere).  Every module is valid BTF on its own
(standalone: ids ``1..N``, strings in its own table), in the base's byte order.

:func:`tiny_records_base` builds big bases cheaply (many 12-byte ``PTR -> void`` records)
for the id/string limit checks.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Dict, List, Set, Tuple

import btfgen
from btfgen import (
    ARRAY,
    ENUM,
    ENUM64,
    FWD,
    INT,
    INT_SIGNED,
    PTR,
    STRUCT,
    UNION,
    VAR,
    Model,
    T,
    remap_ids,
    serialize,
)
from hypothesis import strategies as st

MAX_ID = 0xFFFFF
MAX_STR = 0xFFFFFF


def ids_of(t: T) -> List[int]:
    """The type-id fields of ``t`` (btf_field_iter order), zeros included."""
    seen: List[int] = []

    def grab(x: int) -> int:
        seen.append(x)
        return x

    remap_ids(t, grab)
    return seen


def closure(types: List[T], roots: List[int]) -> List[int]:
    """Ids (1-based into ``types``) reachable from ``roots``, sorted."""
    seen: Set[int] = set()
    todo = list(roots)
    while todo:
        x = todo.pop()
        if x == 0 or x in seen:
            continue
        seen.add(x)
        todo.extend(ids_of(types[x - 1]))
    return sorted(seen)


def copy_types(types: List[T], chosen: List[int], first_id: int) -> List[T]:
    """Copies of ``types[chosen]`` (a closed set) renumbered from ``first_id``."""
    pos = {old: first_id + i for i, old in enumerate(chosen)}
    return [
        remap_ids(replace(types[old - 1], data=list(types[old - 1].data)), lambda x: pos.get(x, 0))
        for old in chosen
    ]


def shift_ids(types: List[T], k: int) -> List[T]:
    return [remap_ids(t, lambda x: x + k if x else 0) for t in types]


def _struct_names(types: List[T]) -> List[Tuple[str, int]]:
    return [
        (t.name, int(t.kind == UNION))
        for t in types
        if t.kind in (STRUCT, UNION) and isinstance(t.name, str)
    ]


def _mutate(draw, t: T) -> Tuple[T, bool]:
    """A changed copy of ``t`` (never structurally equal to it), if ``t``'s kind allows."""
    if t.kind in (ENUM, ENUM64) and t.data is not None:
        extra = ("extra_" + draw(btfgen.idents), draw(st.integers(-(2**31), 2**31 - 1)))
        return replace(t, data=list(t.data) + [extra]), True
    if t.kind in (STRUCT, UNION):
        if t.data and draw(st.booleans()):
            name, ty, off = t.data[0]
            data = [("renamed_" + (name or "anon"), ty, off)] + list(t.data[1:])
            return replace(t, data=data), True
        return replace(t, name="renamed_" + (t.name or "anon"), data=list(t.data)), True
    if t.kind == INT:
        return replace(t, name=(t.name or "anon") + "_mutated", data=list(t.data)), True
    return t, False


@st.composite
def _extras(draw, first_id: int, int_id: int, structs: List[Tuple[str, int]]) -> List[T]:
    """Forward declarations, pointer cycles, anonymous members, bitfields (ids from
    ``first_id``; ``int_id`` is a 4-byte signed int of the module)."""
    out: List[T] = []

    def put(t: T) -> int:
        out.append(t)
        return first_id + len(out) - 1

    # forward declarations of base/module struct names, and of unknown ones
    for _ in range(draw(st.integers(0, 3))):
        if structs and draw(st.booleans()):
            name, union = draw(st.sampled_from(structs))
            union ^= draw(st.integers(0, 1)) if draw(st.booleans()) else 0
        else:
            name, union = draw(btfgen.idents), draw(st.integers(0, 1))
        fwd = put(T(FWD, name, 0, kflag=union))
        if draw(st.booleans()):
            put(T(PTR, None, fwd))
    # pointer cycles a <-> b, possibly two identical copies
    if draw(st.booleans()):
        names = (draw(btfgen.idents), draw(btfgen.idents))
        for _ in range(draw(st.integers(1, 2))):
            a = first_id + len(out)
            pa, b, pb = a + 1, a + 2, a + 3
            put(T(STRUCT, names[0], 8, data=[("b", pb, 0)]))
            put(T(PTR, None, a))
            put(T(STRUCT, names[1], 16, data=[("a", pa, 0), ("x", int_id, 64)]))
            put(T(PTR, None, b))
            assert len(out) == pb - first_id + 1
    # a named struct embedding an anonymous union and an anonymous struct, kflag bitfields
    if draw(st.booleans()):
        bits = draw(st.integers(1, 31))
        anon_u = put(T(UNION, None, 4, data=[("u1", int_id, 0), ("u2", int_id, 0)]))
        anon_s = put(
            T(
                STRUCT,
                None,
                4,
                kflag=1,
                data=[("lo", int_id, (bits << 24) | 0), ("hi", int_id, ((32 - bits) << 24) | bits)],
            )
        )
        put(
            T(
                STRUCT,
                draw(st.one_of(st.none(), btfgen.idents)),
                12,
                data=[(None, anon_u, 0), (None, anon_s, 32), ("tail", int_id, 64)],
            )
        )
    return out


@st.composite
def base_and_module(draw, byteorder: str | None = None, hdr24: bool = False):
    """``(base Model, module Model)``; the module is standalone in the base's byte order.

    ``hdr24``: both keep the 24-byte header without layout (what libbpf 1.1 handles)."""
    base = draw(btfgen.valid_model(byteorder))
    if hdr24:
        base = replace(base, hdr_len=24, layout=False)
    types: List[T] = []
    # copies of base closures (exact duplicates), sometimes two copies of the same one
    for _ in range(draw(st.integers(0, 3))):
        roots = draw(st.lists(st.integers(1, base.last_id), min_size=1, max_size=3))
        chosen = closure(base.types, roots)
        for _ in range(draw(st.integers(1, 2))):
            types += copy_types(base.types, chosen, len(types) + 1)
    # mutate a few copied types (enum with an extra value, struct size/member name, ...)
    if types:
        for i in draw(st.lists(st.integers(0, len(types) - 1), max_size=2, unique=True)):
            types[i], _ = _mutate(draw, types[i])
    # an own 4-byte int for the extras, sometimes the base's own "int" name and shape
    int_id = len(types) + 1
    types.append(
        T(INT, draw(st.sampled_from(["int", "own_int"])), 4, data=[(INT_SIGNED << 24) | 32])
    )
    own = draw(btfgen.valid_model(base.byteorder))
    types += shift_ids(own.types, len(types))
    structs = _struct_names(base.types) + _struct_names(types)
    types += draw(_extras(len(types) + 1, int_id, structs))
    # optional permutation: forward references everywhere
    if draw(st.booleans()):
        types = permute(types, draw(st.permutations(range(len(types)))))
    hdr_len, layout = (24, False) if hdr24 else draw(btfgen._layout_opts())
    module = Model(types=types, byteorder=base.byteorder, hdr_len=hdr_len, layout=layout)
    return base, module


def permute(types: List[T], order: List[int]) -> List[T]:
    """``types`` reordered (``order[new] = old`` index), id fields renumbered."""
    new_pos = {old + 1: new + 1 for new, old in enumerate(order)}
    out: List[T] = [types[0]] * len(types)
    for old, t in enumerate(types):
        out[new_pos[old + 1] - 1] = remap_ids(t, lambda x: new_pos.get(x, 0))
    return out


def mutate(draw, types: List[T]) -> List[T]:
    """``types`` with one INT/ENUM/STRUCT/UNION changed (name, enumerator, member name)."""
    candidates = [i for i, t in enumerate(types) if t.kind in (INT, ENUM, ENUM64, STRUCT, UNION)]
    i = draw(st.sampled_from(candidates))
    out = list(types)
    out[i], changed = _mutate(draw, types[i])
    assert changed
    return out


def blobs(models: Tuple[Model, Model]) -> Tuple[bytes, bytes]:
    """``(base bytes, module bytes)``."""
    base, module = models
    return serialize(base), serialize(module)


def base_and_module_blobs(byteorder: str | None = None, hdr24: bool = False):
    return base_and_module(byteorder, hdr24).map(blobs)


# ------------------------------------------------------------------------ cheap big inputs
def raw_blob(
    type_words: List[int] | bytes, strings: bytes, byteorder: str = "little", count: int = 1
) -> bytes:
    """A canonical blob; ``type_words`` (a word list, or packed bytes) repeated ``count``
    times."""
    e = "<" if byteorder == "little" else ">"
    if isinstance(type_words, bytes):
        types = type_words
    else:
        types = struct.pack(f"{e}{len(type_words)}I", *type_words)
    types *= count
    hdr = struct.pack(e + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


def tiny_records_base(n: int, byteorder: str = "little", extra_strings: int = 0) -> bytes:
    """Base BTF with ``n`` types (``PTR -> void``, 12 bytes each) and a string section of
    ``extra_strings + 2`` bytes (one long string)."""
    strings = b"\0" + (b"a" * extra_strings + b"\0" if extra_strings else b"")
    return raw_blob([0, PTR << 24, 0], strings, byteorder, count=n)


def distinct_ints(n: int, byteorder: str = "little", prefix: str = "own") -> bytes:
    """Standalone BTF of ``n`` INTs with distinct names (none of which a tiny base has)."""
    words: List[int] = []
    strings = bytearray(b"\0")
    for i in range(n):
        words += [len(strings), INT << 24, 4, (INT_SIGNED << 24) | 32]
        strings += f"{prefix}{i}".encode() + b"\0"
    return raw_blob(words, bytes(strings), byteorder)


def names_of(types: List[T]) -> Dict[int, str]:
    return {i + 1: t.name for i, t in enumerate(types) if isinstance(t.name, str)}


# ------------------------------------------------------- anonymous enum declarations
def _on_base(base_types: List[T], split_types: List[T]) -> Tuple[bytes, bytes]:
    """``(base, split)`` blobs: ``split_types`` (ids from ``len(base_types) + 1``) on a base
    made of ``base_types``."""
    base = Model(base_types)
    split = Model(split_types, start_id=len(base_types) + 1, start_str_off=btfgen.str_len_of(base))
    return serialize(base), serialize(split)


def _enum_decl(signed: int, size: int = 1, kind: int = ENUM) -> T:
    """An anonymous enum without values (libbpf ``btf_is_enum_fwd``); kflag 1: signed."""
    return T(kind, None, size, kflag=signed, data=[])


def anon_enum_decl_retargets() -> Dict[str, Tuple[Tuple[bytes, bytes], bytes]]:
    """``{name: ((old base, split), new base)}``: split BTF reaching anonymous value-less
    enums, retargeted where libbpf's dedup resolves them across signedness (kflag), size
    and ENUM/ENUM64 kind (``btf_compat_enum`` compares only the names, 0 for all of them):

    * ``signedness``: a struct member of a signed declaration; the new base has an
      unsigned one, which the declaration becomes;
    * ``to_full``: arrays and a VAR of an unsigned and a signed declaration and a full
      anonymous enum; both declarations resolve to the full enum;
    * ``enum64``: a 4-byte signed ENUM declaration onto an 8-byte unsigned ENUM64 one.
    """
    i32 = T(INT, "int", 4, data=[(INT_SIGNED << 24) | 32])
    full = T(ENUM, None, 1, data=[("a", 0), ("b", 1)])
    return {
        "signedness": (
            _on_base([i32, _enum_decl(1)], [T(STRUCT, None, 1, data=[("a", 2, 0)])]),
            serialize(Model([i32, _enum_decl(0)])),
        ),
        "to_full": (
            _on_base(
                [i32, _enum_decl(0), _enum_decl(1), full],
                [
                    T(ARRAY, None, 0, data=[(4, 1, 0)]),
                    T(ARRAY, None, 0, data=[(3, 1, 0)]),
                    T(VAR, "v", 2, data=[0]),
                ],
            ),
            serialize(Model([i32])),
        ),
        "enum64": (
            _on_base([i32, _enum_decl(1, 4)], [T(PTR, None, 2), T(VAR, "v", 3, data=[0])]),
            serialize(Model([i32, _enum_decl(0, 8, ENUM64)])),
        ),
    }
