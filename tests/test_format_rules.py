"""The header, section and record rules of docs/rules.md §1, in both implementations, with
the kernel's words.

Each rejected case carries the words the kernel logs for it (BPF_BTF_LOAD on 6.18.44):
both backends must put them in their message, where the kernel's log line ends with them
("where: " before them and "(details)" after them are btfx's own), and word the whole
message alike. Where BPF_BTF_LOAD is permitted (root), the running kernel is asked too;
its words are held to the table on the 6.18 series it was read on.
"""

from __future__ import annotations

import errno
import platform
import struct
from typing import List, Optional

import bpf_btf_load
import btfx
import pytest
from bpf_btf_load import kernel_words
from btfx import reference
from btfx.errors import BtfError, BtfFormatError, BtfValidationError

BACKENDS = {"native": btfx, "reference": reference}

INT = (1 << 24, 4, 32)  # info, size, int_data of an INT named by the record's name_off
STRS = b"\0a\0"


def int_rec(name_off: int = 1) -> bytes:
    return struct.pack("<IIII", name_off, *INT)


def blob(
    types: bytes = b"",
    strs: bytes = STRS,
    hdr_len: int = 24,
    fields: Optional[tuple] = None,
    tail: bytes = b"",
    version: int = 1,
    flags: int = 0,
) -> bytes:
    """Little-endian BTF: header (zero-padded to ``hdr_len``), types, strings, ``tail``;
    ``fields`` overrides (type_off, type_len, str_off, str_len)."""
    if fields is None:
        fields = (0, len(types), len(types), len(strs))
    head = struct.pack("<HBBI4I", 0xEB9F, version, flags, hdr_len, *fields)
    return head.ljust(hdr_len, b"\0") + types + strs + tail


ONE = int_rec()


# (name, blob, section, type_id, the kernel's words)
REJECTED = [
    ("bad magic", b"\x12\x34" + blob(ONE)[2:], "header", None, "Invalid magic"),
    ("7 bytes", blob(ONE)[:7], "header", None, "hdr_len not found"),
    ("3 bytes, no magic", b"abc", "header", None, "hdr_len not found"),
    ("20 bytes", blob(ONE)[:20], "header", None, "btf_header not found"),
    ("hdr_len past the data", blob(ONE, hdr_len=24)[:4] + struct.pack("<I", 99) + blob(ONE)[8:],
     "header", None, "btf_header not found"),
    ("non-zero header tail", blob(ONE, hdr_len=40)[:36] + b"\1" + blob(ONE, hdr_len=40)[37:],
     "header", None, "Unsupported btf_header"),
    ("non-zero short tail", blob(ONE, hdr_len=28)[:24] + b"\5" + blob(ONE, hdr_len=28)[25:],
     "header", None, "Unsupported btf_header"),
    ("version 2", blob(ONE, version=2), "header", None, "Unsupported version"),
    ("flags 1", blob(ONE, flags=1), "header", None, "Unsupported flags"),
    ("no data", blob(strs=b""), "header", None, "No data"),
    ("empty types far away", blob(fields=(100, 0, 0, 3)), "types", None,
     "Invalid section offset"),
    ("strings far away", blob(ONE, fields=(0, 16, 1000, 3)), "strings", None,
     "Invalid section offset"),
    ("gap before strings", blob(ONE + b"\0" * 4, fields=(0, 16, 20, 3)), "strings", None,
     "Unsupported section found"),
    ("gap before types", blob(b"\0" * 4 + ONE, fields=(4, 16, 20, 3)), "types", None,
     "Unsupported section found"),
    ("data after the strings", blob(ONE, tail=b"\0" * 4), "header", None,
     "Unsupported section found"),
    ("overlap", blob(ONE, fields=(0, 16, 4, 15)), "strings", None, "Section overlap found"),
    ("empty types inside the strings", blob(fields=(2, 0, 0, 3)), "types", None,
     "Section overlap found"),
    ("types too long", blob(ONE, fields=(0, 1000, 16, 3)), "types", None,
     "Total section length too long"),
    ("strings too long", blob(ONE, fields=(0, 16, 16, 1000)), "strings", None,
     "Total section length too long"),
    ("empty strings before the types", blob(ONE, strs=b"", fields=(0, 16, 0, 0)), "strings",
     None, "String section is not at the end"),
    ("base strings empty", blob(ONE, strs=b"", fields=(0, 16, 16, 0)), "strings", None,
     "Invalid string section"),
    ("strings not NUL-terminated", blob(ONE, strs=b"\0a"), "strings", None,
     "Invalid string section"),
    ("base strings without the leading NUL", blob(ONE, strs=b"a\0"), "strings", None,
     "Invalid string section"),
    ("unaligned type_off", blob(fields=(3, 0, 0, 3)), "types", None, "Unaligned type_off"),
    ("cut record head", blob(ONE + ONE[:8]), "types", 2, "meta_left:8 meta_needed:12"),
    ("cut INT", blob(ONE[:12] + b"\0\0"), "types", 1, "meta_left:2 meta_needed:4"),
    ("cut FUNC_PROTO", blob(struct.pack("<III", 0, 13 << 24 | 100, 0) + bytes(24)), "types",
     1, "meta_left:24 meta_needed:800"),
    ("kind 0", blob(struct.pack("<IIII", 1, 0, 4, 32)), "types", 1, "Invalid kind:0"),
    ("kind 20", blob(struct.pack("<IIII", 1, 20 << 24, 4, 32)), "types", 1, "Invalid kind:20"),
    ("kind 31", blob(struct.pack("<IIII", 1, 31 << 24, 4, 32)), "types", 1, "Invalid kind:31"),
    ("info bit 29", blob(struct.pack("<IIII", 1, 0x21000000, 4, 32)), "types", 1,
     "Invalid btf_info:21000000"),
    ("vlen bit 16, cut STRUCT", blob(struct.pack("<III", 0, 0x04010000, 4)), "types", 1,
     "Invalid btf_info:4010000"),
    ("vlen bit 16, kind 20", blob(struct.pack("<III", 0, 0x14010000, 4)), "types", 1,
     "Invalid btf_info:14010000"),
    ("vlen bit 16, kind 0", blob(struct.pack("<III", 0, 0x00010000, 4)), "types", 1,
     "Invalid btf_info:10000"),
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "name, data, section, type_id, words", REJECTED, ids=[c[0] for c in REJECTED]
)
def test_rejected_in_the_kernels_words(backend, name, data, section, type_id, words):
    with pytest.raises(BtfFormatError) as ei:
        BACKENDS[backend].Btf.from_bytes(data)
    e = ei.value
    assert (e.section, e.type_id, kernel_words(e.message)) == (section, type_id, words), name


@pytest.mark.parametrize("name, data", [c[:2] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_both_word_it_alike(name, data):
    messages: List[str] = []
    for mod in BACKENDS.values():
        with pytest.raises(BtfError) as ei:
            mod.Btf.from_bytes(data)
        messages.append(ei.value.message)
    assert messages[0] == messages[1], name


def short_header(hdr_len: int, fields: tuple, body: bytes) -> bytes:
    """A header cut to ``hdr_len`` bytes, but never to fewer than the 8 bytes up to the
    hdr_len field (the kernel reads zeros for the fields past ``hdr_len``)."""
    head = struct.pack("<HBBI4I", 0xEB9F, 1, 0, hdr_len, *fields, *(0,) * (4 - len(fields)))
    return head[: max(hdr_len, 8)] + body


PTR = struct.pack("<III", 0, 2 << 24, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_header_fails_as_in_the_kernel(backend):
    """With the missing fields read as zeros, each short header fails the kernel's check
    it fails there (6.18.44); split BTF without strings would pass, and is refused."""
    mod = BACKENDS[backend]
    base = mod.Btf.from_bytes(blob(ONE))
    cases = [  # (hdr_len, fields, body, split, message)
        (16, (0, 100), ONE + STRS, False, "Total section length too long"),
        (12, (0,), ONE + STRS, False, "Unsupported section found"),
        (16, (0, 12), PTR, True, "String section is not at the end"),
        (0, (), ONE + STRS, False, "Invalid magic"),
        (20, (0, 12, 12), PTR, True, "Invalid hdr_len (20, below 24)"),
    ]
    for hdr_len, fields, body, split, message in cases:
        data = short_header(hdr_len, fields, body)
        with pytest.raises(BtfFormatError) as ei:
            mod.Btf.from_bytes(data, base if split else None)
        assert ei.value.message.startswith(message), (hdr_len, ei.value.message)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("hdr_len", [25, 26, 28, 31, 33, 34, 36, 39])
def test_any_header_length_with_a_zero_tail(backend, hdr_len):
    """The kernel (`btf_parse_hdr`) takes a header of any length whose bytes past the
    fields it knows are zero; the layout fields exist from 32 bytes on."""
    mod = BACKENDS[backend]
    data = blob(ONE, hdr_len=hdr_len)
    b = mod.Btf.from_bytes(data)
    assert b.header["hdr_len"] == hdr_len
    assert (b.header["layout_off"] is None) == (hdr_len < 32)
    assert b.to_bytes() == data
    assert mod.Btf.from_bytes(b.to_bytes("big")).to_bytes("little") == data
    assert b.dump() == mod.Btf.from_bytes(blob(ONE)).dump()
    b.validate()


@pytest.mark.parametrize("backend", BACKENDS)
def test_standalone_btf_without_types(backend):
    """Parses (libbpf writes such BTF), but the kernel refuses it as user BTF
    (`btf_parse_type_sec`: "No type found"); module BTF is split and may add none."""
    mod = BACKENDS[backend]
    b = mod.Btf.from_bytes(blob())
    with pytest.raises(BtfValidationError, match="^No type found") as ei:
        b.validate("strict")
    assert ei.value.type_id is None
    b.validate("module")
    base = mod.Btf.from_bytes(blob(ONE))
    split = mod.Btf.from_bytes(blob(strs=b""), base)
    assert len(split) == 0
    split.validate("strict")


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_sections_tie_as_the_kernel_sorts_them(backend):
    """`btf_check_sec_info` sorts by offset, then length: an empty section at the offset
    where another starts comes first and is fine."""
    mod = BACKENDS[backend]
    split_base = mod.Btf.from_bytes(blob(ONE))
    # split BTF: its types and an empty string section both at offset 0
    data = blob(struct.pack("<III", 0, 2 << 24, 1), strs=b"", fields=(0, 12, 0, 0))
    with pytest.raises(BtfFormatError, match="^String section is not at the end"):
        mod.Btf.from_bytes(data, split_base)  # tiles, but the strings must come last
    # and empty types at the strings' offset, as libbpf writes BTF without types
    assert len(mod.Btf.from_bytes(blob(fields=(0, 0, 0, 3)))) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_bpf_btf_load_size_limit(backend):
    """`BPF_BTF_LOAD` takes at most 16 MiB (`BTF_MAX_SIZE`; E2BIG without a log): strict
    validation refuses more, module level does not (G0)."""
    mod = BACKENDS[backend]
    limit = 16 << 20
    for size, ok in ((limit, True), (limit + 1, False)):
        strs = b"\0a\0" + bytes(size - 24 - 16 - 3)  # the one INT is named "a"
        b = mod.Btf.from_bytes(blob(ONE, strs=strs))
        b.validate("module")
        if ok:
            b.validate("strict")
            continue
        with pytest.raises(BtfValidationError) as ei:
            b.validate("strict")
        assert ei.value.message == f"BTF too large ({size} bytes; BPF_BTF_LOAD takes {limit})"
        assert (ei.value.section, ei.value.type_id) == ("header", None)


def test_split_in_the_other_byte_order():
    """Split BTF must be in its base's byte order: both backends refuse it, alike."""
    messages = []
    for mod in BACKENDS.values():
        base = mod.Btf.from_bytes(blob(ONE))
        split_le = blob(struct.pack("<III", 0, 2 << 24, 1), strs=b"")
        split_be = mod.Btf.from_bytes(split_le, base).to_bytes("big")
        with pytest.raises(BtfError) as ei:
            mod.Btf.from_bytes(split_be, base)
        assert type(ei.value) is BtfError
        messages.append(ei.value.message)
    assert messages[0] == messages[1] == "split BTF is big-endian but its base is little-endian"


#: The kernel release series the words above were read on (verifier messages do not change
#: within a stable series).
MEASURED_ON = "6.18"


def _running_kernel() -> bpf_btf_load.Kernel:
    why = bpf_btf_load.unavailable()
    if why:
        pytest.skip(why)
    return bpf_btf_load.Kernel()


@pytest.mark.parametrize(
    "name, data, section, type_id, words", REJECTED, ids=[c[0] for c in REJECTED]
)
def test_the_running_kernel_says_so(name, data, section, type_id, words):
    """The table above, loaded into the running kernel (BPF_BTF_LOAD)."""
    kernel = _running_kernel()
    if not platform.release().startswith(MEASURED_ON + "."):
        pytest.skip(f"the words were read on {MEASURED_ON}, this kernel is {platform.release()}")
    ok, _, log = kernel.load(data)
    assert not ok and log.endswith(words), (name, log)
    assert (type_id is None) == (not log.startswith("[")), (name, log)
    if type_id is not None:
        assert log.startswith(f"[{type_id}] "), (name, log)


def test_the_running_kernel_takes_what_btfx_takes():
    """Header lengths with a zero tail; standalone BTF without types and blobs past
    16 MiB are refused (G3, G0)."""
    kernel = _running_kernel()
    for hdr_len in (24, 25, 26, 28, 31, 33, 34, 36, 39):
        ok, _, log = kernel.load(blob(ONE, hdr_len=hdr_len))
        assert ok, (hdr_len, log)
    ok, _, log = kernel.load(blob())
    assert (ok, log) == (False, "No type found")
    limit = 16 << 20
    for size, want in ((limit, (True, 0)), (limit + 1, (False, errno.E2BIG))):
        ok, err, _ = kernel.load(blob(ONE, strs=b"\0a\0" + bytes(size - 24 - 16 - 3)))
        assert (ok, err) == want, size
