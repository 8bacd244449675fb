"""The pure-Python rebase reference (``btfx.reference.rebase``) against docs/rebase.md and
against the system libbpf (``btf__new_empty_split`` + ``btf__add_btf`` + ``btf__dedup``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import btfgen
import libbpf
import pytest
from btfgen import (
    ARRAY,
    CONST,
    ENUM,
    ENUM64,
    FUNC,
    FUNC_PROTO,
    FWD,
    INT,
    PTR,
    STRUCT,
    TYPEDEF,
    Model,
    StrTab,
    T,
    serialize,
)
from btfx.errors import BtfError, BtfRebaseError
from btfx.reference import Btf
from btfx.reference.rebase import base_map, detach, equivalent, rebase, retarget
from btfx.reference.rebase_common import assemble, rewrite
from btfx.reference.rebase_equiv import Partition, Side
from hypothesis import HealthCheck, assume, given, settings

VMLINUX = Path("/sys/kernel/btf/vmlinux")
HAVE_LIBBPF = libbpf.available()
needs_libbpf = pytest.mark.skipif(not HAVE_LIBBPF, reason="libbpf.so.1 not loadable")
needs_vmlinux = pytest.mark.skipif(not VMLINUX.exists(), reason=f"{VMLINUX} absent")
needs_pahole = pytest.mark.skipif(
    not (shutil.which("pahole") and shutil.which("gcc")), reason="pahole or gcc missing"
)

S32 = (1 << 24) | 32  # INT encoding word: signed, 32 bits
U64 = 64


# ---------------------------------------------------------------------------------- builders
def blob(*types: T, byteorder: str = "little", hdr_len: int = 24, layout: bool = False):
    return serialize(Model(types=list(types), byteorder=byteorder, hdr_len=hdr_len, layout=layout))


def btf(*types: T, **kw) -> Btf:
    return Btf.from_bytes(blob(*types, **kw))


def split_on(base: Btf, *types: T) -> Btf:
    """Split BTF on ``base``; names are interned into a fresh split table."""
    start_str = base.start_str_off + len(base.strings)
    m = Model(
        types=list(types),
        start_id=base.last_id + 1,
        start_str_off=start_str,
        strings=StrTab(start_str),
    )
    return Btf.from_bytes(serialize(m), base)


def member(name, type_id, bit_off=0):
    return (name, type_id, bit_off)


def kinds_and_names(b: Btf):
    return [(t.kind, b.str_at(t.name_off)) for t in b.types]


# A small "vmlinux": ids 1..7
BASE_TYPES = [
    T(INT, "int", 4, data=[S32]),  # 1
    T(INT, "long unsigned int", 8, data=[U64]),  # 2
    T(STRUCT, "list_head", 16, data=[member("next", 4), member("prev", 4, 64)]),  # 3
    T(PTR, None, 3),  # 4
    T(STRUCT, "task", 24, data=[member("pid", 1), member("tasks", 3, 64)]),  # 5
    T(PTR, None, 5),  # 6
    T(ENUM, "state", 4, data=[("RUNNING", 0), ("SLEEPING", 1)]),  # 7
]


@pytest.fixture(scope="module")
def base() -> Btf:
    return btf(*BASE_TYPES)


# ---------------------------------------------------------------------------------- shift
def test_shift_preserves_size_and_is_invertible(base):
    m_bytes = blob(
        T(INT, "int", 4, data=[S32]),
        T(PTR, None, 3),
        T(STRUCT, "mod", 16, data=[member("x", 1), member("self", 2, 64)]),
        T(FWD, "later", 0),
        T(TYPEDEF, "mod_t", 3),
        hdr_len=32,
        layout=True,
    )
    m = Btf.from_bytes(m_bytes)
    r = rebase(m, base, mode="shift")
    out = r.to_bytes()
    assert len(out) == len(m_bytes)
    k, l_ = base.last_id, len(base.strings)
    assert r.id_map == [0] + [x + k for x in range(1, m.last_id + 1)]
    assert r.btf.start_id == k + 1 and r.btf.is_split
    assert kinds_and_names(r.btf) == kinds_and_names(m)
    # header, layout and string section byte for byte
    assert out[:32] == m_bytes[:32]
    assert r.btf.strings == m.strings and r.btf.layout == m.layout
    # invert: subtract K from ids and L from strings, get the original records back
    back = [
        rewrite(t, lambda x: x - k if x else 0, lambda s: s - l_ if s else 0) for t in r.btf.types
    ]
    assert back == [t.words for t in m.types]
    for old, new in r.str_map.items():
        assert new == old + l_ and r.btf.str_at(new) == m.str_at(old)


def test_shift_big_endian_roundtrip():
    b = btf(*BASE_TYPES, byteorder="big")
    m_bytes = blob(T(INT, "int", 4, data=[S32]), T(PTR, None, 1), byteorder="big")
    r = rebase(Btf.from_bytes(m_bytes), b, mode="shift")
    assert len(r.to_bytes()) == len(m_bytes) and r.btf.byteorder == "big"
    assert r.btf.types[1].words[2] == b.last_id + 1


def test_shift_preconditions(base):
    bad_id = btf(T(INT, "int", 4, data=[S32]), T(PTR, None, 7))
    with pytest.raises(BtfRebaseError) as ei:
        rebase(bad_id, base, mode="shift")
    assert ei.value.type_id == 2
    split = split_on(base, T(PTR, None, 1))
    with pytest.raises(BtfRebaseError):
        rebase(split, base, mode="shift")
    big = btf(*BASE_TYPES, byteorder="big")
    with pytest.raises(BtfRebaseError):
        rebase(btf(T(INT, "int", 4, data=[S32])), big, mode="shift")
    many = btf(*[T(INT, f"i{i}", 4, data=[S32]) for i in range(300)])
    with pytest.raises(BtfRebaseError, match="too many"):
        rebase(many, _fake_huge_base(), mode="shift")
    with pytest.raises(ValueError):
        rebase(btf(T(INT, "int", 4, data=[S32])), base, mode="bogus")


def _fake_huge_base() -> Btf:
    b = btf(T(INT, "int", 4, data=[S32]))

    class Huge(Btf):
        @property
        def last_id(self):
            return 0xFFFFF - 10

    b.__class__ = Huge
    return b


# ---------------------------------------------------------------------------------- dedup
def test_dedup_identical_struct_and_pointer_map_to_base(base):
    m = btf(
        T(INT, "int", 4, data=[S32]),  # 1 -> base 1
        T(STRUCT, "list_head", 16, data=[member("next", 3), member("prev", 3, 64)]),  # 2 -> 3
        T(PTR, None, 2),  # 3 -> base 4
        T(STRUCT, "task", 24, data=[member("pid", 1), member("tasks", 2, 64)]),  # 4 -> 5
        T(PTR, None, 4),  # 5 -> base 6
    )
    r = rebase(m, base)
    assert r.id_map == [0, 1, 3, 4, 5, 6]
    assert r.btf.nr_types == 0 and r.btf.strings == b""
    assert r.str_map[m.types[1].name_off] == base.types[2].name_off


def test_dedup_differing_struct_kept_and_duplicates_collapse(base):
    m = btf(
        T(INT, "int", 4, data=[S32]),  # 1 -> 1
        T(STRUCT, "task", 32, data=[member("pid", 1), member("extra", 1, 32)]),  # 2 kept
        T(PTR, None, 2),  # 3 kept
        T(STRUCT, "task", 32, data=[member("pid", 1), member("extra", 1, 32)]),  # 4 == 2
        T(PTR, None, 4),  # 5 == 3
        T(INT, "int", 4, data=[S32]),  # 6 -> 1
        T(TYPEDEF, "task_t", 4),  # 7 kept, refers to 2
    )
    r = rebase(m, base)
    k = base.last_id
    assert r.id_map == [0, 1, k + 1, k + 2, k + 1, k + 2, 1, k + 3]
    assert [t.kind for t in r.btf.types] == [STRUCT, PTR, TYPEDEF]
    assert r.btf.types[2].words[2] == k + 1
    # new strings appended once each in first-use order; base strings reuse base offsets
    l_ = len(base.strings)
    assert r.btf.strings == b"extra\0task_t\0"
    assert r.btf.types[0].name_off == base.types[4].name_off  # 'task' from the base
    assert r.btf.types[0].words[3] == base.types[4].words[3]  # 'pid' from the base
    assert r.btf.types[0].words[6] == l_  # 'extra' appended at L


def test_dedup_fwd_resolution(base):
    m = btf(
        T(FWD, "task", 0),  # 1: only a struct 'task' exists (base): resolved to base 5
        T(PTR, None, 1),  # 2: -> base PTR 6
        T(FWD, "own", 0),  # 3: resolved to the module struct 'own'
        T(STRUCT, "own", 8, data=[member("p", 5)]),  # 4 kept
        T(PTR, None, 3),  # 5: PTR -> FWD own == PTR -> own: kept once
        T(FWD, "own", 0, kflag=1),  # 6: a union fwd does not resolve to a struct
    )
    r = rebase(m, base)
    k = base.last_id
    assert r.id_map[1] == 5 and r.id_map[2] == 6
    assert r.id_map[3] == r.id_map[4] == k + 1
    assert r.id_map[5] == k + 2
    assert r.btf.types[1].words[2] == k + 1  # the kept PTR points at the struct
    assert r.id_map[6] == k + 3 and r.btf.types[2].kind == FWD


def test_dedup_fwd_in_struct_graph(base):
    # a module copy of task + list_head, plus an unused FWD 'list_head': the structs map to
    # the base, and the FWD resolves (by its unique name) to the base struct
    m = btf(
        T(FWD, "list_head", 0),  # 1
        T(PTR, None, 1),  # 2
        T(STRUCT, "task", 24, data=[member("pid", 4), member("tasks", 5, 64)]),  # 3
        T(INT, "int", 4, data=[S32]),  # 4
        T(STRUCT, "list_head", 16, data=[member("next", 6), member("prev", 6, 64)]),  # 5
        T(PTR, None, 5),  # 6
    )
    r = rebase(m, base)
    assert r.id_map == [0, 3, 4, 5, 1, 3, 4]
    assert r.btf.nr_types == 0
    # a struct whose own pointer goes through a FWD of itself is NOT equivalent to the
    # complete base struct: the walk meets base list_head twice, once against the module
    # struct and once against the FWD (a contradiction in the hypothetical map); the FWD
    # stays too, its name now being ambiguous (base and module struct)
    m = btf(
        T(FWD, "list_head", 0),
        T(PTR, None, 1),
        T(STRUCT, "list_head", 16, data=[member("next", 2), member("prev", 2, 64)]),
    )
    k = base.last_id
    assert rebase(m, base).id_map == [0, k + 1, k + 2, k + 3]


def test_dedup_pointer_cycles(base):
    m = btf(
        T(STRUCT, "a", 8, data=[member("b", 4)]),  # 1
        T(PTR, None, 1),  # 2
        T(STRUCT, "b", 8, data=[member("a", 2)]),  # 3
        T(PTR, None, 3),  # 4
        T(STRUCT, "a", 8, data=[member("b", 6)]),  # 5: a second copy of the cycle
        T(PTR, None, 7),  # 6
        T(STRUCT, "b", 8, data=[member("a", 8)]),  # 7
        T(PTR, None, 5),  # 8
    )
    r = rebase(m, base)
    k = base.last_id
    assert r.btf.nr_types == 4
    assert r.id_map[1:5] == [k + 1, k + 2, k + 3, k + 4]
    assert r.id_map[5:] == [k + 1, k + 4, k + 3, k + 2]  # same cycle, other order


def test_dedup_enums(base):
    m_bytes = blob(
        T(ENUM, "state", 4, data=[("RUNNING", 0), ("SLEEPING", 1)]),  # 1 -> base 7
        T(ENUM, "state", 4, data=[("RUNNING", 0), ("SLEEPING", 1), ("DEAD", 2)]),  # kept
        # 3: an enum fwd resolves to the first compatible candidate, highest id first: the
        # module's enum 2, not base 7
        T(ENUM, "state", 4, data=[]),
        T(ENUM64, "big", 8, data=[("X", 1 << 40)]),  # 4 kept
        T(ENUM, "big", 4, data=[]),  # 5: enum fwd resolves to the enum64
    )
    r = rebase(Btf.from_bytes(m_bytes), base)
    k = base.last_id
    assert r.id_map == [0, 7, k + 1, k + 1, k + 2, k + 2]
    if HAVE_LIBBPF:
        _check_against_libbpf(m_bytes, blob(*BASE_TYPES), base)


def test_dedup_candidates_highest_id_first(base):
    # struct n { struct x *p; } twice, with two different complete struct x: neither n
    # collapses onto the other.  A third n whose p points to a FWD x is equivalent to
    # both; of the two candidates sharing its dedup-table key, the highest id is tried
    # first (libbpf's hash map yields the most recently added entry first), and the FWD
    # resolves to that candidate's struct x.
    m_bytes = blob(
        T(INT, "int", 4, data=[S32]),  # 1 -> base 1
        T(INT, "long", 8, data=[(1 << 24) | 64]),  # 2 kept: k + 1
        T(STRUCT, "x", 4, data=[member("a", 1)]),  # 3 kept: k + 2
        T(STRUCT, "x", 8, data=[member("a", 2)]),  # 4 kept: k + 3
        T(PTR, None, 3),  # 5 kept: k + 4
        T(PTR, None, 4),  # 6 kept: k + 5
        T(STRUCT, "n", 8, data=[member("p", 5)]),  # 7 kept: k + 6
        T(STRUCT, "n", 8, data=[member("p", 6)]),  # 8 kept: k + 7
        T(FWD, "x", 0),  # 9 -> 4
        T(PTR, None, 9),  # 10 -> 6
        T(STRUCT, "n", 8, data=[member("p", 10)]),  # 11 -> 8, not 7
        T(TYPEDEF, "t", 11),  # 12 kept: k + 8, shows the choice in the output
    )
    r = rebase(Btf.from_bytes(m_bytes), base)
    k = base.last_id
    assert r.id_map == [0, 1] + [k + i for i in range(1, 8)] + [k + 3, k + 5, k + 7, k + 8]
    assert r.btf.types[-1].words[2] == k + 7
    if HAVE_LIBBPF:
        _check_against_libbpf(m_bytes, blob(*BASE_TYPES), base)


# libbpf 1.1's btf_dedup_is_equiv accepts a canonical type met again against another
# candidate-side type when the two are identical ARRAYs, or identical STRUCTs/UNIONs
# (member types: the same ids, identical arrays or, recursively, identical structs); not
# identical PTRs or other kinds (libbpf >= 1.6 adds those, as btf_dedup_identical_types).
def _identical_copies(kind_of_copy: str):
    """A base struct ``S`` using one type twice, and a module ``S`` using two copies of
    it: ``kind_of_copy`` is "struct", "nested" (structs whose members are copies too),
    "array" or "ptr"."""
    base_types = [
        T(INT, "int", 4, data=[S32]),  # 1
        T(STRUCT, "B", 4, data=[member("x", 1)]),  # 2
        T(STRUCT, "A", 4, data=[member("b", 2)]),  # 3
        T(ARRAY, None, 0, data=[(1, 1, 2)]),  # 4: int[2]
        T(PTR, None, 1),  # 5
    ]
    two = {"struct": (3, 8), "nested": (3, 8), "array": (4, 8), "ptr": (5, 16)}
    used, size = two[kind_of_copy]
    base_types.append(T(STRUCT, "S", size, data=[member("a1", used), member("a2", used, size * 4)]))
    m = [T(INT, "int", 4, data=[S32]), None]  # 1, 2 = S (below)
    if kind_of_copy == "nested":
        m += [
            T(STRUCT, "A", 4, data=[member("b", 5)]),  # 3
            T(STRUCT, "A", 4, data=[member("b", 6)]),  # 4
            T(STRUCT, "B", 4, data=[member("x", 1)]),  # 5
            T(STRUCT, "B", 4, data=[member("x", 1)]),  # 6
        ]
    else:
        copy = {
            "struct": T(STRUCT, "A", 4, data=[member("b", 5)]),
            "array": T(ARRAY, None, 0, data=[(1, 1, 2)]),
            "ptr": T(PTR, None, 1),
        }[kind_of_copy]
        m += [copy, copy, T(STRUCT, "B", 4, data=[member("x", 1)])]  # 3, 4, 5
    m[1] = T(STRUCT, "S", size, data=[member("a1", 3), member("a2", 4, size * 4)])
    return blob(*m), blob(*base_types)


@pytest.mark.parametrize("copy, kept", [("struct", 0), ("nested", 0), ("array", 0), ("ptr", 1)])
def test_dedup_identical_copies_in_equivalence_walk(copy, kept):
    m_bytes, base_bytes = _identical_copies(copy)
    r = rebase(Btf.from_bytes(m_bytes), Btf.from_bytes(base_bytes))
    assert r.btf.nr_types == kept
    if kept:  # the module's S stays, and the PTR copies (equal once deduped) with it
        assert [t.kind for t in r.btf.types] == [STRUCT]
    if HAVE_LIBBPF:
        _check_against_libbpf(m_bytes, base_bytes)


def test_dedup_deep_chain_no_recursion_limit():
    depth = 3000
    chain = [T(INT, "int", 4, data=[S32])] + [T(CONST, None, i) for i in range(1, depth + 1)]
    holder = T(STRUCT, "holder", 4, data=[member("x", depth + 1)])
    b = btf(*chain, holder)
    r = rebase(btf(*chain, holder), b)
    assert r.id_map == list(range(depth + 3))
    # a module-only chain: kept, deduped against itself
    m2 = btf(*chain, holder, T(PTR, None, depth + 2))
    r2 = rebase(m2, btf(T(INT, "int", 4, data=[S32])))
    assert r2.btf.nr_types == depth + 2


def test_dedup_reference_loop_is_an_error(base):
    m = btf(T(PTR, None, 2), T(CONST, None, 1))
    with pytest.raises(BtfRebaseError) as ei:
        rebase(m, base)
    assert ei.value.type_id in (1, 2)


def test_dedup_not_standalone(base):
    with pytest.raises(BtfRebaseError):
        rebase(btf(T(PTR, None, 9)), base)


# ---------------------------------------------------------------------------------- detach
def test_detach_then_dedup_is_equivalent(base):
    s = split_on(
        base,
        T(STRUCT, "mod", 24, data=[member("t", 6), member("n", 3, 64)]),  # 8
        T(PTR, None, 8),  # 9
        T(FUNC_PROTO, None, 1, data=[("m", 9)]),  # 10
        T(FUNC, "mod_fn", 10),  # 11
        T(ARRAY, None, 0, data=[(1, 2, 4)]),  # 12
    )
    d = detach(s, base)
    # base types reached: 1, 2, 3, 4, 5, 6 (7 is not), in base id order, then the split
    assert d.id_map == [0, 1, 2, 3, 4, 5, 6, 0, 7, 8, 9, 10, 11]
    assert not d.btf.is_split and d.btf.nr_types == 11
    assert d.btf.strings.startswith(b"\0")
    names = [d.btf.str_at(t.name_off) for t in d.btf.types]
    assert names[:3] == ["int", "long unsigned int", "list_head"]
    back = rebase(d.btf, base)
    assert equivalent(back.btf, s)
    assert back.id_map[1:7] == [1, 2, 3, 4, 5, 6]
    assert back.id_map[7:] == list(range(8, 13))
    with pytest.raises(BtfRebaseError):
        detach(d.btf, base)


# ---------------------------------------------------------------------------------- retarget
def test_retarget_id_maps(base):
    # the new base has the same types at other ids, plus an extra one; 'state' changed
    new_base = btf(
        T(INT, "char", 1, data=[8]),  # 1 new
        T(ENUM, "state", 4, data=[("RUNNING", 0)]),  # 2 (differs from old 7)
        T(INT, "long unsigned int", 8, data=[U64]),  # 3 == old 2
        T(INT, "int", 4, data=[S32]),  # 4 == old 1
        T(STRUCT, "task", 24, data=[member("pid", 4), member("tasks", 6, 64)]),  # 5 == 5
        T(STRUCT, "list_head", 16, data=[member("next", 7), member("prev", 7, 64)]),  # 6
        T(PTR, None, 6),  # 7 == old 4
    )
    s = split_on(base, T(PTR, None, 5), T(TYPEDEF, "tp", 8))  # 8, 9
    r = retarget(s, base, new_base)
    k = new_base.last_id
    # reached: 5 (task) and through it 1, 3, 4; unreached: 2 (via base_map), 6, 7
    assert r.id_map[:8] == [0, 4, 3, 6, 7, 5, 0, 0]
    assert r.id_map[8:] == [k + 1, k + 2]
    assert base_map(base, new_base) == [0, 4, 3, 6, 7, 5, 0, 0]
    assert r.btf.base is new_base and r.btf.nr_types == 2
    assert equivalent(r.btf, s)  # different bases: compared structurally


# ---------------------------------------------------------------------------------- equivalent
def test_equivalent_positive_and_negative(base):
    a = split_on(base, T(STRUCT, "x", 8, data=[member("p", 9)]), T(PTR, None, 8))
    b = split_on(base, T(PTR, None, 9), T(STRUCT, "x", 8, data=[member("p", 8)]))
    assert equivalent(a, b)
    c = split_on(base, T(STRUCT, "x", 16, data=[member("p", 9)]), T(PTR, None, 8))
    e = equivalent(a, c)
    assert not e and "size" in e.difference and "8" in e.difference and "16" in e.difference
    d = split_on(base, T(STRUCT, "x", 8, data=[member("p", 9)]), T(PTR, None, 1))
    e = equivalent(a, d)
    assert not e and "'p'" in e.difference, e.difference
    e = equivalent(a, split_on(base, T(PTR, None, 1)))
    assert not e and "own types" in e.difference
    # same types against another base object with identical bytes: compared by id
    base2 = btf(*BASE_TYPES)
    assert equivalent(a, split_on(base2, T(STRUCT, "x", 8, data=[member("p", 9)]), T(PTR, None, 8)))


# ---------------------------------------------------------------------------------- libbpf
def _lowest_equivalent_base_refs(split: Btf) -> Btf:
    """``split`` with every reference into its base replaced by the lowest base id of the
    same structural class.  The contract tries equal candidates highest id first; libbpf
    tries them in hash-map bucket order, which is that order only until the table grows
    (a grow reverses each bucket; a small base grows it between its own types); this
    removes that freedom."""
    base = split.base
    side = Side("base", base, None, range(1, base.last_id + 1))
    part = Partition([side], shared_base=False)
    lowest: dict = {}
    for t in range(1, base.last_id + 1):
        lowest.setdefault(part.cls[(0, t)], t)
    start = split.start_id
    records = [
        rewrite(t, lambda x: lowest[part.cls[(0, x)]] if 0 < x < start else x, lambda s: s)
        for t in split.types
    ]
    data = assemble(records, split.strings, split.byteorder)
    return Btf.from_bytes(data, base)


def _assert_same_as_libbpf(ours: Btf, theirs: Btf) -> None:
    eq = equivalent(ours, theirs)
    if not eq:  # maybe only a tie between identical base types: retry modulo those
        eq = equivalent(_lowest_equivalent_base_refs(ours), _lowest_equivalent_base_refs(theirs))
    assert eq, eq.difference


def _has_identical_types(b: Btf) -> bool:
    """Whether two types of standalone ``b`` are structurally equivalent."""
    part = Partition([Side("x", b, None, range(1, b.last_id + 1))], shared_base=False)
    return len(set(part.cls.values())) < b.last_id


def _enum_fwd_tie(m: Btf, base: Btf) -> bool:
    """Whether an enum forward declaration of ``m`` could resolve to several full enums
    (a tie the contract breaks by highest id and libbpf by hash-map bucket order)."""
    full: dict = {}
    for b in (base, m):
        for t in b.types:
            if t.kind in (ENUM, ENUM64) and t.vlen:
                key = (b.str_at(t.name_off), t.words[1:])
                full.setdefault(b.str_at(t.name_off), set()).add(key)
    return any(
        t.kind in (ENUM, ENUM64) and not t.vlen and len(full.get(m.str_at(t.name_off), ())) > 1
        for t in m.types
    )


def _check_against_libbpf(m_bytes: bytes, base_bytes: bytes, base_btf: Btf | None = None):
    base_btf = base_btf or Btf.from_bytes(base_bytes)
    ours = rebase(Btf.from_bytes(m_bytes), base_btf, mode="dedup")
    raw, type_cnt = libbpf.dedup_rebase(m_bytes, base_bytes)
    theirs = Btf.from_bytes(raw, base_btf)
    assert ours.btf.last_id + 1 == type_cnt
    _assert_same_as_libbpf(ours.btf, theirs)
    return ours, raw


@needs_libbpf
@settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
@given(btfgen.valid_btf(byteorder="little"), btfgen.valid_btf(byteorder="little"))
def test_dedup_matches_libbpf_generated(m_bytes, base_bytes):
    # Like vmlinux and real modules, both inputs are deduplicated first.  Inputs that keep
    # structurally identical types after that are skipped: there the result can depend on
    # the order of equal candidates, which the contract fixes as highest id first and
    # libbpf as its hash-map bucket order (the same until the table grows, see
    # _lowest_equivalent_base_refs).
    assume(base_bytes[4] == 24 and m_bytes[4] == 24)  # libbpf 1.1 mangles longer headers
    base_bytes, m_bytes = libbpf.dedup(base_bytes), libbpf.dedup(m_bytes)
    m, b = Btf.from_bytes(m_bytes), Btf.from_bytes(base_bytes)
    assume(not _has_identical_types(b) and not _has_identical_types(m))
    assume(not _enum_fwd_tie(m, b))
    try:
        ours = rebase(m, Btf.from_bytes(base_bytes))
    except BtfError:
        return  # e.g. a reference loop: libbpf fails too (checked below)
    try:
        raw, type_cnt = libbpf.dedup_rebase(m_bytes, base_bytes)
    except libbpf.LibbpfError:
        pytest.fail("libbpf failed where the reference succeeded")
    theirs = Btf.from_bytes(raw, ours.btf.base)
    assert ours.btf.last_id + 1 == type_cnt
    _assert_same_as_libbpf(ours.btf, theirs)


@needs_libbpf
@settings(max_examples=25, suppress_health_check=list(HealthCheck), deadline=None)
@given(btfgen.valid_btf(byteorder="little"))
def test_dedup_onto_itself_maps_everything_to_base(m_bytes):
    assume(m_bytes[4] == 24)  # libbpf 1.1 mangles the layout fields of longer headers
    m_bytes = libbpf.dedup(m_bytes)
    assume(not _has_identical_types(Btf.from_bytes(m_bytes)))
    ours, _ = _check_against_libbpf(m_bytes, m_bytes)
    assert ours.btf.nr_types <= ours.btf.base.nr_types


C_BASE = r"""
struct list_head { struct list_head *next, *prev; };
struct bar;
struct foo { int a; long b; struct list_head node; struct bar *bp; };
enum color { RED, GREEN, BLUE };
typedef unsigned int u32;
union val { int i; long l; };
struct foo g_foo; enum color g_color; u32 g_u32; union val g_val;
int func(struct foo *f, enum color c) { return f->a + c; }
"""
C_MODULE = r"""
struct list_head { struct list_head *next, *prev; };
struct bar;
struct foo { int a; long b; struct list_head node; struct bar *bp; };
struct bar { struct foo *f; char name[16]; const volatile int *cv; };
enum color { RED, GREEN, BLUE, BLACK };
typedef unsigned int u32;
struct tree { struct tree *left, *right; struct foo *payload; };
struct unknown;
struct bar g_bar; enum color g_color2; u32 g_u32b; struct unknown *g_unk;
struct tree g_tree; int (*g_cb)(struct tree *, u32);
union val { int i; long l; } g_val;
"""


def _pahole(tmp_path: Path, name: str, src: str) -> bytes:
    c = tmp_path / f"{name}.c"
    c.write_text(src)
    obj = tmp_path / f"{name}.o"
    out = tmp_path / f"{name}.btf"
    subprocess.run(["gcc", "-g", "-c", str(c), "-o", str(obj)], check=True)
    subprocess.run(
        ["pahole", f"--btf_encode_detached={out}", str(obj)], check=True, capture_output=True
    )
    return out.read_bytes()


@needs_libbpf
@needs_pahole
def test_dedup_matches_libbpf_pahole_small_base(tmp_path):
    base_bytes = _pahole(tmp_path, "base", C_BASE)
    m_bytes = _pahole(tmp_path, "mod", C_MODULE)
    ours, raw = _check_against_libbpf(m_bytes, base_bytes)
    assert ours.to_bytes() == raw  # here even the bytes agree
    base = ours.btf.base
    # struct foo differs (bar is complete in the module): kept; int and list_head are not
    kept = {ours.btf.str_at(t.name_off) for t in ours.btf.types}
    assert {"foo", "bar", "tree", "color"} <= kept and "list_head" not in kept
    d = detach(ours.btf, base)
    assert equivalent(rebase(d.btf, base).btf, ours.btf)


@pytest.fixture(scope="module")
def vmlinux():
    if not VMLINUX.exists():
        pytest.skip(f"{VMLINUX} absent")
    data = VMLINUX.read_bytes()
    return data, Btf.from_bytes(data)


@needs_libbpf
@needs_pahole
@needs_vmlinux
def test_dedup_matches_libbpf_pahole_on_vmlinux(tmp_path, vmlinux):
    vb, vm = vmlinux
    m_bytes = _pahole(tmp_path, "mod", C_MODULE)
    ours, _ = _check_against_libbpf(m_bytes, vb, vm)
    lh = next(
        i
        for i, t in enumerate(vm.types, 1)
        if t.kind == STRUCT and vm.str_at(t.name_off) == "list_head"
    )
    m = Btf.from_bytes(m_bytes)
    m_lh = next(t.id for t in m.types if t.kind == STRUCT and m.str_at(t.name_off) == "list_head")
    assert ours.id_map[m_lh] == lh


@needs_libbpf
@needs_vmlinux
@pytest.mark.parametrize("root", ["task_struct", "sk_buff"])
def test_dedup_matches_libbpf_vmlinux_closure(vmlinux, root):
    """A module carrying its own copy of a big vmlinux type graph (detached from a tiny
    split BTF pointing at ``root``): everything collapses onto vmlinux, like libbpf."""
    vb, vm = vmlinux
    root_id = next(
        (
            i
            for i, t in enumerate(vm.types, 1)
            if t.kind == STRUCT and vm.str_at(t.name_off) == root
        ),
        None,
    )
    if root_id is None:
        pytest.skip(f"no struct {root} in vmlinux")
    s = split_on(vm, T(PTR, None, root_id), T(TYPEDEF, "mod_ptr_t", vm.last_id + 1))
    standalone = detach(s, vm)
    ours, _ = _check_against_libbpf(standalone.to_bytes(), vb, vm)
    assert ours.id_map[standalone.id_map[root_id]] == root_id
    # only the module's own PTR (unless vmlinux has one) and TYPEDEF can remain
    assert ours.btf.nr_types <= 2
    assert equivalent(rebase(detach(ours.btf, vm).btf, vm).btf, ours.btf)
