"""Native ``btfx.BtfIds`` against the pure-Python reference on generated ELF files with
``.BTF_ids`` and symbols: same model, same fixed bytes, or the same error class."""

from __future__ import annotations

from typing import List, Optional, Tuple

from btfx.btf_ids import BtfIds
from btfx.errors import BtfError
from btfx.reference import btf_ids as R
from hypothesis import given
from hypothesis import strategies as st
from test_btf_ids import IDS_SHNDX, Sym, make_elf, words

NAMES = st.sampled_from(["a", "fa", "nf_conn___init", "__x", "s_t", "t"])


@st.composite
def layouts(draw) -> Tuple[bool, bool, bytes, List[Sym], Optional[int]]:
    """An ELF with a .BTF_ids of lone slots, sets and set8s; sometimes corrupted."""
    is_64, be = draw(st.booleans()), draw(st.booleans())
    ws: List[int] = []
    syms: List[Sym] = []
    ids = st.integers(0, 40)
    for n in range(draw(st.integers(0, 5))):
        off = 4 * len(ws)
        what = draw(st.sampled_from(["slot", "set", "set8"]))
        if what == "slot":
            kind = draw(st.sampled_from(["struct", "union", "typedef", "func"]))
            syms.append((f"__BTF_ID__{kind}__{draw(NAMES)}__{n}", off, 4, IDS_SHNDX))
            ws.append(draw(ids))
            continue
        count = draw(st.integers(0, 4))
        stride = 1 if what == "set" else 2
        syms.append((f"__BTF_ID__{what}__set{n}", off, 4 * stride * (count + 1), IDS_SHNDX))
        ws += [count] + ([draw(st.integers(0, 3))] if what == "set8" else [])
        for i in range(count):
            at = 4 * len(ws)
            syms.append((f"__BTF_ID__func__{draw(NAMES)}__{n}{i}", at, 4, IDS_SHNDX))
            ws += [draw(ids)] + ([draw(st.integers(0, 0xFF))] if what == "set8" else [])
    section_size = None
    corruption = draw(st.sampled_from(["none"] * 4 + ["sym", "size", "count", "prefix", "short"]))
    if corruption == "sym" and syms:
        i = draw(st.integers(0, len(syms) - 1))
        name, value, size, shndx = syms[i]
        syms[i] = (name, value + draw(st.sampled_from([2, 4 * len(ws) + 4])), size, shndx)
    elif corruption == "size" and syms:
        i = draw(st.integers(0, len(syms) - 1))
        name, value, size, shndx = syms[i]
        syms[i] = (name, value, size + draw(st.sampled_from([1, 4, 8])), shndx)
    elif corruption == "count" and ws:
        ws[0] += 1
    elif corruption == "prefix":
        syms.append(("__BTF_ID__bogus__x__1", 0, 4, IDS_SHNDX))
    elif corruption == "short":
        section_size = max(0, 4 * len(ws) - 4)
    return is_64, be, words(be, ws), syms, section_size


def _outcome(fn):
    try:
        return "ok", fn()
    except BtfError as e:
        return "error", type(e).__name__


@given(layouts(), st.lists(st.integers(0, 60), min_size=0, max_size=50))
def test_native_parse_and_fixup_agree_with_reference(layout, id_map) -> None:
    is_64, be, section, syms, section_size = layout
    elf = make_elf(is_64, be, section, syms, section_size)
    got = _outcome(lambda: BtfIds.from_bytes(elf))
    want = _outcome(lambda: R.parse_btf_ids(elf))
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1] == want[1]
        return
    native, ref = got[1], want[1]
    assert (native.big_endian, native.section_offset, native.section_size, native.entries) == (
        ref.big_endian,
        ref.section_offset,
        ref.section_size,
        ref.entries,
    )
    fixed_native = _outcome(lambda: native.fixup([0] + id_map))
    fixed_ref = _outcome(lambda: R.fixup(ref, R.section_bytes(elf, ref), [0] + id_map))
    assert fixed_native[0] == fixed_ref[0], (fixed_native, fixed_ref)
    if fixed_native[0] == "ok":
        assert fixed_native[1][0] == fixed_ref[1][0]
        assert fixed_native[1][1] == fixed_ref[1][1]
    else:
        assert fixed_native[1] == fixed_ref[1]
