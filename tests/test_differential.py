"""Differential and property tests: native ``btfx`` vs ``btfx.reference`` vs docs/rules.md.

Inputs come from the independent builder in ``btfgen``. Every test either runs on one backend
(the ``backend`` fixture, checked against the generator's expectation) or on both at once
(checked against each other). A backend that cannot be imported fails its tests.
"""

from __future__ import annotations

import importlib
from typing import Optional, Tuple

import btfgen
import pytest
from btfx.errors import BtfError, BtfFormatError, BtfValidationError
from hypothesis import given, settings

LEVELS = ("strict", "module")


def _both():
    return importlib.import_module("btfx"), importlib.import_module("btfx.reference")


def _order(data: bytes) -> str:
    return "little" if data[:2] == b"\x9f\xeb" else "big"


def _other(order: str) -> str:
    return "big" if order == "little" else "little"


Outcome = Tuple[str, Optional[int]]


def _outcome(fn) -> Outcome:
    """("ok", None) or (exception class name, type_id)."""
    try:
        fn()
    except BtfError as e:
        return type(e).__name__, e.type_id
    return "ok", None


def _outcomes(mod, data: bytes, base: bytes | None = None) -> dict:
    """Parse and every validation level/width of ``data`` with one backend."""
    out = {}
    parsed = []

    def parse():
        b = mod.Btf.from_bytes(base) if base is not None else None
        parsed.append(mod.Btf.from_bytes(data, b))

    out["parse"] = _outcome(parse)
    if parsed:
        for level in LEVELS:
            for wide in (False, True):
                out[level, wide] = _outcome(
                    lambda level=level, wide=wide: parsed[0].validate(level, wide=wide)
                )
    return out


# ---------------------------------------------------------------------------------------------
# valid input, one backend


def _check_valid(backend, data: bytes, base: bytes | None = None) -> None:
    b = backend.Btf.from_bytes(base) if base is not None else None
    btf = backend.Btf.from_bytes(data, b)
    for level in LEVELS:
        btf.validate(level)
        btf.validate(level, wide=True)
    # write∘parse is the identity on canonical input, in the input's byte order
    order = _order(data)
    assert btf.to_bytes() == data
    assert btf.to_bytes(order) == data
    # swapping twice is the identity; the swapped blob is valid and dumps the same
    swapped = btf.to_bytes(_other(order))
    assert len(swapped) == len(data)
    assert swapped != data
    b2 = backend.Btf.from_bytes(base, None).to_bytes(_other(order)) if base is not None else None
    back = backend.Btf.from_bytes(swapped, backend.Btf.from_bytes(b2) if b2 else None)
    back.validate("strict")
    assert back.to_bytes() == swapped
    assert back.to_bytes(order) == data
    assert back.dump() == btf.dump()
    assert len(back) == len(btf)


@settings(max_examples=80)
@given(btfgen.valid_btf())
def test_valid_roundtrip(backend, data):
    _check_valid(backend, data)
    btf = backend.Btf.from_bytes(data)
    assert btf.start_id == 1
    assert btf.start_str_off == 0


@settings(max_examples=40)
@given(btfgen.valid_split())
def test_valid_split_roundtrip(backend, blobs):
    base, split = blobs
    _check_valid(backend, split, base)
    b = backend.Btf.from_bytes(base)
    s = backend.Btf.from_bytes(split, b)
    assert s.start_id == b.start_id + len(b)
    str_len = int.from_bytes(base[20:24], _order(base))
    assert s.start_str_off == b.start_str_off + str_len


# ---------------------------------------------------------------------------------------------
# valid input, both backends agree


@settings(max_examples=80)
@given(btfgen.valid_btf())
def test_valid_backends_agree(data):
    native, ref = _both()
    n, r = native.Btf.from_bytes(data), ref.Btf.from_bytes(data)
    assert len(n) == len(r)
    assert (n.start_id, n.start_str_off) == (r.start_id, r.start_str_off)
    for order in (None, "little", "big"):
        assert n.to_bytes(order) == r.to_bytes(order)
    assert n.dump() == r.dump()
    assert n.dump(format="raw") == r.dump(format="raw")


@settings(max_examples=30)
@given(btfgen.valid_split())
def test_valid_split_backends_agree(blobs):
    base, split = blobs
    native, ref = _both()
    n = native.Btf.from_bytes(split, native.Btf.from_bytes(base))
    r = ref.Btf.from_bytes(split, ref.Btf.from_bytes(base))
    assert len(n) == len(r)
    assert (n.start_id, n.start_str_off) == (r.start_id, r.start_str_off)
    for order in (None, "little", "big"):
        assert n.to_bytes(order) == r.to_bytes(order)
    assert n.dump() == r.dump()


# ---------------------------------------------------------------------------------------------
# invalid input


def _check_invalid(backend, inv: btfgen.Invalid, base: bytes | None = None) -> None:
    data, exc, type_id = inv
    b = backend.Btf.from_bytes(base) if base is not None else None
    if exc is BtfFormatError:
        with pytest.raises(BtfFormatError) as ei:
            backend.Btf.from_bytes(data, b)
        assert type(ei.value) is BtfFormatError
        assert ei.value.type_id == type_id, inv.note
        return
    assert exc is BtfValidationError
    btf = backend.Btf.from_bytes(data, b)
    for wide in (False, True):
        with pytest.raises(BtfValidationError) as ei:
            btf.validate("strict", wide=wide)
        assert ei.value.type_id == type_id, inv.note
        if inv.fails_module:
            with pytest.raises(BtfValidationError) as ei:
                btf.validate("module", wide=wide)
            assert ei.value.type_id == type_id, inv.note
        else:
            btf.validate("module", wide=wide)


@settings(max_examples=300)
@given(btfgen.invalid_btf())
def test_invalid_matches_rules(backend, inv):
    _check_invalid(backend, inv)


@settings(max_examples=300)
@given(btfgen.invalid_btf())
def test_invalid_backends_agree(inv):
    native, ref = _both()
    assert _outcomes(native, inv[0]) == _outcomes(ref, inv[0]), inv.note


@settings(max_examples=80)
@given(btfgen.invalid_split())
def test_invalid_split_matches_rules(backend, pair):
    base, inv = pair
    _check_invalid(backend, inv, base)


@settings(max_examples=80)
@given(btfgen.invalid_split())
def test_invalid_split_backends_agree(pair):
    base, inv = pair
    native, ref = _both()
    assert _outcomes(native, inv[0], base) == _outcomes(ref, inv[0], base), inv.note
