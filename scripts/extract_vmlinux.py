#!/usr/bin/env python3
"""Get the vmlinux ELF and its ``.BTF`` section out of an x86 bzImage.

Usage::

    extract_vmlinux.py BZIMAGE OUT_VMLINUX OUT_BTF

Also importable: :func:`elf_sections` / :func:`elf_section` (a small ELF64/ELF32 section
reader) and :func:`decompress` are reused by ``build_corpus.py``.

Stdlib only, plus the ``zstandard`` package when the payload (or a module) is zstd.

bzImage layout (``Documentation/arch/x86/boot.rst``, "THE REAL-MODE KERNEL HEADER"):

* ``setup_sects`` (u8 at 0x1f1): number of 512-byte setup sectors after the boot sector
  (0 means 4); the protected-mode code starts at ``(setup_sects + 1) * 512``;
* ``header`` (u32 at 0x202) is ``"HdrS"``, ``version`` (u16 at 0x206) >= 0x208 for the
  payload fields;
* ``payload_offset`` (u32 at 0x248) is relative to the start of the protected-mode code,
  ``payload_length`` (u32 at 0x24c) is the compressed payload's length.

The compressed payload is recognised by its magic.  For xz and zstd the kernel build appends
the uncompressed size as 4 trailing bytes (``cmd_xzkern_with_size`` /
``cmd_zstd22_with_size``); the decompressors below stop at the end of the first stream and
ignore them.
"""

from __future__ import annotations

import lzma
import os
import struct
import sys
import zlib
from typing import Dict, NamedTuple, Tuple

XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"


class ExtractError(Exception):
    """The input is not what it should be."""


# ---------------------------------------------------------------------------
# decompression


def compression_of(data: bytes) -> str | None:
    """Name of the compression format ``data`` starts with, or None."""
    if data.startswith(XZ_MAGIC):
        return "xz"
    if data.startswith(ZSTD_MAGIC):
        return "zstd"
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    return None


def decompress(data: bytes) -> bytes:
    """Decompress the first xz / zstd / gzip stream of ``data``; trailing bytes are ignored."""
    fmt = compression_of(data)
    if fmt == "xz":
        d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        out = d.decompress(data)
        if not d.eof:
            raise ExtractError("truncated xz stream")
        return out
    if fmt == "zstd":
        try:
            import zstandard
        except ImportError as e:  # pragma: no cover - depends on the machine
            raise ExtractError("zstd data needs the Python package 'zstandard'") from e
        dctx = zstandard.ZstdDecompressor(max_window_size=1 << 31)
        dobj = dctx.decompressobj()
        out = dobj.decompress(data)
        if not dobj.eof:
            raise ExtractError("truncated zstd stream")
        return out
    if fmt == "gzip":
        z = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out = z.decompress(data)
        if not z.eof:
            raise ExtractError("truncated gzip stream")
        return out
    raise ExtractError(f"unknown compression (first bytes {data[:6].hex()})")


def read_maybe_compressed(path: str) -> bytes:
    """Read a file; ``*.xz`` / ``*.zst`` / ``*.gz`` are decompressed (e.g. ``.ko.xz``)."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith((".xz", ".zst", ".gz")):
        return decompress(data)
    return data


# ---------------------------------------------------------------------------
# ELF sections


class Section(NamedTuple):
    name: str
    type: int
    flags: int
    offset: int
    size: int
    align: int


SHT_NOBITS = 8


def elf_sections(data: bytes) -> Dict[str, Section]:
    """Section headers of an ELF file by name (first one wins on duplicate names).

    Handles ELF32/ELF64, either byte order, and the extended section numbering
    (``e_shnum == 0`` / ``e_shstrndx == SHN_XINDEX``) described in elf(5).
    """
    if len(data) < 16 or data[:4] != b"\x7fELF":
        raise ExtractError("not an ELF file")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise ExtractError(f"bad ELF ident (class {ei_class}, data {ei_data})")
    e = "<" if ei_data == 1 else ">"
    if ei_class == 2:
        ehdr_fmt, shdr_fmt = e + "HHIQQQIHHHHHH", e + "IIQQQQIIQQ"
    else:
        ehdr_fmt, shdr_fmt = e + "HHIIIIIHHHHHH", e + "IIIIIIIIII"
    ehdr_size = 16 + struct.calcsize(ehdr_fmt)
    if len(data) < ehdr_size:
        raise ExtractError("truncated ELF header")
    (_, _, _, _, _, shoff, _, _, _, _, shentsize, shnum, shstrndx) = struct.unpack_from(
        ehdr_fmt, data, 16
    )
    if shoff == 0:
        return {}
    shdr_size = struct.calcsize(shdr_fmt)
    if shentsize < shdr_size:
        raise ExtractError(f"bad e_shentsize {shentsize}")

    def shdr(i: int) -> Tuple[int, ...]:
        off = shoff + i * shentsize
        if off + shdr_size > len(data):
            raise ExtractError(f"section header {i} out of file")
        return struct.unpack_from(shdr_fmt, data, off)

    if shnum == 0 or shstrndx == 0xFFFF:
        first = shdr(0)
        if shnum == 0:
            shnum = first[5]  # sh_size of section 0 holds the real count
        if shstrndx == 0xFFFF:
            shstrndx = first[6]  # sh_link of section 0 holds the real index
    if shstrndx >= shnum:
        raise ExtractError("e_shstrndx out of range")
    strtab = shdr(shstrndx)
    str_off, str_size = strtab[4], strtab[5]
    if str_off + str_size > len(data):
        raise ExtractError("section name table out of file")
    names = data[str_off : str_off + str_size]

    out: Dict[str, Section] = {}
    for i in range(1, shnum):
        sh_name, sh_type, sh_flags, _addr, sh_offset, sh_size, _l, _i, sh_align, _es = shdr(i)
        end = names.find(b"\0", sh_name)
        if sh_name >= len(names) or end < 0:
            raise ExtractError(f"section {i}: bad name offset {sh_name}")
        name = names[sh_name:end].decode("latin-1")
        if sh_type != SHT_NOBITS and sh_offset + sh_size > len(data):
            raise ExtractError(f"section {name} out of file")
        out.setdefault(name, Section(name, sh_type, sh_flags, sh_offset, sh_size, sh_align))
    return out


def elf_section(data: bytes, name: str) -> bytes | None:
    """Contents of section ``name``, or None when the ELF file has no such section."""
    sec = elf_sections(data).get(name)
    if sec is None or sec.type == SHT_NOBITS:
        return None
    return data[sec.offset : sec.offset + sec.size]


# ---------------------------------------------------------------------------
# bzImage


def bzimage_payload(image: bytes) -> bytes:
    """The compressed kernel payload of an x86 bzImage."""
    if len(image) < 0x250:
        raise ExtractError("file too small for an x86 boot header")
    if image[0x202:0x206] != b"HdrS":
        raise ExtractError("no x86 boot protocol header ('HdrS' at 0x202)")
    (version,) = struct.unpack_from("<H", image, 0x206)
    if version < 0x208:
        raise ExtractError(f"boot protocol {version:#x} has no payload fields (needs >= 2.08)")
    setup_sects = image[0x1F1] or 4
    pm_start = (setup_sects + 1) * 512
    payload_offset, payload_length = struct.unpack_from("<II", image, 0x248)
    start = pm_start + payload_offset
    end = start + payload_length
    if payload_length == 0 or end > len(image):
        raise ExtractError(
            f"payload [{start:#x}, {end:#x}) does not fit the {len(image):#x}-byte image"
        )
    return image[start:end]


def extract(bzimage_path: str, vmlinux_path: str, btf_path: str) -> Dict[str, object]:
    """Write the vmlinux ELF and its ``.BTF`` section; return facts for the manifest."""
    with open(bzimage_path, "rb") as f:
        image = f.read()
    payload = bzimage_payload(image)
    fmt = compression_of(payload)
    vmlinux = decompress(payload)
    btf = elf_section(vmlinux, ".BTF")
    if btf is None:
        raise ExtractError("vmlinux has no .BTF section")
    _write_atomic(vmlinux_path, vmlinux)
    _write_atomic(btf_path, btf)
    return {
        "compression": fmt,
        "vmlinux_size": len(vmlinux),
        "btf_size": len(btf),
        "has_btf_ids": elf_section(vmlinux, ".BTF_ids") is not None,
    }


def _write_atomic(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main(argv: list) -> int:
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    try:
        facts = extract(argv[1], argv[2], argv[3])
    except Exception as e:  # any failure is reported the same way
        print(f"extract_vmlinux: {argv[1]}: {e}", file=sys.stderr)
        return 1
    print(
        f"vmlinux: {facts['compression']} payload -> {facts['vmlinux_size']} bytes ELF, "
        f".BTF {facts['btf_size']} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
