"""rebase / detach / retarget / equivalent: native ``btfx`` against ``btfx.reference`` and
against docs/rebase.md, on generated BTF (``rebasegen``, built on ``btfgen``).

* Differential: both implementations give byte-identical output, identical ``id_map`` and
  ``str_map``, or reject the same input with the same exception class (and ``type_id``).
* Properties: shift keeps the size and is inverted by subtracting ``K``/``L``; shift and
  dedup results validate on the base; ``rebase(detach(s)) ~ s``; ``equivalent`` is
  reflexive, permutation-invariant and rejects mutated graphs with a difference text.
* Preconditions and limits: non-standalone input, byte order, ``K + N > 0xFFFFF`` and the
  string offset limit at their exact boundaries (big bases made of tiny records).

libbpf comparisons are in ``test_rebase_libbpf.py``, the real kernels in
``test_rebase_corpus.py``, corrupted input in ``test_rebase_badinput.py``.
"""

from __future__ import annotations

import re
import struct
from typing import Any, List, Tuple

import btfgen
import btfx
import pytest
import rebasegen
from btfgen import ARRAY, ENUM, ENUM64, FWD, INT, PTR, STRUCT, UNION, Model, T, serialize
from btfx import reference as R
from btfx.errors import BtfError, BtfValidationError
from btfx.reference.rebase_common import rewrite
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

MODES = ("shift", "dedup")

Outcome = Tuple[Any, ...]


# ---------------------------------------------------------------------------------- helpers
def _outcome(fn) -> Outcome:
    """``("ok", bytes, id_map, str_map)`` or ``(exception class name, type_id)``."""
    try:
        r = fn()
    except BtfError as e:
        return type(e).__name__, e.type_id
    return "ok", r.to_bytes(), list(r.id_map), dict(r.str_map)


def rebase_both(base: bytes, module: bytes, mode: str) -> Tuple[Outcome, Outcome]:
    nat = _outcome(
        lambda: btfx.rebase(btfx.Btf.from_bytes(module), btfx.Btf.from_bytes(base), mode)
    )
    # Bytes in (for shift: the one-pass path that parses as it rewrites) give the same.
    nat_bytes = _outcome(lambda: btfx.rebase(module, btfx.Btf.from_bytes(base), mode))
    assert nat_bytes == nat, (nat_bytes[:2], nat[:2])
    ref = _outcome(lambda: R.rebase(R.Btf.from_bytes(module), R.Btf.from_bytes(base), mode))
    ref_bytes = _outcome(lambda: R.rebase(module, R.Btf.from_bytes(base), mode))
    assert ref_bytes == ref
    return nat, ref


def assert_same(nat: Outcome, ref: Outcome) -> None:
    if nat[0] != "ok" or ref[0] != "ok":
        assert nat[:2] == ref[:2], (nat[:2], ref[:2])
        return
    assert nat[1] == ref[1], "output bytes differ"
    assert nat[2] == ref[2], "id maps differ"
    assert nat[3] == ref[3], "string maps differ"


def type_section(blob: bytes) -> Tuple[int, int]:
    e = "<" if blob[:2] == b"\x9f\xeb" else ">"
    hdr_len, type_off, type_len = struct.unpack_from(e + "III", blob, 4)
    return hdr_len + type_off, type_len


def has_fwds(b: btfx.Btf) -> bool:
    """Whether ``b``'s own types include a FWD or an enum forward declaration (which dedup
    may resolve to a full struct/union/enum, changing the structure)."""
    return any(t.kind == "FWD" or (t.kind in ("ENUM", "ENUM64") and t.vlen == 0) for t in b)


def reached_ids(b: btfx.Btf) -> set:
    """``b``'s own ids and the base ids they reach."""
    d = btfx.detach(b) if b.is_split else None
    own = set(range(b.start_id, b.last_id + 1))
    return own | ({x for x, m in enumerate(d.id_map) if m} if d else set())


def check_roundtrip(s: btfx.Btf, d: Any, r: Any) -> str:
    """``r = rebase(detach(s).btf)`` is equivalent to split ``s``: exactly when the two steps
    renumbered ``s`` one-to-one (then the graphs are isomorphic by construction); otherwise
    type by type through the composed id map (when no FWD resolution can change shapes)
    and up to duplicates (``exact=False``, when every image is still part of ``r``'s
    graph).  Returns which checks applied."""
    if composed_is_bijection(s, d, r):
        e = btfx.equivalent(s, r.btf)
        assert e, e.difference
        return "exact"
    done = "inexact"
    rmap = r.id_map
    comp = [rmap[m] if m else 0 for m in d.id_map]
    e = btfx.equivalent(s, r.btf, id_map=comp)
    assert e, e.difference
    done += "+id_map"
    reached = reached_ids(r.btf)
    # Up to duplicates and declarations, when every own type is reached from the result.
    if all(comp[x] in reached for x in range(s.start_id, s.last_id + 1)):
        e = btfx.equivalent(s, r.btf, exact=False)
        assert e, e.difference
        done += "+exact=False"
    return done


def composed_is_bijection(split: btfx.Btf, d: Any, r: Any) -> bool:
    """Whether ``detach`` then ``rebase`` renumbered ``split`` one-to-one: every reached base
    id back to itself, the split ids onto all new split ids without collisions."""
    start = split.start_id
    dmap, rmap = d.id_map, r.id_map  # (each .id_map access builds a new list)
    for old in range(1, start):
        mid = dmap[old]
        if mid and rmap[mid] != old:
            return False
    images = [rmap[dmap[x]] for x in range(start, split.last_id + 1)]
    return sorted(images) == list(range(start, start + len(images)))


# ---------------------------------------------------------------------------------- differential
@settings(max_examples=150)
@given(rebasegen.base_and_module_blobs())
def test_rebase_native_matches_reference(blobs):
    base, module = blobs
    for mode in MODES:
        nat, ref = rebase_both(base, module, mode)
        assert nat[0] == "ok", nat  # every generated module is standalone and valid
        assert_same(nat, ref)


@settings(max_examples=60)
@given(rebasegen.base_and_module(), st.data())
def test_non_standalone_rejected_alike(models, data):
    """A module with an id field ``> N`` or a string field ``>= S`` (both modes), or a split
    BTF passed as the module: the same exception class and type id from both."""
    base_m, mod_m = models
    n = len(mod_m.types)
    how = data.draw(st.sampled_from(["id", "string", "split"]))
    base = serialize(base_m)
    if how == "id":
        bad = data.draw(st.integers(n + 2, n + 50))  # n + 1 is the PTR itself
        module = serialize(Model(mod_m.types + [T(PTR, None, bad)], byteorder=mod_m.byteorder))
    elif how == "string":
        mod_bytes = serialize(mod_m)
        str_len = struct.unpack_from("<I" if mod_m.byteorder == "little" else ">I", mod_bytes, 20)
        bad_off = str_len[0] + data.draw(st.integers(0, 20))
        module = serialize(Model(mod_m.types + [T(FWD, bad_off, 0)], byteorder=mod_m.byteorder))
    nb, rb = btfx.Btf.from_bytes(base), R.Btf.from_bytes(base)
    split = split_blob(base_m, mod_m) if how == "split" else b""
    for mode in MODES:
        if how == "split":
            nat = _outcome(lambda m=mode: btfx.rebase(btfx.Btf.from_bytes(split, nb), nb, m))
            ref = _outcome(lambda m=mode: R.rebase(R.Btf.from_bytes(split, rb), rb, m))
        else:
            nat, ref = rebase_both(base, module, mode)
        assert nat[0] == "BtfRebaseError", (how, mode, nat[:2])
        assert_same(nat, ref)


def split_blob(base_m: Model, mod_m: Model) -> bytes:
    """``mod_m``'s own types as split BTF on ``base_m`` (ids moved past the base)."""
    k = len(base_m.types)
    base_len = btfgen.str_len_of(base_m)
    split = Model(
        rebasegen.shift_ids(mod_m.types, k),
        start_id=k + 1,
        start_str_off=base_len,
        strings=btfgen.StrTab(base_len),
        byteorder=base_m.byteorder,
    )
    return serialize(split)


@settings(max_examples=20)
@given(rebasegen.base_and_module_blobs(byteorder="little"))
def test_byte_order_mismatch_rejected_alike(blobs):
    base, module = blobs
    # the same base in the other byte order
    other = btfx.Btf.from_bytes(base).to_bytes("big")
    for mode in MODES:
        nat, ref = rebase_both(other, module, mode)
        assert nat[0] == "BtfRebaseError", nat
        assert_same(nat, ref)
    # and a big-endian module on the little-endian base
    for mode in MODES:
        nat, ref = rebase_both(base, btfx.Btf.from_bytes(module).to_bytes("big"), mode)
        assert nat[0] == "BtfRebaseError", nat
        assert_same(nat, ref)


def test_bad_mode_rejected_alike():
    b = rebasegen.distinct_ints(1)
    with pytest.raises(ValueError):
        btfx.rebase(btfx.Btf.from_bytes(b), btfx.Btf.from_bytes(b), "bogus")
    with pytest.raises(ValueError):
        R.rebase(R.Btf.from_bytes(b), R.Btf.from_bytes(b), "bogus")


# ---------------------------------------------------------------------------------- limits
@pytest.fixture(scope="module")
def huge_base() -> Tuple[btfx.Btf, R.Btf]:
    """Base BTF whose last id is ``0xFFFFF - 3`` (1M ``PTR -> void`` records, 12 MB): built
    and parsed once (the reference parser needs a few seconds for it)."""
    data = rebasegen.tiny_records_base(rebasegen.MAX_ID - 3)
    return btfx.Btf.from_bytes(data), R.Btf.from_bytes(data)


def _rebase_pair(bases, module: bytes, mode: str) -> Tuple[Outcome, Outcome]:
    nb, rb = bases
    nat = _outcome(lambda: btfx.rebase(btfx.Btf.from_bytes(module), nb, mode))
    ref = _outcome(lambda: R.rebase(R.Btf.from_bytes(module), rb, mode))
    return nat, ref


def test_id_limit_boundary(huge_base):
    """``K + N <= 0xFFFFF``: 3 new types fit, 4 do not, in both modes; for dedup only the
    *kept* types count (a ``PTR -> void`` maps onto the base)."""
    fits = rebasegen.distinct_ints(3)
    too_many = rebasegen.distinct_ints(4)
    # 3 distinct ints + one PTR -> void that dedup maps onto base id 1
    words = []
    strings = bytearray(b"\0")
    for i in range(3):
        words += [len(strings), INT << 24, 4, (1 << 24) | 32]
        strings += b"own%d\0" % i
    words += [0, PTR << 24, 0]
    mixed = rebasegen.raw_blob(words, bytes(strings))
    cases = [
        (fits, "shift", "ok"),
        (fits, "dedup", "ok"),
        (too_many, "shift", "BtfRebaseError"),
        (too_many, "dedup", "BtfRebaseError"),
        (mixed, "shift", "BtfRebaseError"),
        (mixed, "dedup", "ok"),
    ]
    for module, mode, expect in cases:
        nat, ref = _rebase_pair(huge_base, module, mode)
        assert nat[0] == expect, (mode, expect, nat[:2])
        assert_same(nat, ref)
    nat, _ = _rebase_pair(huge_base, mixed, "dedup")
    assert nat[2][1:4] == [rebasegen.MAX_ID - 2 + i for i in range(3)]
    assert nat[2][4] == rebasegen.MAX_ID - 3  # the highest of the identical base PTRs


@pytest.mark.parametrize("impl", ["btfx", "btfx.reference"])
def test_dedup_tie_breaks_to_highest_id(impl):
    """docs/rebase.md §2: candidates sharing a key are tried highest id first (libbpf's
    hashmap meets the most recently added entry first)."""
    mod = btfx if impl == "btfx" else R
    base = rebasegen.tiny_records_base(5)  # five identical PTR -> void
    module = rebasegen.raw_blob([0, PTR << 24, 0], b"\0")
    r = mod.rebase(mod.Btf.from_bytes(module), mod.Btf.from_bytes(base))
    assert r.id_map == [0, 5]


@pytest.mark.parametrize(
    "slack",
    [0, 1, 2, 5, 6],
)
def test_string_limit_boundary(slack):
    """Shift: ``L + S - 1 <= 0xFFFFFF``; dedup appends the new strings without the module's
    leading NUL, so it still fits one byte past the shift limit."""
    module = rebasegen.distinct_ints(2)
    s = struct.unpack_from("<I", module, 20)[0]  # str_len
    # L = extra + 2; shift fits iff L + S - 1 <= MAX_STR
    extra = rebasegen.MAX_STR + 1 - s - 2 + slack
    base = rebasegen.tiny_records_base(1, extra_strings=extra)
    bases = (btfx.Btf.from_bytes(base), R.Btf.from_bytes(base))
    expect = {
        "shift": "ok" if slack == 0 else "BtfRebaseError",
        "dedup": "ok" if slack <= 1 else "BtfRebaseError",
    }
    for mode in MODES:
        nat, ref = _rebase_pair(bases, module, mode)
        assert nat[0] == expect[mode], (mode, nat[:2])
        assert_same(nat, ref)


# ---------------------------------------------------------------------------------- shift
@settings(max_examples=60)
@given(rebasegen.base_and_module_blobs())
def test_shift_preserves_size_inverts_and_validates(blobs):
    base_bytes, module = blobs
    base = btfx.Btf.from_bytes(base_bytes)
    r = btfx.rebase(btfx.Btf.from_bytes(module), base, "shift")
    out = r.to_bytes()
    assert len(out) == len(module)
    k = base.last_id
    l_ = base.start_str_off + base.header["str_len"]
    n = btfx.Btf.from_bytes(module).last_id
    assert r.id_map == [0] + [x + k for x in range(1, n + 1)]
    assert all(new == old + l_ for old, new in r.str_map.items())
    assert r.btf.is_split and r.btf.start_id == k + 1 and r.btf.start_str_off == l_
    # everything outside the type section is byte for byte the input's
    t_off, t_len = type_section(module)
    assert out[:t_off] == module[:t_off] and out[t_off + t_len :] == module[t_off + t_len :]
    # subtracting K from every id field and L from every string field gives the input back
    rb = R.Btf.from_bytes(base_bytes)
    shifted = R.Btf.from_bytes(out, rb)
    back = [
        rewrite(t, lambda x: x - k if x else 0, lambda s: s - l_ if s else 0) for t in shifted.types
    ]
    e = "<" if base.byteorder == "little" else ">"
    words = [w for rec in back for w in rec]
    assert struct.pack(f"{e}{len(words)}I", *words) == module[t_off : t_off + t_len]
    r.btf.validate("module")
    r.btf.validate("strict")


# ---------------------------------------------------------------------------------- dedup
_MODIFIERS = ("TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG")


def _enum_decl_resized(src: btfx.Btf, r: Any, e: BtfError) -> bool:
    """Whether strict validation of a rebase's output failed only because libbpf's dedup
    resolved an enum declaration (no values) to a full enum, or a declaration, of another
    size (``btf_compat_enum`` compares names only): the type of the member (R11) or of the
    DATASEC entry's VAR (R6) that the message names reaches, through modifiers and array
    elements, such an enum where its counterpart in ``src`` (the input, ids mapped by
    ``r.id_map``) reached the declaration, and no longer fits."""
    member = re.fullmatch(r"member #(\d+): Member exceeds struct_size", e.message)
    entry = re.fullmatch(r"secinfo #(\d+): Invalid size", e.message)
    source = {new: old for old, new in enumerate(r.id_map) if new and old >= src.start_id}
    if e.type_id not in source or (member is None and entry is None):
        return False
    mine, theirs = src[source[e.type_id]], r.btf[e.type_id]
    if member is not None:
        j = int(member.group(1))
        old, new = mine.members[j].type, theirs.members[j].type
    else:
        j = int(entry.group(1))
        old, new = src[mine.vars[j].type].type, r.btf[theirs.vars[j].type].type
    while old and new and src[old].kind == r.btf[new].kind in (*_MODIFIERS, "ARRAY"):
        old, new = src[old].type, r.btf[new].type
    if not (old and new):
        return False
    o, n = src[old], r.btf[new]
    return (
        o.kind in ("ENUM", "ENUM64")
        and o.vlen == 0
        and n.kind in ("ENUM", "ENUM64")
        and (o.size != n.size)
    )


@settings(max_examples=80)
@given(rebasegen.base_and_module_blobs())
def test_dedup_validates_and_maps_consistently(blobs):
    base_bytes, module = blobs
    base = btfx.Btf.from_bytes(base_bytes)
    m = btfx.Btf.from_bytes(module)
    r = btfx.rebase(m, btfx.BaseIndex(base), "dedup")
    try:
        r.btf.validate("strict")
    except BtfError as e:
        assert _enum_decl_resized(m, r, e), e
    r.btf.validate("module")
    assert r.btf.base is base
    k = base.last_id
    assert len(r.id_map) == m.last_id + 1 and r.id_map[0] == 0
    # every kept type is the image of some module type
    id_map = r.id_map
    kept = sorted(x for x in set(id_map[1:]) if x > k)
    assert kept == list(range(k + 1, k + 1 + r.btf.nr_types))
    for old in range(1, m.last_id + 1):
        new = id_map[old]
        assert new, old
        t = m[old]
        if t.kind != "FWD" and not (t.kind in ("ENUM", "ENUM64") and t.vlen == 0):
            assert (r.btf[new].kind, r.btf[new].name) == (t.kind, t.name)
    # the string map leads to the same strings
    for old, new in r.str_map.items():
        assert r.btf.string_at(new) == m.string_at(old)
    # every module type is structurally the type it maps to (a FWD or an enum declaration
    # may map to the full type dedup resolved it to)
    e = btfx.equivalent(m, r.btf, id_map=r.id_map)
    assert e, e.difference
    # rebasing onto a BaseIndex or a Btf gives the same bytes
    assert btfx.rebase(m, base).to_bytes() == r.to_bytes()


@settings(max_examples=30)
@given(btfgen.valid_btf())
def test_dedup_onto_itself(data):
    """A (non-redundant) graph rebased onto itself keeps at most its own duplicates."""
    b = btfx.Btf.from_bytes(data)
    r = btfx.rebase(b, b)
    assert all(0 < x <= b.last_id or x > b.last_id for x in r.id_map[1:])
    assert r.btf.nr_types <= b.nr_types
    rr = R.rebase(R.Btf.from_bytes(data), R.Btf.from_bytes(data))
    assert rr.to_bytes() == r.to_bytes() and rr.id_map == r.id_map


# ---------------------------------------------------------------------------------- detach
def _strict_ok(btf: btfx.Btf) -> bool:
    try:
        btf.validate("strict")
    except BtfError:
        return False
    return True


def _splits():
    """Split BTF on a base: btfgen's generator, or a dedup result of rebasegen's module
    that is valid (see :func:`_enum_decl_resized` for the one way it may not be)."""
    made_by_rebase = rebasegen.base_and_module_blobs().map(
        lambda bm: (bm[0], btfx.rebase(btfx.Btf.from_bytes(bm[1]), btfx.Btf.from_bytes(bm[0])))
    )
    return st.one_of(
        btfgen.valid_split(),
        made_by_rebase.filter(lambda x: _strict_ok(x[1].btf)).map(
            lambda x: (x[0], x[1].to_bytes())
        ),
    )


@settings(max_examples=100)
@given(_splits())
def test_detach_rebase_roundtrip(blobs):
    """``rebase(detach(s, b).btf, b)`` is ``equivalent`` to ``s`` (see
    :func:`check_roundtrip` for when exact equivalence is provable); native and reference
    agree on every step."""
    base_bytes, split_bytes = blobs
    base = btfx.Btf.from_bytes(base_bytes)
    s = btfx.Btf.from_bytes(split_bytes, base)
    d = btfx.detach(s, base)
    assert not d.btf.is_split and d.btf.last_id == len([x for x in d.id_map[1:] if x]), (
        "detach maps reached ids one-to-one"
    )
    if len(d.btf):
        d.btf.validate("strict")
    else:  # nothing to detach: standalone BTF without types is no user BTF (G3)
        with pytest.raises(BtfValidationError, match="^No type found"):
            d.btf.validate("strict")
    r = btfx.rebase(d.btf, base)
    try:
        r.btf.validate("strict")
    except BtfError as e:
        assert _enum_decl_resized(d.btf, r, e), e

    rb = R.Btf.from_bytes(base_bytes)
    rs = R.Btf.from_bytes(split_bytes, rb)
    rd = R.detach(rs, rb)
    assert_same(_outcome(lambda: d), _outcome(lambda: rd))
    rr = R.rebase(R.Btf.from_bytes(d.to_bytes()), rb)
    assert_same(_outcome(lambda: r), _outcome(lambda: rr))

    how = check_roundtrip(s, d, r)
    event(how)
    if how == "exact":
        assert R.equivalent(rs, rr.btf), R.equivalent(rs, rr.btf).difference


_ANON_ENUM_DECLS = rebasegen.anon_enum_decl_retargets()


@settings(max_examples=60)
@given(_splits(), rebasegen.base_and_module_blobs().map(lambda bm: bm[0]))
@example(*_ANON_ENUM_DECLS["signedness"])
@example(*_ANON_ENUM_DECLS["to_full"])
@example(*_ANON_ENUM_DECLS["enum64"])
def test_retarget_native_matches_reference(blobs, new_base_bytes):
    """``retarget`` onto another base (same byte order or not, then an error from both);
    the native call gets ``base_map=BaseMap(old, new)`` (without it unreached old base ids
    map to 0, see the native docstring), the reference always maps them through
    ``base_map``.  The explicit examples: anonymous value-less enums, which dedup resolves
    across signedness, size and kind (libbpf ``btf_compat_enum``), and which the id-map
    check must accept."""
    base_bytes, split_bytes = blobs
    base = btfx.Btf.from_bytes(base_bytes)
    new = btfx.Btf.from_bytes(new_base_bytes)
    s = btfx.Btf.from_bytes(split_bytes, base)
    bm = btfx.BaseMap(base, new)
    rb, rnew = R.Btf.from_bytes(base_bytes), R.Btf.from_bytes(new_base_bytes)
    assert bm.to_list() == R.base_map(rb, rnew)
    assert len(bm) == base.last_id + 1 and bm.mapped == sum(1 for x in bm.to_list()[1:] if x)
    nat = _outcome(lambda: btfx.retarget_btf(s, base, btfx.BaseIndex(new), base_map=bm))
    ref = _outcome(lambda: R.retarget(R.Btf.from_bytes(split_bytes, rb), rb, rnew))
    assert_same(nat, ref)
    if nat[0] != "ok":
        assert base.byteorder != new.byteorder
        return
    r = btfx.retarget_btf(s, base, new, base_map=bm)
    try:
        r.btf.validate("strict")
    except BtfError as e:
        assert _enum_decl_resized(s, r, e), e
    r.btf.validate("module")
    assert btfx.equivalent(s, r.btf, id_map=r.id_map)
    plain = btfx.retarget_btf(s, None, new)
    assert plain.to_bytes() == r.to_bytes()
    assert [x if s_reached else 0 for x, s_reached in zip(r.id_map, _reached(s))] == [
        x if s_reached else 0 for x, s_reached in zip(plain.id_map, _reached(s))
    ]


def _reached(s: btfx.Btf) -> List[bool]:
    """Per old id: a split id, or a base id the split reaches (transitively)."""
    base = s.base
    out = [False] * (s.last_id + 1)
    d = btfx.detach(s)
    for old, mid in enumerate(d.id_map):
        out[old] = bool(mid)
    assert base is not None
    return out


# ---------------------------------------------------------------------------------- equivalent
@settings(max_examples=80)
@given(rebasegen.base_and_module(), st.data())
def test_equivalent_reflexive_permutation_and_mutation(models, data):
    _, mod_m = models
    a_bytes = serialize(mod_m)
    n = len(mod_m.types)
    order = data.draw(st.permutations(range(n)))
    perm = serialize(Model(rebasegen.permute(mod_m.types, order), byteorder=mod_m.byteorder))
    mutated = serialize(Model(rebasegen.mutate(data.draw, mod_m.types), byteorder=mod_m.byteorder))
    na, np_, nm = (btfx.Btf.from_bytes(x) for x in (a_bytes, perm, mutated))
    ra, rp, rm = (R.Btf.from_bytes(x) for x in (a_bytes, perm, mutated))
    for exact in (True, False):
        assert btfx.equivalent(na, na, exact=exact)
        assert btfx.equivalent(na, np_, exact=exact)
    assert R.equivalent(ra, ra) and R.equivalent(ra, rp)
    e = btfx.equivalent(na, nm)
    assert not e and e.difference, e
    e = R.equivalent(ra, rm)
    assert not e and e.difference
    # the id map of a permutation is checked type by type
    id_map = [0] * (n + 1)
    for new, old in enumerate(order):
        id_map[old + 1] = new + 1
    assert btfx.equivalent(na, np_, id_map=id_map)
    if not has_fwds(na):
        # (with an id map a declaration may map to a full definition, so a mutation that
        # completes an enum declaration is not a difference there)
        e = btfx.equivalent(na, nm, id_map=list(range(n + 1)))
        assert not e and e.difference


def _id_map_check(a_types: List[T], b_types: List[T], id_map: List[int] | None = None):
    """``equivalent(a, b, id_map=...)`` of two standalone graphs (identity map by default)."""
    a, b = (btfx.Btf.from_bytes(serialize(Model(t))) for t in (a_types, b_types))
    return btfx.equivalent(a, b, id_map=id_map or list(range(len(a_types) + 1)))


def test_equivalent_id_map_enum_declarations():
    """With an id map, a value-less enum (libbpf ``btf_is_enum_fwd``) stands for any enum
    of its name, the empty name included, whatever the signedness (kflag), size or
    ENUM/ENUM64 kind (``btf_compat_enum``), at any depth and both ways (dedup maps a
    struct with a full enum member onto a base struct whose member is a declaration);
    full enums, and declarations of other kinds, still have to match."""
    i32 = T(INT, "int", 4, data=[(1 << 24) | 32])

    def decl(signed: int, size: int = 1, kind: int = ENUM) -> T:
        return T(kind, None, size, kflag=signed, data=[])

    def full(*names: str) -> T:
        return T(ENUM, None, 1, data=[(n, i) for i, n in enumerate(names)])

    def holder(member_kind: int = STRUCT) -> T:
        return T(member_kind, None, 1, data=[("a", 2, 0)])

    def arr() -> T:
        return T(ARRAY, None, 0, data=[(2, 1, 0)])

    for a_decl, b_decl in [
        (decl(1), decl(0)),  # signedness
        (decl(0), decl(1, 8, ENUM64)),  # size and kind
        (decl(1), full("x")),  # declaration -> full enum
        (full("x"), decl(1)),  # full enum -> declaration
    ]:
        for top in (holder(), arr()):
            e = _id_map_check([i32, a_decl, top], [i32, b_decl, top])
            assert e, (a_decl, b_decl, top, e.difference)
    for a_t, b_t in [
        (full("x"), full("y")),  # two full enums: values compared
        (decl(0), T(INT, None, 1, data=[8])),  # not an enum
        (decl(0), T(ENUM, "named", 1, data=[])),  # another name
        (decl(0), T(STRUCT, None, 1, data=[])),
        (T(FWD, "s", 0, kflag=0), T(UNION, "s", 1, data=[])),  # FWD kind: struct
    ]:
        for top in (holder(), arr()):
            e = _id_map_check([i32, a_t, top], [i32, b_t, top])
            assert not e and e.difference, (a_t, b_t, top)
    # The two-way case from a real dedup: the module struct (full enum member) maps onto
    # the base struct (declaration member), as libbpf's btf__dedup does.
    base = btfx.Btf.from_bytes(
        serialize(Model([i32, decl(1, 4), T(STRUCT, "s", 4, data=[("x", 2, 0)])]))
    )
    m = btfx.Btf.from_bytes(
        serialize(
            Model([i32, T(ENUM, None, 4, data=[("A", 1)]), T(STRUCT, "s", 4, data=[("x", 2, 0)])])
        )
    )
    r = btfx.rebase(m, base)
    assert r.id_map[3] == 3
    e = btfx.equivalent(m, r.btf, id_map=r.id_map)
    assert e, e.difference
    # Up to duplicates and declarations (exact=False), references to enums compare by
    # name, anonymous ones included; a declaration needs no partner, a full enum does.
    for a_decl, b_decl, same in [
        (decl(1), decl(0), True),
        (decl(0), decl(1, 8, ENUM64), True),
        (full("x"), full("x"), True),
        (full("x"), full("y"), False),
        (decl(0), full("x"), False),  # the full enum has no partner
    ]:
        for top in (holder(), arr()):
            a, b = (btfx.Btf.from_bytes(serialize(Model([i32, t, top]))) for t in (a_decl, b_decl))
            e = btfx.equivalent(a, b, exact=False)
            assert bool(e) == same, (a_decl, b_decl, top, e.difference)


def test_equivalent_same_base_by_id_and_different_bytes():
    """References into the base: by id with a shared base (or equal bytes), structurally
    otherwise."""
    base_types = [
        T(INT, "int", 4, data=[(1 << 24) | 32]),
        T(INT, "int", 4, data=[(1 << 24) | 32]),  # a duplicate of 1
    ]
    base_bytes = serialize(Model(base_types))
    b1, b2 = btfx.Btf.from_bytes(base_bytes), btfx.Btf.from_bytes(base_bytes)
    strings = btfgen.str_len_of(Model(base_types))

    def split(target: int, base: btfx.Btf) -> btfx.Btf:
        m = Model(
            [T(PTR, None, target)],
            start_id=3,
            start_str_off=strings,
            strings=btfgen.StrTab(strings),
        )
        return btfx.Btf.from_bytes(serialize(m), base)

    assert btfx.equivalent(split(1, b1), split(1, b2))  # equal bytes: by id
    e = btfx.equivalent(split(1, b1), split(2, b1))
    assert not e and e.difference
    assert btfx.equivalent(split(1, b1), split(2, b1), exact=False)
    rb = R.Btf.from_bytes(base_bytes)
    rs = [
        R.Btf.from_bytes(split(t, b1).to_bytes(), rb) for t in (1, 2)
    ]  # split bytes on the same base
    assert not R.equivalent(rs[0], rs[1])
