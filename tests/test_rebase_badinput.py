"""Corrupted input to rebase / detach / retarget / equivalent, native and reference: every
call either succeeds or raises a ``btfx.errors.BtfError`` subclass (never another
exception, never a hang).  Corruptions: truncation, a random word of the type section
overwritten (out-of-range ids, unknown kinds, bad vlen, bad string offsets), explicit
dangling ids and reference loops."""

from __future__ import annotations

import struct

import btfgen
import btfx
import pytest
import rebasegen
from btfgen import CONST, INT, PTR, STRUCT, Model, StrTab, T, serialize
from btfx import reference as R
from btfx.errors import BtfError, BtfRebaseError
from btfx.reference.rebase_common import id_values
from hypothesis import given, settings
from hypothesis import strategies as st

IMPLS = [("btfx", btfx), ("reference", R)]


def ok_or_btf_error(fn) -> str:
    try:
        fn()
    except BtfError as e:
        return type(e).__name__
    return "ok"


def _retarget(mod, split, base, new):
    if mod is btfx:
        return btfx.retarget_btf(split, base, new, base_map=btfx.BaseMap(base, new))
    return R.retarget(split, base, new)


def exercise(mod, base_bytes: bytes, split_bytes: bytes, module_bytes: bytes) -> None:
    """Every operation on possibly corrupted input: only BtfError may escape."""
    holder = {}

    def parse():
        holder["base"] = mod.Btf.from_bytes(base_bytes)

    if ok_or_btf_error(parse) != "ok":
        return
    base = holder["base"]

    def parse_split():
        holder["split"] = mod.Btf.from_bytes(split_bytes, base)

    def parse_module():
        holder["module"] = mod.Btf.from_bytes(module_bytes)

    if ok_or_btf_error(parse_module) == "ok":
        m = holder["module"]
        for mode in ("shift", "dedup"):
            ok_or_btf_error(lambda mode=mode: mod.rebase(m, base, mode))
        ok_or_btf_error(lambda: mod.equivalent(m, m))
        if mod is btfx:
            ok_or_btf_error(lambda: btfx.equivalent(m, m, exact=False))
            ok_or_btf_error(lambda: btfx.rebase(m, btfx.BaseIndex(base)))
    if ok_or_btf_error(parse_split) == "ok":
        s = holder["split"]
        if mod is btfx or not dangling_base(base):  # see test_dangling_base_reference
            ok_or_btf_error(lambda: mod.detach(s, base))
            ok_or_btf_error(lambda: _retarget(mod, s, base, base))
        ok_or_btf_error(lambda: mod.equivalent(s, s))
        if mod is btfx:
            ok_or_btf_error(lambda: btfx.equivalent(s, s, exact=False))
            ok_or_btf_error(lambda: btfx.equivalent(s, s, id_map=list(range(s.last_id + 1))))
            ok_or_btf_error(lambda: btfx.equivalent(s, s, id_map=[0, 10**6]))
        if "module" in holder:
            ok_or_btf_error(lambda: mod.equivalent(s, holder["module"]))


def dangling_base(base: R.Btf) -> bool:
    """Whether a (reference) base has an id field past its last id."""
    return any(v > base.last_id for t in base.types for v in id_values(t))


@st.composite
def corrupt(draw, blob: bytes) -> bytes:
    how = draw(st.sampled_from(["truncate", "word", "word", "byte"]))
    if how == "truncate":
        return blob[: draw(st.integers(0, len(blob) - 1))]
    hdr_len = struct.unpack_from("<I" if blob[:2] == b"\x9f\xeb" else ">I", blob, 4)[0]
    data = bytearray(blob)
    if how == "byte":
        i = draw(st.integers(0, len(blob) - 1))
        data[i] = draw(st.integers(0, 255))
        return bytes(data)
    words = (len(blob) - hdr_len) // 4
    if words == 0:
        return bytes(data)
    i = hdr_len + 4 * draw(st.integers(0, words - 1))
    value = draw(
        st.one_of(
            st.integers(0, 64),
            st.integers(0xFFFF0, 0x100010),
            st.integers(0, 0xFFFFFFFF),
            st.sampled_from([0x7F000000, 0x80FFFFFF, 0x13000001]),
        )
    )
    data[i : i + 4] = value.to_bytes(4, "little" if blob[:2] == b"\x9f\xeb" else "big")
    return bytes(data)


@st.composite
def corrupted_inputs(draw):
    base, split = draw(btfgen.valid_split())
    _, module = draw(rebasegen.base_and_module_blobs())
    which = draw(st.sampled_from(["split", "module", "base"]))
    if which == "split":
        split = draw(corrupt(split))
    elif which == "module":
        module = draw(corrupt(module))
    else:
        base = draw(corrupt(base))
    return base, split, module


@settings(max_examples=80)
@given(corrupted_inputs())
@pytest.mark.parametrize("impl", [name for name, _ in IMPLS])
def test_corrupted_input_raises_only_btf_errors(impl, inputs):
    mod = dict(IMPLS)[impl]
    exercise(mod, *inputs)


BASE_TYPES = [
    T(INT, "int", 4, data=[(1 << 24) | 32]),
    T(PTR, None, 1),
    T(STRUCT, "s", 8, data=[("p", 2, 0)]),
]


def _base() -> bytes:
    return serialize(Model(BASE_TYPES))


def _split(*types: T) -> bytes:
    n = btfgen.str_len_of(Model(BASE_TYPES))
    return serialize(Model(list(types), start_id=4, start_str_off=n, strings=StrTab(n)))


@pytest.mark.parametrize("impl", [name for name, _ in IMPLS])
def test_dangling_ids_and_loops(impl):
    mod = dict(IMPLS)[impl]
    base = mod.Btf.from_bytes(_base())
    # a split type pointing past the last id (detach/retarget: test_dangling_reference)
    dangling = mod.Btf.from_bytes(_split(T(PTR, None, 3), T(PTR, None, 99)), base)
    assert ok_or_btf_error(lambda: mod.equivalent(dangling, dangling)) in ("ok", "BtfRebaseError")
    # standalone with a dangling id: both modes refuse it (not standalone)
    m = mod.Btf.from_bytes(serialize(Model([T(PTR, None, 7)])))
    for mode in ("shift", "dedup"):
        with pytest.raises(BtfRebaseError):
            mod.rebase(m, base, mode)
    # a reference loop PTR -> CONST -> PTR: dedup refuses (libbpf: ELOOP), shift does not
    loop = mod.Btf.from_bytes(serialize(Model([T(PTR, None, 2), T(CONST, None, 1)])))
    with pytest.raises(BtfRebaseError):
        mod.rebase(loop, base)
    mod.rebase(loop, base, "shift")
    assert mod.equivalent(loop, loop)
    if mod is R:
        # detach from a base that is not the split's (the native API ignores ``base`` when
        # the split already has one)
        other = R.Btf.from_bytes(serialize(Model([T(INT, "int", 4, data=[(1 << 24) | 32])])))
        ok = R.Btf.from_bytes(_split(T(PTR, None, 3)), base)
        with pytest.raises(BtfRebaseError):
            R.detach(ok, other)
        with pytest.raises(BtfRebaseError):
            R.detach(R.Btf.from_bytes(_base()), base)  # not split at all
    else:
        with pytest.raises(BtfError):  # split bytes without their base
            btfx.detach(btfx.Btf.from_bytes(_split(T(PTR, None, 3))))


@pytest.mark.parametrize(
    "where,impl",
    [
        ("split", "btfx"),
        ("split", "reference"),
        ("base", "btfx"),
        ("base", "reference"),
    ],
)
def test_dangling_reference(where, impl):
    """A split type, or a base type the split reaches, has an id field past the last id
    (it parses; only validation would reject it): detach and retarget must refuse it."""
    mod = dict(IMPLS)[impl]
    base_types = [T(INT, "int", 4, data=[(1 << 24) | 32]), T(PTR, None, 1)]
    if where == "base":
        base_types[1] = T(PTR, None, 99)
    n = btfgen.str_len_of(Model(base_types))
    base = mod.Btf.from_bytes(serialize(Model(base_types)))
    own = [T(PTR, None, 2)] + ([T(PTR, None, 99)] if where == "split" else [])
    split_bytes = serialize(Model(own, start_id=3, start_str_off=n, strings=StrTab(n)))
    split = mod.Btf.from_bytes(split_bytes, base)
    with pytest.raises(BtfRebaseError):
        mod.detach(split, base)
    with pytest.raises(BtfRebaseError):
        _retarget(mod, split, base, base)
