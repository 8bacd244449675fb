"""Differential and property tests: native ``btfx`` vs ``btfx.reference`` vs docs/rules.md.

Inputs come from the independent builder in ``btfgen``. Every test either runs on one backend
(the ``backend`` fixture, checked against the generator's expectation) or on both at once
(checked against each other). A backend that cannot be imported fails its tests.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Tuple

import btfgen
import pytest
from btfx.errors import BtfError, BtfFormatError, BtfValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

LEVELS = ("strict", "module")


def _both():
    return importlib.import_module("btfx"), importlib.import_module("btfx.reference")


def _order(data: bytes) -> str:
    return "little" if data[:2] == b"\x9f\xeb" else "big"


def _other(order: str) -> str:
    return "big" if order == "little" else "little"


Outcome = Tuple  # ("ok", None) or (class name, type_id), then the message if asked


def _outcome(fn, message: bool = False) -> Outcome:
    """("ok", None) or (exception class name, type_id); with ``message``, also the
    error's message (both backends word format and validation errors alike, in the
    kernel's words) and section, or "" and None."""
    try:
        fn()
    except BtfError as e:
        return (type(e).__name__, e.type_id) + ((e.message, e.section) if message else ())
    return ("ok", None) + (("", None) if message else ())


def _outcomes(mod, data: bytes, base: bytes | None = None, message: bool = False) -> dict:
    """Parse and every validation level/width of ``data`` with one backend (with
    ``message``, the errors' messages too: see ``_outcome``)."""
    out = {}
    parsed = []

    def parse():
        b = mod.Btf.from_bytes(base) if base is not None else None
        parsed.append(mod.Btf.from_bytes(data, b))

    out["parse"] = _outcome(parse, message)
    if parsed:
        for level in LEVELS:
            for wide in (False, True):
                out[level, wide] = _outcome(
                    lambda level=level, wide=wide: parsed[0].validate(level, wide=wide),
                    message,
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


@settings(max_examples=60)
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


@settings(max_examples=60)
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


@settings(max_examples=40)
@given(btfgen.valid_model(), st.sampled_from([25, 26, 28, 31, 33, 34, 36, 40]))
def test_any_header_length_backends_agree(model, hdr_len):
    """A header of any length past 24 whose bytes past its fields are zero (the kernel's
    `btf_parse_hdr`): both backends read the same types, keep the header on writing, and
    validate as they do the 24- or 32-byte form."""
    if hdr_len < 32:
        model = replace(model, hdr_len=24, layout=False)
    plain = btfgen.serialize(model)
    tail = bytes(hdr_len - 24) if hdr_len < 32 else b""
    data = btfgen.serialize(model, btfgen.Header(hdr_len=hdr_len, extra=tail))
    native, ref = _both()
    for mod in (native, ref):
        b, p = mod.Btf.from_bytes(data), mod.Btf.from_bytes(plain)
        assert b.to_bytes() == data and b.dump() == p.dump()
        assert _outcomes(mod, data, message=True) == _outcomes(mod, plain, message=True)
    assert native.Btf.from_bytes(data).to_bytes("big") == ref.Btf.from_bytes(data).to_bytes("big")


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


@settings(max_examples=200)
@given(btfgen.invalid_btf())
def test_invalid_matches_rules(backend, inv):
    _check_invalid(backend, inv)


@settings(max_examples=200)
@given(btfgen.invalid_btf())
def test_invalid_backends_agree(inv):
    native, ref = _both()
    assert _outcomes(native, inv[0], message=True) == _outcomes(ref, inv[0], message=True), inv.note


@settings(max_examples=60)
@given(btfgen.invalid_split())
def test_invalid_split_matches_rules(backend, pair):
    base, inv = pair
    _check_invalid(backend, inv, base)


@settings(max_examples=60)
@given(btfgen.invalid_split())
def test_invalid_split_backends_agree(pair):
    base, inv = pair
    native, ref = _both()
    native_out = _outcomes(native, inv[0], base, message=True)
    assert native_out == _outcomes(ref, inv[0], base, message=True), inv.note


# ---------------------------------------------------------------------------------------------
# hand-made boundary cases of docs/rules.md (expected outcome for (level, wide))

_INT = btfgen.T(btfgen.INT, "int", 4, data=[(btfgen.INT_SIGNED << 24) | 32])


def _chain(n: int, ascending: bool) -> bytes:
    """``n`` CONSTs chained to ``int`` (id 1): ids 2..n+1, pointing up or down."""
    if ascending:
        types = [btfgen.T(btfgen.CONST, None, i + 3) for i in range(n - 1)]
        types.append(btfgen.T(btfgen.CONST, None, 1))
    else:
        types = [btfgen.T(btfgen.CONST, None, i) for i in range(1, n + 1)]
    return btfgen.serialize(btfgen.Model([_INT, *types]))


def _big_strings(n: int) -> bytes:
    tab = btfgen.StrTab()
    tab.buf += b"a" * n + b"\0"
    return btfgen.serialize(btfgen.Model([_INT], strings=tab))


OK = ("ok", None)
V = "BtfValidationError"
BOUNDARIES = {
    # phase 2: 32 modifiers are allowed, the 33rd step fails; a walk stops below its start
    "chain32": (lambda: _chain(32, True), {}),
    "chain33": (lambda: _chain(33, True), {k: (V, 2) for k in ("strict", "module")}),
    "chain40_descending": (lambda: _chain(40, False), {}),
    # M1: vlen > 0xFFFF only with wide=True
    "vlen_0x10000": (
        lambda: btfgen.serialize(
            btfgen.Model(
                [
                    _INT,
                    btfgen.T(btfgen.UNION, "u", 4, data=[(f"m{i}", 1, 0) for i in range(0x10000)]),
                ]
            )
        ),
        {("strict", False): (V, 2), ("module", False): (V, 2)},
    ),
    # R12: an ARRAY's size fits in u32 (4-byte int: 0x3fffffff elements do, 0x40000000 not)
    "array_size_u32_max": (
        lambda: btfgen.serialize(
            btfgen.Model([_INT, btfgen.T(btfgen.ARRAY, None, 0, data=[(1, 1, 0x3FFFFFFF)])])
        ),
        {},
    ),
    "array_size_overflow": (
        lambda: btfgen.serialize(
            btfgen.Model([_INT, btfgen.T(btfgen.ARRAY, None, 0, data=[(1, 1, 0x40000000)])])
        ),
        {("strict", False): (V, 2), ("strict", True): (V, 2)},
    ),
    # R11: in a kflag struct an ENUM member without bitfield counts 32 bits, whatever its
    # size (btf_enum_check_kflag_member): 4 bytes of struct hold it, 3 do not
    **{
        f"kflag_enum_in_{size}": (
            lambda size=size: btfgen.serialize(
                btfgen.Model(
                    [
                        btfgen.T(btfgen.ENUM, "e", 1, data=[("A", 0)]),
                        btfgen.T(btfgen.STRUCT, "s", size, kflag=1, data=[("m", 1, 0)]),
                    ]
                )
            ),
            {} if size == 4 else {("strict", False): (V, 2), ("strict", True): (V, 2)},
        )
        for size in (3, 4)
    },
    # R13: the kernel follows only PTRs and modifiers from a PTR: a loop of those that holds
    # a PTR is "Loop detected" (a STRUCT in the loop stops it)
    "ptr_to_itself": (
        lambda: btfgen.serialize(btfgen.Model([_INT, btfgen.T(btfgen.PTR, None, 2)])),
        {("strict", False): (V, 2), ("strict", True): (V, 2)},
    ),
    **{
        f"ptr_loop_of_{n}": (
            lambda n=n: btfgen.serialize(
                btfgen.Model(
                    [_INT]
                    + [btfgen.T(btfgen.PTR, None, 3 + j) for j in range(n - 1)]
                    + [btfgen.T(btfgen.TYPEDEF, "t", 2)]
                )
            ),
            {("strict", False): (V, 2), ("strict", True): (V, 2)},
        )
        for n in (2, 70)
    },
    "ptr_loop_through_struct": (
        lambda: btfgen.serialize(
            btfgen.Model(
                [
                    _INT,
                    btfgen.T(btfgen.PTR, None, 3),
                    btfgen.T(btfgen.STRUCT, "s", 8, data=[("p", 2, 0)]),
                ]
            )
        ),
        {},
    ),
    # R6: a DATASEC entry must be a VAR (btf_datasec_resolve: "Not a VAR kind member")
    "datasec_func": (
        lambda: btfgen.serialize(
            btfgen.Model(
                [
                    _INT,
                    btfgen.T(btfgen.FUNC_PROTO, None, 0),
                    btfgen.T(btfgen.FUNC, "f", 2, vlen=1),
                    btfgen.T(btfgen.DATASEC, ".ksyms", 4, data=[(3, 0, 4)]),
                ]
            )
        ),
        {("strict", False): (V, 4), ("strict", True): (V, 4)},
    ),
    # R5: a FUNC's type must be the FUNC_PROTO itself, not a typedef of one (the typedef
    # alone is fine); both orders of the records
    "func_via_typedef": (
        lambda: btfgen.serialize(
            btfgen.Model(
                [
                    _INT,
                    btfgen.T(btfgen.FUNC_PROTO, None, 0),
                    btfgen.T(btfgen.TYPEDEF, "fn_t", 2),
                    btfgen.T(btfgen.FUNC, "f", 3),
                ]
            )
        ),
        {"strict": (V, 4)},
    ),
    "func_via_typedef_forward": (
        lambda: btfgen.serialize(
            btfgen.Model(
                [
                    _INT,
                    btfgen.T(btfgen.FUNC, "f", 3),
                    btfgen.T(btfgen.TYPEDEF, "fn_t", 4),
                    btfgen.T(btfgen.FUNC_PROTO, None, 0),
                ]
            )
        ),
        {"strict": (V, 2)},
    ),
    # R7: a DECL_TAG on a FUNC counts the entries of the FUNC's type whatever its kind
    # (btf_decl_tag_resolve); a FUNC without a FUNC_PROTO then fails R5 itself
    "decl_tag_on_func_of_struct": (
        lambda: btfgen.serialize(
            btfgen.Model(
                [
                    _INT,
                    btfgen.T(btfgen.DECL_TAG, "tag", 3, data=[1]),
                    btfgen.T(btfgen.FUNC, "f", 4),
                    btfgen.T(btfgen.STRUCT, "s", 8, data=[("a", 1, 0), ("b", 1, 32)]),
                ]
            )
        ),
        {"strict": (V, 3)},
    ),
    "typedef_of_func_proto": (
        lambda: btfgen.serialize(
            btfgen.Model(
                [_INT, btfgen.T(btfgen.FUNC_PROTO, None, 0), btfgen.T(btfgen.TYPEDEF, "fn_t", 2)]
            )
        ),
        {},
    ),
    # H6/H7: a longer header with a zero tail is fine
    "hdr_len_40": (lambda: btfgen.serialize(btfgen.Model([_INT], hdr_len=40)), {}),
    # G1: the last string offset must stay <= 0xFFFFFF
    # (str_len = 1 + (n + 1) + 4 for "int": n = 0xFFFFFA gives str_len 0x1000000)
    # (at strict level, G0 refuses the blob first: with its header and type it is past
    # BPF_BTF_LOAD's 16 MiB)
    "strings_max": (lambda: _big_strings(0xFFFFFA), {"strict": (V, None)}),
    "strings_too_large": (
        lambda: _big_strings(0xFFFFFB),
        {k: (V, None) for k in ("strict", "module")},
    ),
}


@pytest.mark.parametrize("case", sorted(BOUNDARIES))
def test_rule_boundaries(backend, case):
    make, expected = BOUNDARIES[case]
    data = make()
    btf = backend.Btf.from_bytes(data)
    for level in LEVELS:
        for wide in (False, True):
            want = expected.get((level, wide), expected.get(level, OK))
            got = _outcome(lambda level=level, wide=wide: btf.validate(level, wide=wide))
            assert got == want, (case, level, wide)
    assert btf.to_bytes() == data


# ---------------------------------------------------------------------------------------------
# a malformed base: a 300-link modifier chain and a modifier loop with a lead-in


def _base_with_long_chains() -> btfgen.Model:
    """[1] int, [2..301] CONSTs chained to [1], [302] -> [303] -> [304] -> [302] a loop of
    three modifier kinds, [305] -> [302] its lead-in."""
    chain = [btfgen.T(btfgen.CONST, None, i + 3 if i < 299 else 1) for i in range(300)]
    loop = [
        btfgen.T(btfgen.CONST, None, 303),
        btfgen.T(btfgen.VOLATILE, None, 304),
        btfgen.T(btfgen.TYPEDEF, "l", 302),
        btfgen.T(btfgen.VOLATILE, None, 302),
    ]
    return btfgen.Model([_INT, *chain, *loop])


@pytest.mark.parametrize("target", [2, 150, 301, 302, 303, 304, 305])
@pytest.mark.parametrize(
    "user", ["typedef", "member", "ptr_member", "array_index", "array_index_later_bad"]
)
def test_split_on_long_base_chains(target, user):
    """Split types that use base types at the head, middle and end of a long chain, on a
    loop and its lead-in: both backends give the same outcome at every level, the one
    the rules give (native builds its table of base chains here: the chain is longer
    than it walks on the spot)."""
    base_model = _base_with_long_chains()
    base = btfgen.serialize(base_model)
    start_str_off = btfgen.str_len_of(base_model)
    tab = btfgen.StrTab(start_str_off)
    own = {
        "typedef": [btfgen.T(btfgen.TYPEDEF, "t", target)],
        "member": [btfgen.T(btfgen.STRUCT, "s", 4, data=[("m", target, 0)])],
        "ptr_member": [
            btfgen.T(btfgen.PTR, None, target),
            btfgen.T(btfgen.STRUCT, "s", 8, data=[("m", 306, 0)]),
        ],
        "array_index": [btfgen.T(btfgen.ARRAY, None, 0, data=[(1, target, 2)])],
        # a later failure sends strict validation through the exact pass, which must
        # read the chain as the fast pass does
        "array_index_later_bad": [
            btfgen.T(btfgen.ARRAY, None, 0, data=[(1, target, 2)]),
            btfgen.T(btfgen.VAR, "v", 1, data=[0]),
            btfgen.T(btfgen.TYPEDEF, "t", 307),
        ],
    }[user]
    split = btfgen.serialize(
        btfgen.Model(own, start_id=306, start_str_off=start_str_off, strings=tab)
    )
    native, ref = _both()
    native_out, ref_out = _outcomes(native, split, base), _outcomes(ref, split, base)
    assert native_out == ref_out
    # A member needs a sized type and an array index a regular int: through the chain
    # both get int [1]; a loop never ends in either. Typedefs and pointers need neither.
    in_loop = target > 301
    fails = user in ("member", "array_index", "array_index_later_bad") and in_loop
    want = {key: OK for key in native_out}
    if fails:
        want["strict", False] = want["strict", True] = (V, 306)
    elif user == "array_index_later_bad":  # the TYPEDEF of a VAR
        want["strict", False] = want["strict", True] = (V, 308)
    assert native_out == want


# ---------------------------------------------------------------------------------------------
# split BTF on base FUNCs, FWDs and modifier chains (strict: the exact resolve pass)


def _base_with_funcs() -> btfgen.Model:
    """[1] int, [2] FUNC_PROTO int(void), [3] FUNC bf, [4] TYPEDEF of [3], [5] FWD foo,
    [6] TYPEDEF of [5]."""
    return btfgen.Model(
        [
            _INT,
            btfgen.T(btfgen.FUNC_PROTO, None, 1),
            btfgen.T(btfgen.FUNC, "bf", 2),
            btfgen.T(btfgen.TYPEDEF, "bf_t", 3),
            btfgen.T(btfgen.FWD, "foo"),
            btfgen.T(btfgen.TYPEDEF, "foo_t", 5),
        ]
    )


T_ = btfgen.T
SPLIT_ON_FUNCS = {
    # a base FUNC, resolved, stands for its FUNC_PROTO: a PTR or modifier may name it,
    # directly or through base modifiers (a 6.18 kernel accepts each, base and split
    # joined into one blob)
    "ptr_func": ([T_(btfgen.PTR, None, 3)], OK),
    "ptr_typedef_func": ([T_(btfgen.PTR, None, 4)], OK),
    "const_typedef_func": ([T_(btfgen.CONST, None, 4)], OK),
    # an own modifier on a base modifier of a FWD resolves to the FWD: a PTR may name it
    "ptr_typedef_fwd": ([T_(btfgen.TYPEDEF, "t", 6), T_(btfgen.PTR, None, 7)], OK),
    "with_trigger": (
        [T_(btfgen.TYPEDEF, "t", 6), T_(btfgen.PTR, None, 7), T_(btfgen.PTR, None, 3)],
        OK,
    ),
    # ... but a member may not: the STRUCT fails ("Invalid member"), not the CONST
    "member_typedef_fwd": (
        [T_(btfgen.CONST, None, 6), T_(btfgen.STRUCT, "s", 4, data=[("m", 7, 0)])],
        (V, 8),
    ),
}


@pytest.mark.parametrize("case", sorted(SPLIT_ON_FUNCS))
def test_split_on_base_funcs(case):
    own, want = SPLIT_ON_FUNCS[case]
    base_model = _base_with_funcs()
    base = btfgen.serialize(base_model)
    start_str_off = btfgen.str_len_of(base_model)
    tab = btfgen.StrTab(start_str_off)
    split = btfgen.serialize(
        btfgen.Model(own, start_id=7, start_str_off=start_str_off, strings=tab)
    )
    native, ref = _both()
    native_out, ref_out = _outcomes(native, split, base), _outcomes(ref, split, base)
    assert native_out == ref_out
    assert native_out["strict", False] == want
    assert native_out["module", False] == OK
