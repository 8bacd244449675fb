"""Checks of the pure-Python reference (``btfx.reference``) against docs/rules.md, real
kernel BTF and bpftool's raw dump."""

from __future__ import annotations

import gzip
import importlib
import lzma
import random
import shutil
import struct
import subprocess
import sys
import types
from pathlib import Path

import pytest

PYDIR = Path(__file__).resolve().parent.parent / "python"


def _import_reference():
    """Import ``btfx.reference`` even when the native module is not built yet.

    ``btfx/__init__.py`` imports ``btfx._native``; if that fails, load the reference
    under a bare package object and then drop that stand-in again so later
    ``import btfx`` calls behave as usual.
    """
    if str(PYDIR) not in sys.path:
        sys.path.insert(0, str(PYDIR))
    try:
        return importlib.import_module("btfx.reference"), importlib.import_module("btfx.errors")
    except ImportError:
        for name in [m for m in sys.modules if m == "btfx" or m.startswith("btfx.")]:
            del sys.modules[name]
        stand_in = types.ModuleType("btfx")
        stand_in.__path__ = [str(PYDIR / "btfx")]
        sys.modules["btfx"] = stand_in
        try:
            return (
                importlib.import_module("btfx.reference"),
                importlib.import_module("btfx.errors"),
            )
        finally:
            del sys.modules["btfx"]


ref, errors = _import_reference()
Btf = ref.Btf
BtfError = errors.BtfError
BtfFormatError = errors.BtfFormatError
BtfValidationError = errors.BtfValidationError
BtfElfError = errors.BtfElfError

VMLINUX = Path("/sys/kernel/btf/vmlinux")
BPFTOOL = shutil.which("bpftool")

# kind numbers
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST = range(1, 11)
RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(11, 20)


# ------------------------------------------------------------------------- blob builder
class Strs:
    """String section builder; offset 0 is the empty string."""

    def __init__(self, first: bytes = b"\0") -> None:
        self.data = bytearray(first)

    def __call__(self, s: str) -> int:
        off = len(self.data)
        self.data += s.encode() + b"\0"
        return off


def rec(kind, name_off=0, size_type=0, *extra, vlen=None, kflag=0):
    """One type record as u32 words; ``extra`` are the trailing words."""
    if vlen is None:
        vlen = 0
    info = (kflag << 31) | (kind << 24) | vlen
    return [name_off, info, size_type, *extra]


def make_blob(recs, strings, order="little", hdr_len=24, **over) -> bytes:
    fmt = "<" if order == "little" else ">"
    body = b"".join(struct.pack(f"{fmt}{len(r)}I", *r) for r in recs)
    strings = bytes(strings)
    h = {
        "type_off": 0,
        "type_len": len(body),
        "str_off": len(body),
        "str_len": len(strings),
        "layout_off": len(body),
        "layout_len": 0,
    }
    h.update(over)
    magic = over.pop("magic", 0xEB9F)
    head = struct.pack(
        f"{fmt}HBBIIIII",
        magic,
        over.get("version", 1),
        over.get("flags", 0),
        hdr_len,
        h["type_off"],
        h["type_len"],
        h["str_off"],
        h["str_len"],
    )
    if hdr_len >= 32:
        head += struct.pack(f"{fmt}II", h["layout_off"], h["layout_len"])
    head += bytes(hdr_len - len(head))
    return head + body + strings


def int_rec(s: Strs, name="int", size=4, bits=32, enc=1):
    return rec(INT, s(name), size, (enc << 24) | bits)


def base_blob(extra_recs=(), strs=None, **kw):
    """[1] INT 'int' followed by ``extra_recs``."""
    s = strs or Strs()
    recs = [int_rec(s)] + [r(s) if callable(r) else r for r in extra_recs]
    return make_blob(recs, s.data, **kw)


# ------------------------------------------------------------------------- ELF builder
def make_elf(sections, cls=64, order="little", e_type=1) -> bytes:
    """A minimal ELF with the given (name, data) PROGBITS sections and a .shstrtab."""
    e = "<" if order == "little" else ">"
    names = bytearray(b"\0")
    entries = []  # (name_off, sh_type, data)
    for name, data in list(sections) + [(".shstrtab", None)]:
        entries.append((len(names), 3 if data is None else 1, data))
        names += name.encode() + b"\0"
    ehsize, shentsize = (64, 64) if cls == 64 else (52, 40)
    out = bytearray(ehsize)
    offsets = []
    for _, _, data in entries:
        data = bytes(names) if data is None else data
        offsets.append((len(out), len(data)))
        out += data
    while len(out) % 8:
        out += b"\0"
    shoff = len(out)
    out += bytes(shentsize)  # section 0
    for (name_off, sh_type, _), (off, size) in zip(entries, offsets):
        if cls == 64:
            out += struct.pack(f"{e}IIQQQQIIQQ", name_off, sh_type, 0, 0, off, size, 0, 0, 1, 0)
        else:
            out += struct.pack(f"{e}IIIIIIIIII", name_off, sh_type, 0, 0, off, size, 0, 0, 1, 0)
    ident = b"\x7fELF" + bytes((2 if cls == 64 else 1, 1 if order == "little" else 2, 1))
    ident += bytes(16 - len(ident))
    shnum = len(entries) + 1
    if cls == 64:
        ehdr = struct.pack(
            f"{e}HHIQQQIHHHHHH", e_type, 247, 1, 0, 0, shoff, 0, 64, 0, 0, 64, shnum, shnum - 1
        )
    else:
        ehdr = struct.pack(
            f"{e}HHIIIIIHHHHHH", e_type, 247, 1, 0, 0, shoff, 0, 52, 0, 0, 40, shnum, shnum - 1
        )
    out[0:ehsize] = ident + ehdr
    return bytes(out)


# ------------------------------------------------------------------------- parse rules
def _fmt_err(data, base=None):
    with pytest.raises(BtfFormatError) as ei:
        Btf.from_bytes(data, base)
    return ei.value


def test_minimal_roundtrip_both_orders():
    for order in ("little", "big"):
        blob = base_blob(order=order)
        b = Btf.from_bytes(blob)
        assert b.byteorder == order
        assert len(b) == b.nr_types == 1
        assert b.to_bytes() == blob
        assert b.kind(1) == "INT" and b.type_name(1) == "int" and b.kind(0) == "UNKN"
        other = "big" if order == "little" else "little"
        assert Btf.from_bytes(b.to_bytes(other)).to_bytes(order) == blob
        assert b.dump() == "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n"
        b.validate()
        b.validate("module")


@pytest.mark.parametrize(
    "data, section",
    [
        (b"\x9f\xeb\x01\x00" + bytes(10), "header"),  # H5: hdr_len 0, so the magic reads as 0
        (base_blob()[:7], "header"),  # H1
        (base_blob()[:23], "header"),  # H3
        (b"\x00\x00" + base_blob()[2:], "header"),  # H2
        (base_blob(version=2), "header"),  # H6
        (base_blob(flags=1), "header"),  # H7
    ],
)
def test_header_rules(data, section):
    assert _fmt_err(data).section == section


def test_header_len_rules():
    blob = base_blob()
    bad = bytearray(blob)
    bad[4:8] = struct.pack("<I", len(blob) + 4)
    assert _fmt_err(bytes(bad)).section == "header"  # H3
    s = Strs()
    recs = [int_rec(s)]
    b24 = make_blob(recs, s.data)
    blob28 = b24[:4] + struct.pack("<I", 28) + b24[8:]
    assert _fmt_err(blob28).section == "header"  # H5: the record's name_off in the tail
    ok28 = make_blob(recs, s.data, hdr_len=28)
    assert Btf.from_bytes(ok28).to_bytes() == ok28
    ok36 = make_blob(recs, s.data, hdr_len=36)
    assert Btf.from_bytes(ok36).to_bytes() == ok36
    bad36 = bytearray(ok36)
    bad36[33] = 1
    assert _fmt_err(bytes(bad36)).section == "header"  # H5


def test_section_rules():
    s = Strs()
    recs = [int_rec(s)]
    tl, sl = 16, len(s.data)
    # T0 ("Unaligned type_off" comes after the section checks): the types one byte in
    blob = make_blob(recs, s.data, type_off=1, str_off=tl + 1)
    assert _fmt_err(blob[:24] + b"\0" + blob[24:]).section == "types"
    e = _fmt_err(make_blob(recs, s.data, hdr_len=32, layout_off=2, layout_len=4))
    assert e.section == "layout"  # L1 (the section checks pass: no room for it)
    e = _fmt_err(make_blob(recs, s.data, hdr_len=32, layout_off=tl, layout_len=6))
    assert e.section == "layout"  # H9: it runs past the data
    assert _fmt_err(make_blob(recs, s.data, str_len=sl + 1)).section == "strings"  # H9
    assert _fmt_err(make_blob(recs, s.data, type_len=tl + 4, str_off=tl + 4)).section  # H9
    # H9: data after the last section, overlap, trailing bytes
    assert _fmt_err(make_blob(recs, s.data, str_len=sl - 1)).section == "header"
    assert _fmt_err(make_blob(recs, s.data, str_off=tl - 4)).section == "strings"
    assert _fmt_err(make_blob(recs, s.data) + b"\0\0\0\0").section == "header"
    # S1: hdr_len 24 with the (4-byte padded) strings before the types
    s2 = Strs()
    recs2 = [int_rec(s2)]
    s2.data += b"\0" * (-len(s2.data) % 4)
    sl2 = len(s2.data)
    blob = make_blob(recs2, b"", hdr_len=24)
    data = blob[:8] + struct.pack("<IIII", sl2, tl, 0, sl2) + bytes(s2.data) + blob[24:]
    assert _fmt_err(data).section == "strings"
    # ... while a 32-byte header may order its sections freely; to_bytes canonicalizes.
    blob32 = make_blob(recs2, b"", hdr_len=32)
    data32 = (
        blob32[:8] + struct.pack("<IIIIII", sl2, tl, 0, sl2, 0, 0) + bytes(s2.data) + blob32[32:]
    )
    b = Btf.from_bytes(data32)
    canon = b.to_bytes()
    assert canon != data32 and Btf.from_bytes(canon).to_bytes() == canon
    assert b.dump() == Btf.from_bytes(canon).dump()


def test_layout_section_roundtrip_and_swap():
    s = Strs()
    recs = [int_rec(s)]
    layout = bytes([4, 0, 0x12, 0x34, 0, 12, 0x56, 0x78])
    blob = make_blob(recs, b"", hdr_len=32, layout_off=16, layout_len=8, str_off=24)
    blob = blob + layout + bytes(s.data)
    blob = bytearray(blob)
    blob[16:24] = struct.pack("<II", 24, len(s.data))
    blob = bytes(blob)
    b = Btf.from_bytes(blob)
    assert b.header["layout_len"] == 8 and b.layout == layout
    assert b.to_bytes() == blob
    big = b.to_bytes("big")
    assert big[32 + 16 : 32 + 24] == bytes([4, 0, 0x34, 0x12, 0, 12, 0x78, 0x56])
    assert big[32 + 24 :] == bytes(s.data)
    assert Btf.from_bytes(big).to_bytes("little") == blob


def test_string_rules():
    s = Strs()
    recs = [int_rec(s)]
    assert _fmt_err(make_blob(recs, bytes(s.data) + b"x")).section == "strings"  # S2
    assert _fmt_err(make_blob(recs, b"x" + bytes(s.data))).section == "strings"  # S2
    assert _fmt_err(make_blob(recs, b"")).section == "strings"  # S2: empty base strings
    assert _fmt_err(make_blob([], b"")).section == "header"  # H8: no data at all
    base = Btf.from_bytes(base_blob())
    split_strs = Strs(first=b"")
    split = make_blob([rec(PTR, 0, 1)], split_strs.data)  # split may have no strings
    b = Btf.from_bytes(split, base)
    assert b.start_id == 2 and b.start_str_off == len(base.strings) and b.is_split


def test_type_record_rules():
    s = Strs()
    e = _fmt_err(make_blob([int_rec(s), [0, 0]], s.data))  # T1
    assert e.type_id == 2 and e.section == "types"
    e = _fmt_err(make_blob([int_rec(s), rec(0)], s.data))  # T2: kind 0
    assert e.type_id == 2
    e = _fmt_err(make_blob([int_rec(s), rec(20)], s.data))  # T2: kind 20
    assert e.type_id == 2
    e = _fmt_err(make_blob([int_rec(s), rec(STRUCT, 0, 4, 0, 1, 0, vlen=2)], s.data))  # T3
    assert e.type_id == 2 and e.kind == "STRUCT"
    e = _fmt_err(make_blob([int_rec(s), rec(STRUCT, 0, 4, vlen=0xFFFFFF)], s.data))  # T3
    assert e.type_id == 2
    base = Btf.from_bytes(base_blob())
    e = _fmt_err(make_blob([rec(PTR, 0, 1), rec(99)], b""), base)
    assert e.type_id == 3  # ids continue after the base


# ------------------------------------------------------------------------- validation
def _val_err(recs_or_blob, level="strict", base=None, wide=False):
    blob = recs_or_blob if isinstance(recs_or_blob, bytes) else base_blob(recs_or_blob)
    b = Btf.from_bytes(blob, base)
    with pytest.raises(BtfValidationError) as ei:
        b.validate(level, wide=wide)
    return ei.value


def _ok(recs, level="strict"):
    Btf.from_bytes(base_blob(recs)).validate(level)


def test_phase0_limits():
    s = Strs()
    big = make_blob([int_rec(s)], bytes(s.data) + bytes(0x1000000))
    e = _val_err(big, "module")
    assert e.type_id is None and e.section == "strings"  # G1
    base = Btf.from_bytes(base_blob())
    fake_base = Btf(
        byteorder="little",
        header=base.header,
        types=[base.types[0]] * 0xFFFFF,  # ids 1..MAX_ID, without building 12 MB
        strings=base.strings,
        layout=None,
        base=None,
    )
    e = _val_err(make_blob([rec(PTR, 0, 1)], b""), "module", base=fake_base)
    assert e.type_id == 0xFFFFF + 1  # G2


def test_vlen_limit_and_wide():
    members = [0, 1, 0] * 0x10000
    recs = [lambda s: rec(STRUCT, 0, 4, *members, vlen=0x10000)]
    e = _val_err(recs, "module")
    assert e.type_id == 2 and e.kind == "STRUCT"  # M1
    Btf.from_bytes(base_blob(recs)).validate("strict", wide=True)


META_FAILURES = [
    # (description, extra records after [1] INT 'int')
    ("M2 name_off", [rec(PTR, 9999, 1)]),
    ("INT kflag", [lambda s: rec(INT, s("i"), 4, 32, kflag=1)]),
    ("INT vlen", [lambda s: rec(INT, s("i"), 4, 32, vlen=1)]),
    ("INT high bits", [lambda s: rec(INT, s("i"), 4, 0x10000020)]),
    ("INT bits+offset", [lambda s: rec(INT, s("i"), 16, (1 << 16) | 128)]),
    ("INT size", [lambda s: rec(INT, s("i"), 2, 32)]),
    ("INT encoding", [lambda s: rec(INT, s("i"), 4, (3 << 24) | 32)]),
    ("PTR name", [lambda s: rec(PTR, s("p"), 1)]),
    ("PTR kflag", [rec(PTR, 0, 1, kflag=1)]),
    ("CONST bad id", [rec(CONST, 0, 0x100000)]),
    ("TYPEDEF name", [lambda s: rec(TYPEDEF, s("1x"), 1)]),
    ("TYPEDEF anon", [rec(TYPEDEF, 0, 1)]),
    ("TYPE_TAG empty", [rec(TYPE_TAG, 0, 1)]),
    ("FWD type", [lambda s: rec(FWD, s("f"), 1)]),
    ("FWD name", [lambda s: rec(FWD, s("a-b"), 0)]),
    ("ARRAY name", [lambda s: rec(ARRAY, s("a"), 0, 1, 1, 2)]),
    ("ARRAY size", [rec(ARRAY, 0, 8, 1, 1, 2)]),
    ("ARRAY elem 0", [rec(ARRAY, 0, 0, 0, 1, 2)]),
    ("ARRAY index 0", [rec(ARRAY, 0, 0, 1, 0, 2)]),
    ("STRUCT name", [lambda s: rec(STRUCT, s("a b"), 4)]),
    ("member name_off", [rec(STRUCT, 0, 4, 9999, 1, 0, vlen=1)]),
    ("member name", [lambda s: rec(STRUCT, 0, 4, s("9"), 1, 0, vlen=1)]),
    ("member type 0", [rec(STRUCT, 0, 4, 0, 0, 0, vlen=1)]),
    ("member decreasing", [rec(STRUCT, 0, 8, 0, 1, 32, 0, 1, 0, vlen=2)]),
    ("union offset", [rec(UNION, 0, 8, 0, 1, 32, vlen=1)]),
    ("member past size", [rec(STRUCT, 0, 4, 0, 1, 40, vlen=1)]),
    ("ENUM size", [rec(ENUM, 0, 3)]),
    ("ENUM value anon", [rec(ENUM, 0, 4, 0, 5, vlen=1)]),
    ("ENUM64 value name", [lambda s: rec(ENUM64, 0, 8, s("-"), 1, 2, vlen=1)]),
    ("FUNC_PROTO name", [lambda s: rec(FUNC_PROTO, s("p"), 1)]),
    ("FUNC_PROTO kflag", [rec(FUNC_PROTO, 0, 1, kflag=1)]),
    ("FUNC anon", [rec(FUNC_PROTO, 0, 1), rec(FUNC, 0, 2)]),
    ("FUNC linkage", [rec(FUNC_PROTO, 0, 1), lambda s: rec(FUNC, s("f"), 2, vlen=2)]),
    ("VAR linkage", [lambda s: rec(VAR, s("v"), 1, 2)]),
    ("VAR type 0", [lambda s: rec(VAR, s("v"), 0, 0)]),
    ("DATASEC size 0", [lambda s: rec(VAR, s("v"), 1, 1), lambda s: rec(DATASEC, s(".d"), 0)]),
    (
        "DATASEC name",
        [lambda s: rec(VAR, s("v"), 1, 1), lambda s: rec(DATASEC, s("\t"), 4, 2, 0, 4, vlen=1)],
    ),
    (
        "DATASEC overlap",
        [
            lambda s: rec(VAR, s("v"), 1, 1),
            lambda s: rec(DATASEC, s(".d"), 8, 2, 0, 4, 2, 2, 4, vlen=2),
        ],
    ),
    (
        "DATASEC entry size",
        [lambda s: rec(VAR, s("v"), 1, 1), lambda s: rec(DATASEC, s(".d"), 8, 2, 4, 8, vlen=1)],
    ),
    ("FLOAT size", [lambda s: rec(FLOAT, s("f"), 3)]),
    ("DECL_TAG empty", [rec(DECL_TAG, 0, 1, 0xFFFFFFFF)]),
    ("DECL_TAG idx", [lambda s: rec(DECL_TAG, s("t"), 1, 0xFFFFFFFE)]),
]


@pytest.mark.parametrize("desc, recs", META_FAILURES, ids=[d for d, _ in META_FAILURES])
def test_meta_rules(desc, recs):
    for level in ("module", "strict"):
        e = _val_err(recs, level)
        assert e.type_id == 1 + len(recs), desc
        assert e.kind is not None and e.section == "types"


def test_meta_allowed():
    _ok([lambda s: rec(TYPE_TAG, s("user"), 1, kflag=1), rec(PTR, 0, 2)])
    _ok([lambda s: rec(ENUM, s("e"), 4, s("A"), 0xFFFFFFFF, vlen=1, kflag=1)])
    _ok([lambda s: rec(FWD, s("u"), 0, kflag=1)])
    _ok([rec(STRUCT, 0, 4, 0, 1, (3 << 24) | 1, 0, 1, (2 << 24) | 4, vlen=2, kflag=1)])


def test_lowest_id_and_phase_order():
    # phase 1 failures at ids 3 and 5: 3 reported
    e = _val_err([rec(PTR, 0, 1), rec(ENUM, 0, 3), rec(PTR, 0, 1), rec(FLOAT, 0, 3)])
    assert e.type_id == 3
    # a phase-2 failure at id 2 loses to a phase-1 failure at id 4
    s = Strs()
    recs = [int_rec(s), rec(CONST, 0, 3), rec(TYPE_TAG, s("t"), 1), rec(ENUM, 0, 3)]
    e = _val_err(make_blob(recs, s.data), "module")
    assert e.type_id == 4
    # a phase-2 failure at id 2 (CONST -> TYPE_TAG) and a phase-3 one at id 4 (a FWD
    # member): module level reports phase 2; strict reports phase 3 first, as btf_parse
    # resolves every type before btf_check_type_tags
    s = Strs()
    recs = [
        int_rec(s),
        rec(CONST, 0, 3),
        rec(TYPE_TAG, s("t"), 1),
        rec(STRUCT, 0, 4, 0, 5, 0, vlen=1),
        rec(FWD, s("f"), 0),
    ]
    blob = make_blob(recs, s.data)
    e = _val_err(blob, "module")
    assert (e.type_id, e.message) == (2, "Type tags don't precede modifiers")
    e = _val_err(blob, "strict")
    assert e.type_id == 4 and e.message.endswith("Invalid member")


def test_type_tag_phase():
    s = Strs()
    # TYPEDEF -> TYPE_TAG -> int: tags must come first
    recs = [int_rec(s), rec(TYPEDEF, s("td"), 3), rec(TYPE_TAG, s("t"), 1)]
    e = _val_err(make_blob(recs, s.data), "module")
    assert e.type_id == 2
    # TYPE_TAG -> CONST -> int is fine
    recs = [int_rec(s), rec(TYPE_TAG, s("t"), 3), rec(CONST, 0, 1)]
    Btf.from_bytes(make_blob(recs, s.data)).validate("strict")
    # 32 chained modifiers pass, 33 fail
    for n, fails in ((32, False), (33, True)):
        chain = [rec(CONST, 0, 3 + i) for i in range(n - 1)] + [rec(CONST, 0, 1)]
        b = Btf.from_bytes(make_blob([int_rec(Strs())] + chain, Strs().data + b"int\0"))
        if fails:
            with pytest.raises(BtfValidationError) as ei:
                b.validate("module")
            assert ei.value.type_id == 2
        else:
            b.validate("module")
    # a modifier cycle and a dangling modifier are found at module level
    e = _val_err([rec(CONST, 0, 3), rec(VOLATILE, 0, 2)], "module")
    assert e.type_id == 2
    e = _val_err([rec(PTR, 0, 1), rec(CONST, 0, 50)], "module")
    assert e.type_id == 3


RESOLVE_FAILURES = [
    ("R1 PTR dangling", [rec(PTR, 0, 50)], 2),
    ("R1 member dangling", [rec(STRUCT, 0, 4, 0, 50, 0, vlen=1)], 2),
    ("R2 self array", [rec(ARRAY, 0, 0, 2, 1, 1)], 2),
    (
        "R2 reaches loop",
        [
            rec(STRUCT, 0, 4, 0, 3, 0, vlen=1),
            rec(STRUCT, 0, 4, 0, 4, 0, vlen=1),
            rec(TYPEDEF, 1, 3),  # name_off 1 -> "int"
        ],
        2,
    ),
    ("R3 member proto", [rec(FUNC_PROTO, 0, 1), rec(STRUCT, 0, 4, 0, 2, 0, vlen=1)], 3),
    ("R3 elem fwd", [lambda s: rec(FWD, s("f"), 0), rec(ARRAY, 0, 0, 2, 1, 1)], 3),
    ("R3 var void-ish", [rec(PTR, 0, 0), lambda s: rec(VAR, s("v"), 4, 1), rec(FUNC_PROTO)], 3),
    ("R4 index struct", [rec(STRUCT, 0, 4), rec(ARRAY, 0, 0, 1, 2, 1)], 3),
    ("R4 index bitfield", [lambda s: rec(INT, s("i"), 4, 7), rec(ARRAY, 0, 0, 1, 2, 1)], 3),
    ("R4 index 3 bytes", [lambda s: rec(INT, s("i"), 4, 24), rec(ARRAY, 0, 0, 1, 2, 1)], 3),
    ("R8 array of bitfield", [lambda s: rec(INT, s("i"), 4, 7), rec(ARRAY, 0, 0, 2, 1, 1)], 3),
    (
        "R8 array of typedef'd offset int",
        [
            lambda s: rec(INT, s("i"), 4, (1 << 16) | 8),
            lambda s: rec(TYPEDEF, s("t"), 2),
            rec(ARRAY, 0, 0, 3, 1, 1),
        ],
        4,
    ),
    ("R5 func type", [lambda s: rec(FUNC, s("f"), 1)], 2),
    (
        "R5 param anon",
        [rec(FUNC_PROTO, 0, 1, 0, 1, vlen=1), lambda s: rec(FUNC, s("f"), 2)],
        3,
    ),
    (
        "R9 varargs not last",
        [
            lambda s: rec(FUNC_PROTO, 0, 1, 0, 0, s("a"), 1, vlen=2),
            lambda s: rec(FUNC, s("f"), 2),
        ],
        2,
    ),
    ("R9 named void last", [lambda s: rec(FUNC_PROTO, 0, 1, s("a"), 0, vlen=1)], 2),
    ("R9 return fwd", [lambda s: rec(FWD, s("f"), 0), rec(FUNC_PROTO, 0, 2)], 3),
    (
        "R9 param fwd",
        [lambda s: rec(FWD, s("f"), 0), lambda s: rec(FUNC_PROTO, 0, 1, s("a"), 2, vlen=1)],
        3,
    ),
    ("R9 param name", [lambda s: rec(FUNC_PROTO, 0, 1, s("1a"), 1, vlen=1)], 2),
    ("R9 return past last_id", [rec(FUNC_PROTO, 0, 9)], 2),
    ("R6 datasec int", [lambda s: rec(DATASEC, s(".d"), 4, 1, 0, 4, vlen=1)], 2),
    ("R10 ptr to var", [lambda s: rec(VAR, s("v"), 1, 0), rec(PTR, 0, 2)], 3),
    (
        "R10 typedef of later var",
        [lambda s: rec(TYPEDEF, s("t"), 3), lambda s: rec(VAR, s("v"), 1, 0)],
        2,
    ),
    (
        "R10 const of datasec",
        [
            lambda s: rec(VAR, s("v"), 1, 0),
            lambda s: rec(DATASEC, s(".d"), 4, 2, 0, 4, vlen=1),
            rec(CONST, 0, 3),
        ],
        4,
    ),
    ("R7 tag on int", [lambda s: rec(DECL_TAG, s("t"), 1, 0xFFFFFFFF)], 2),
    (
        "R6 datasec func",
        [
            rec(FUNC_PROTO),
            lambda s: rec(FUNC, s("f"), 2),
            lambda s: rec(DATASEC, s(".d"), 4, 3, 0, 4, vlen=1),
        ],
        4,
    ),
    (
        "R6 datasec size",
        [lambda s: rec(VAR, s("v"), 1, 0), lambda s: rec(DATASEC, s(".d"), 4, 2, 0, 2, vlen=1)],
        3,
    ),
    ("R11 ptr unaligned", [rec(PTR, 0, 1), lambda s: rec(STRUCT, 0, 16, s("p"), 2, 4, vlen=1)], 3),
    ("R11 int exceeds", [lambda s: rec(STRUCT, 0, 4, s("a"), 1, 8, vlen=1)], 2),
    ("R11 float align", [lambda s: rec(FLOAT, s("d"), 8), rec(STRUCT, 0, 16, 0, 2, 32, vlen=1)], 3),
    (
        "R11 kflag irregular int",
        [lambda s: rec(INT, s("i5"), 1, 5), rec(STRUCT, 0, 4, 0, 2, 0, vlen=1, kflag=1)],
        3,
    ),
    ("R11 kflag bitfield", [rec(STRUCT, 0, 8, 0, 1, 33 << 24, vlen=1, kflag=1)], 2),
    (
        "R11 kflag enum 32 bits",
        [lambda s: rec(ENUM, s("e"), 1), rec(STRUCT, 0, 2, 0, 2, 0, vlen=1, kflag=1)],
        3,
    ),
    (
        "R11 kflag ptr bitfield",
        [rec(PTR, 0, 1), rec(STRUCT, 0, 16, 0, 2, 1 << 24, vlen=1, kflag=1)],
        3,
    ),
    ("R12 array size", [rec(ARRAY, 0, 0, 1, 1, 0x40000000)], 2),
    ("R12 nested", [rec(ARRAY, 0, 0, 1, 1, 4), rec(ARRAY, 0, 0, 2, 1, 0x10000000)], 3),
    (
        "R7 component",
        [rec(STRUCT, 0, 4, 0, 1, 0, vlen=1), lambda s: rec(DECL_TAG, s("t"), 2, 1)],
        3,
    ),
    (
        "R7 param component",
        [
            lambda s: rec(FUNC_PROTO, 0, 1, s("a"), 1, vlen=1),
            lambda s: rec(FUNC, s("f"), 2),
            lambda s: rec(DECL_TAG, s("t"), 3, 1),
        ],
        4,
    ),
]


@pytest.mark.parametrize(
    "desc, recs, bad_id", RESOLVE_FAILURES, ids=[d for d, _, _ in RESOLVE_FAILURES]
)
def test_resolve_rules(desc, recs, bad_id):
    Btf.from_bytes(base_blob(recs)).validate("module")
    e = _val_err(recs, "strict")
    assert e.type_id == bad_id, (desc, e)


def test_array_index_is_checked_before_its_element():
    # btf_array_resolve: a bad index wins over a bad element (R4 before R3 and R8)
    for elem in (rec(FUNC_PROTO), lambda s: rec(INT, s("i"), 4, 7)):
        e = _val_err([elem, lambda s: rec(FLOAT, s("f"), 4), rec(ARRAY, 0, 0, 2, 3, 1)])
        assert (e.type_id, e.message) == (4, "Invalid index")
    e = _val_err([lambda s: rec(INT, s("i"), 4, 7), rec(ARRAY, 0, 0, 2, 1, 1)])
    assert e.message == "Invalid array of int"


def test_resolve_allowed():
    # pointer cycle is fine; typedef'd index; varargs; tags on members and params
    _ok([rec(STRUCT, 0, 8, 0, 3, 0, vlen=1), rec(PTR, 0, 2)])
    # __int128 is a regular INT: as an index and as an element
    _ok([lambda s: rec(INT, s("i128"), 16, 128), rec(ARRAY, 0, 0, 2, 2, 1)])
    _ok([lambda s: rec(TYPEDEF, s("u32"), 1), rec(ARRAY, 0, 0, 1, 2, 4)])
    _ok(
        [
            lambda s: rec(FUNC_PROTO, 0, 1, s("a"), 1, 0, 0, vlen=2),
            lambda s: rec(FUNC, s("f"), 2, vlen=1),
            lambda s: rec(DECL_TAG, s("t"), 3, 0),
            lambda s: rec(VAR, s("v"), 1, 1),
            lambda s: rec(DATASEC, s(".data"), 8, 5, 0, 4, 5, 4, 4, vlen=2),
        ]
    )
    # R11: a kflag enum member counts 32 bits; a 2-byte FLOAT is 2-byte aligned
    _ok([lambda s: rec(ENUM64, s("e"), 8, vlen=0), rec(STRUCT, 0, 4, 0, 2, 0, vlen=1, kflag=1)])
    _ok([lambda s: rec(FLOAT, s("h"), 2), rec(STRUCT, 0, 4, 0, 2, 16, vlen=1)])
    # R6: a DATASEC resolves a later VAR and resumes after its entry, unchecked
    _ok([lambda s: rec(DATASEC, s(".d"), 4, 3, 0, 2, vlen=1), lambda s: rec(VAR, s("v"), 1, 0)])
    # R12: just below u32
    _ok([rec(ARRAY, 0, 0, 1, 1, 0x3FFFFFFF)])


def test_pointer_loops():
    # R13: PTRs and modifiers only, holding a PTR: both id orders, and a VAR into one
    for recs, bad in (
        ([rec(PTR, 0, 2)], 2),
        ([rec(PTR, 0, 3), lambda s: rec(TYPEDEF, s("t"), 2)], 2),
        ([lambda s: rec(TYPEDEF, s("t"), 3), rec(PTR, 0, 2)], 2),
        ([lambda s: rec(VAR, s("v"), 3, 0), rec(PTR, 0, 4), lambda s: rec(TYPEDEF, s("t"), 3)], 2),
    ):
        e = _val_err(recs)
        assert (e.type_id, e.message) == (bad, "Loop detected")
        Btf.from_bytes(base_blob(recs)).validate("module")
    # past a PTR, a loop of modifiers alone is met too (phase 2 rejects it at module level)
    e = _val_err(
        [rec(PTR, 0, 3), lambda s: rec(TYPEDEF, s("a"), 4), lambda s: rec(TYPEDEF, s("b"), 3)]
    )
    assert (e.type_id, e.message) == (2, "Loop detected")
    # a STRUCT stops at the PTR: the STRUCT resolves the loop's TYPEDEF (its size is the
    # PTR's), and the PTR's own search meets itself again: the kernel names the PTR
    e = _val_err(
        [rec(STRUCT, 0, 8, 0, 3, 0, vlen=1), lambda s: rec(TYPEDEF, s("t"), 4), rec(PTR, 0, 3)]
    )
    assert (e.type_id, e.message) == (4, "Loop detected")


def test_func_proto_is_never_on_the_resolve_stack():
    # btf_func_proto_check resolves its types on their own: a FUNC_PROTO returning (or
    # taking) a TYPEDEF of itself fails R9, not R2, in both id orders
    for recs, bad in (
        ([lambda s: rec(TYPEDEF, s("t"), 3), rec(FUNC_PROTO, 0, 2)], 3),
        ([rec(FUNC_PROTO, 0, 3), lambda s: rec(TYPEDEF, s("t"), 2)], 2),
    ):
        e = _val_err(recs)
        assert (e.type_id, e.message) == (bad, "Invalid return type")
    e = _val_err(
        [lambda s: rec(FUNC_PROTO, 0, 1, s("a"), 3, vlen=1), lambda s: rec(TYPEDEF, s("t"), 2)]
    )
    assert (e.type_id, e.message) == (2, "Invalid arg#1")
    # a FUNC_PROTO whose return type reaches a loop does not fail: that type does
    e = _val_err([rec(FUNC_PROTO, 0, 3), lambda s: rec(TYPEDEF, s("t"), 4), rec(CONST, 0, 3)])
    assert (e.type_id, e.message) == (3, "Loop detected")


def test_split_validation_uses_base():
    base = Btf.from_bytes(base_blob([rec(TYPE_TAG, 1, 1)]))  # [2] TYPE_TAG 'int' -> int
    s = Strs(first=b"")
    own_name = len(base.strings) + s("td")
    split = make_blob([rec(TYPEDEF, own_name, 2), rec(PTR, 0, 3)], s.data)
    b = Btf.from_bytes(split, base)
    assert b.start_id == 3 and b.type_name(3) == "td" and b.type_name(1) == "int"
    with pytest.raises(BtfValidationError) as ei:
        b.validate("module")  # TYPEDEF -> base TYPE_TAG
    assert ei.value.type_id == 3
    ok = make_blob([rec(PTR, 0, 2), rec(CONST, 0, 3)], b"")
    Btf.from_bytes(ok, base).validate("strict")


# ------------------------------------------------------------------------- dump details
def test_dump_kinds():
    s = Strs()
    recs = [
        int_rec(s),
        rec(ENUM, s("e"), 4, s("A"), 0xFFFFFFFF, vlen=1, kflag=1),
        rec(ENUM, s("u"), 4, s("B"), 0xFFFFFFFF, vlen=1),
        rec(ENUM64, s("e64"), 8, s("C"), 0xFFFFFFFE, 0xFFFFFFFF, vlen=1, kflag=1),
        rec(ENUM64, 0, 8, s("D"), 1, 2, vlen=1),
        rec(FWD, s("f"), 0, kflag=1),
        rec(VAR, s("v"), 1, 2),
        rec(DATASEC, s(".d"), 4, 7, 0, 4, 0, 0, 0, 99, 0, 0, vlen=3),
        rec(DECL_TAG, 12345, 1, 0xFFFFFFFF),
        rec(FUNC, s("g"), 0, vlen=3),
    ]
    out = Btf.from_bytes(make_blob(recs, s.data)).dump().splitlines()
    assert out[1:] == [
        "[2] ENUM 'e' encoding=SIGNED size=4 vlen=1",
        "\t'A' val=-1",
        "[3] ENUM 'u' encoding=UNSIGNED size=4 vlen=1",
        "\t'B' val=4294967295",
        "[4] ENUM64 'e64' encoding=SIGNED size=8 vlen=1",
        "\t'C' val=-2LL",
        "[5] ENUM64 '(anon)' encoding=UNSIGNED size=8 vlen=1",
        "\t'D' val=8589934593ULL",
        "[6] FWD 'f' fwd_kind=union",
        "[7] VAR 'v' type_id=1, linkage=extern",
        "[8] DATASEC '.d' size=4 vlen=3",
        "\ttype_id=7 offset=0 size=4 (VAR 'v')",
        "\ttype_id=0 offset=0 size=0 (UNKNOWN '(anon)')",
        "\ttype_id=99 offset=0 size=0",
        "[9] DECL_TAG '(invalid)' type_id=1 component_idx=-1",
        "[10] FUNC 'g' type_id=0 linkage=(unknown)",
    ]


def _edge_case_blob():
    s = Strs()
    bad_utf8 = len(s.data)
    s.data += b"n\xff\xfe\0"
    recs = [
        int_rec(s),
        rec(INT, s("weird"), 3, (7 << 24) | (5 << 16) | 9),
        rec(STRUCT, s("bf"), 8, s("x"), 1, (3 << 24) | 5, s("y"), 1, 0, vlen=2, kflag=1),
        rec(VAR, s("w"), 1, 7),
        rec(DECL_TAG, s("neg"), 1, 0xFFFFFFF0),
        rec(TYPE_TAG, s("tt"), 1, kflag=1),
        rec(FUNC_PROTO, 0, 0, 0, 0, s("p"), 55, vlen=2),
        rec(DATASEC, bad_utf8, 4, 5, 0, 0, 4, 1, 1, 0, 0, 0, 77, 0, 0, vlen=4),
        rec(ARRAY, 0, 0, 1, 1, 0xFFFFFFFF),
        rec(ENUM64, s("s64"), 8, s("M"), 0, 0x80000000, vlen=1, kflag=1),
        rec(RESTRICT, 0, 3),
        rec(VOLATILE, 0, 3),
        rec(FUNC, s("f"), 7, vlen=2),
    ]
    return make_blob(recs, s.data)


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed")
@pytest.mark.parametrize("order", ["little", "big"])
def test_dump_edge_cases_match_bpftool(tmp_path, order):
    b = Btf.from_bytes(_edge_case_blob())
    path = tmp_path / "edge.btf"
    path.write_bytes(b.to_bytes(order))
    expected = _bpftool("btf", "dump", "file", str(path), "format", "raw")
    assert b.dump().encode("utf-8", "surrogateescape") == expected


# ------------------------------------------------------------------------- ELF + compression
def test_elf_variants():
    s = Strs()
    for cls in (32, 64):
        for order in ("little", "big"):
            blob = make_blob([int_rec(s)], s.data, order=order)
            for e_type in (1, 2, 3):
                elf = make_elf([(".text", b"\0" * 4), (".BTF", blob)], cls, order, e_type)
                assert ref.read_elf_btf(elf) == (blob, None)
                b = Btf.from_bytes(elf)
                assert b.byteorder == order and b.to_bytes() == blob


def test_elf_errors():
    s = Strs()
    blob = make_blob([int_rec(s)], s.data)
    with pytest.raises(BtfElfError) as ei:
        ref.read_elf_btf(make_elf([(".text", b"x")]))
    assert ei.value.section == ".BTF"
    with pytest.raises(BtfElfError) as ei:
        ref.read_elf_btf(make_elf([(".BTF", blob)], order="big"))  # LE BTF in a BE ELF
    assert ei.value.section == ".BTF"
    good = make_elf([(".BTF", blob)])
    for cut in (4, 10, 20, 63, 64, len(good) - 1):
        with pytest.raises(BtfElfError):
            Btf.from_bytes(good[:cut])
    garbage = b"\x7fELF" + bytes([2, 1, 1]) + bytes(57) + b"\xff" * 64
    with pytest.raises(BtfElfError):
        Btf.from_bytes(garbage)


def test_elf_distilled_base():
    base_blob_ = base_blob()
    split = make_blob([rec(PTR, 0, 1)], b"")
    elf = make_elf([(".BTF", split), (".BTF.base", base_blob_)])
    assert ref.read_elf_btf(elf) == (split, base_blob_)
    b = Btf.from_bytes(elf)
    assert b.is_split and b.start_id == 2 and b.base.to_bytes() == base_blob_
    with pytest.raises(BtfElfError):
        Btf.from_bytes(elf, Btf.from_bytes(base_blob_))


def test_compressed_inputs(monkeypatch):
    s = Strs()
    blob = make_blob([int_rec(s)], s.data)
    elf = make_elf([(".BTF", blob)])
    for data in (gzip.compress(elf), lzma.compress(elf), gzip.compress(blob)):
        assert Btf.from_bytes(data).to_bytes() == blob
    for bad in (gzip.compress(elf)[:-12], lzma.compress(elf)[:30], b"\xfd7zXZ\x00junk"):
        with pytest.raises(BtfElfError):
            Btf.from_bytes(bad)
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        data = zstandard.ZstdCompressor().compress(elf)
        assert Btf.from_bytes(data).to_bytes() == blob
        with pytest.raises(BtfElfError):
            Btf.from_bytes(data[:-5])
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(BtfElfError, match="zstandard"):
        Btf.from_bytes(b"\x28\xb5\x2f\xfd" + bytes(16))


# ------------------------------------------------------------------------- robustness
def _exercise(data, base=None):
    try:
        b = Btf.from_bytes(data, base)
    except BtfError:
        return
    for level in ("module", "strict"):
        try:
            b.validate(level)
        except BtfValidationError:
            pass
    b.dump()
    for order in ("little", "big"):
        out = b.to_bytes(order)
        # split BTF is read on its base in the same byte order
        base = Btf.from_bytes(b.base.to_bytes(order)) if b.base is not None else None
        assert Btf.from_bytes(out, base).to_bytes(b.byteorder) == b.to_bytes()


def _sample_blob():
    s = Strs()
    recs = [
        int_rec(s),
        rec(PTR, 0, 3),
        rec(STRUCT, s("s"), 16, s("a"), 1, 0, 0, 2, 64, vlen=2),
        rec(ARRAY, 0, 0, 1, 1, 4),
        rec(ENUM, s("e"), 4, s("A"), 1, vlen=1),
        rec(FUNC_PROTO, 0, 1, s("x"), 2, 0, 0, vlen=2),
        rec(FUNC, s("f"), 6, vlen=1),
        rec(VAR, s("v"), 1, 1),
        rec(DATASEC, s(".data"), 4, 8, 0, 4, vlen=1),
        rec(DECL_TAG, s("tag"), 7, 0),
        rec(TYPE_TAG, s("user"), 1),
        rec(ENUM64, s("e64"), 8, s("B"), 1, 2, vlen=1),
        rec(FLOAT, s("double"), 8),
        rec(TYPEDEF, s("t"), 1),
        rec(FWD, s("fw"), 0),
    ]
    return make_blob(recs, s.data)


def test_sample_blob_is_valid():
    b = Btf.from_bytes(_sample_blob())
    b.validate("strict")
    assert len(b) == 15


def test_random_mutations_raise_only_btf_errors():
    rng = random.Random(1234)
    blob = _sample_blob()
    base = Btf.from_bytes(blob)
    for _ in range(1500):
        data = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if not data:
                break
            if op < 0.5:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif op < 0.8 and len(data) > 12:
                pos = rng.randrange(8, len(data) - 3) & ~3
                data[pos : pos + 4] = rng.randrange(1 << 32).to_bytes(4, "little")
            else:
                del data[rng.randrange(len(data)) :]
        _exercise(bytes(data))
        _exercise(bytes(data), base)
    elf = make_elf([(".BTF", blob)], 32, "little")
    for _ in range(300):
        data = bytearray(elf)
        data[rng.randrange(len(data))] = rng.randrange(256)
        _exercise(bytes(data))


# ------------------------------------------------------------------------- real data
def _bpftool(*args) -> bytes:
    return subprocess.run([BPFTOOL, *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def vmlinux():
    if not VMLINUX.exists():
        pytest.skip("/sys/kernel/btf/vmlinux is absent")
    return Btf.from_file(VMLINUX)


def test_vmlinux_roundtrip_and_validate(vmlinux):
    raw = VMLINUX.read_bytes()
    assert vmlinux.to_bytes() == raw
    assert Btf.from_bytes(vmlinux.to_bytes("big")).to_bytes("little") == vmlinux.to_bytes("little")
    vmlinux.validate("strict")
    vmlinux.validate("module")


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed")
def test_vmlinux_dump_matches_bpftool(vmlinux):
    expected = _bpftool("btf", "dump", "file", str(VMLINUX), "format", "raw")
    assert vmlinux.dump().encode("utf-8", "surrogateescape") == expected


def _module_paths():
    d = Path("/sys/kernel/btf")
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.name != "vmlinux")[:12]


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed")
def test_sysfs_modules_match_bpftool(vmlinux):
    mods = _module_paths()
    if not mods:
        pytest.skip(
            "no module BTF under this machine's /sys/kernel/btf (tests/kernel/test_kernel.py"
            "::test_sysfs_btf checks that of the Debian kernels it boots)"
        )
    for mod in mods:
        b = Btf.from_file(mod, vmlinux)
        expected = _bpftool("-B", str(VMLINUX), "btf", "dump", "file", str(mod), "format", "raw")
        assert b.dump().encode("utf-8", "surrogateescape") == expected, mod
        assert b.to_bytes() == mod.read_bytes()
        b.validate("module")


C_SOURCE = """
struct task_struct;
struct my_s { int a:3; unsigned b:5; long c; struct task_struct *t; char name[16];
              float f; double d; union { int x; short y; } u; };
enum my_e { A = -1, B = 5 };
enum my_e64 { C = 0x1ffffffffULL, D = 1 };
typedef struct my_s my_t;
struct fwd_only;
int my_func(my_t *p, const volatile struct fwd_only *q, enum my_e e, enum my_e64 e64)
{ return p->a + e + (int)e64; }
static int helper(int a, ...) { return a; }
int use(void) { return helper(1, 2); }
"""


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed")
def test_pahole_split_btf_matches_bpftool(vmlinux, tmp_path):
    if not (shutil.which("gcc") and shutil.which("pahole")):
        pytest.skip("gcc and pahole are needed to build split BTF")
    src = tmp_path / "m.c"
    src.write_text(C_SOURCE)
    for flags in ([], ["--btf_gen_all"]):
        obj = tmp_path / "m.o"
        subprocess.run(["gcc", "-g", "-O0", "-c", str(src), "-o", str(obj)], check=True)
        subprocess.run(["pahole", "-J", *flags, "--btf_base", str(VMLINUX), str(obj)], check=True)
        b = Btf.from_file(obj, vmlinux)
        assert b.start_id == vmlinux.nr_types + 1
        expected = _bpftool("-B", str(VMLINUX), "btf", "dump", "file", str(obj), "format", "raw")
        assert b.dump().encode() == expected
        assert b.to_bytes() == ref.read_elf_btf(obj.read_bytes())[0]
        b.validate("strict")
        gz = tmp_path / "m.o.gz"
        gz.write_bytes(gzip.compress(obj.read_bytes()))
        assert Btf.from_file(gz, vmlinux).dump() == b.dump()


BPF_SOURCE = r"""
#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __ttag(x) __attribute__((btf_type_tag(x)))
struct S { int a __tag("m0"); int *__ttag("user") p; unsigned long long big; } __tag("stag");
union U { int x; float f; };
enum SE { NEG = -5, POS = 7 };
struct S gs __attribute__((section(".data.custom")));
int counter = 1;
static volatile const int ro = 5;
union U uu;
enum SE sev;
double dd;
int __tag("ftag") func(struct S *s __tag("ptag"), int b) { return s->a + b + ro + counter; }
"""


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed")
@pytest.mark.parametrize("target", ["bpfel", "bpfeb"])
def test_clang_bpf_object_matches_bpftool(tmp_path, target):
    if not shutil.which("clang"):
        pytest.skip("clang is needed to build BPF objects")
    src = tmp_path / "p.c"
    src.write_text(BPF_SOURCE)
    obj = tmp_path / "p.o"
    subprocess.run(
        ["clang", "-target", target, "-g", "-O2", "-c", str(src), "-o", str(obj)], check=True
    )
    b = Btf.from_file(obj)
    assert b.byteorder == ("little" if target == "bpfel" else "big")
    expected = _bpftool("btf", "dump", "file", str(obj), "format", "raw")
    assert b.dump().encode() == expected
    assert b.to_bytes() == ref.read_elf_btf(obj.read_bytes())[0]
    with pytest.raises(BtfValidationError) as ei:  # clang leaves DATASEC sizes at 0
        b.validate("module")
    assert ei.value.kind == "DATASEC"
