"""Reading ``.BTF`` / ``.BTF.base`` out of ELF files, and undoing module compression.

Uses pyelftools on an in-memory stream.  Every pyelftools failure is turned into a
:class:`BtfElfError`; the section header table is bounds-checked first so a hostile
``e_shnum`` / ``e_shentsize`` cannot make pyelftools loop for long.
"""

from __future__ import annotations

import gzip
import io
import lzma
import zlib
from typing import Tuple

from ..errors import BtfElfError
from ._layout import ByteOrder

ELF_MAGIC = b"\x7fELF"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"

# Decompressed output bigger than this is refused (a real vmlinux BTF is ~6 MiB,
# a whole debug vmlinux a few hundred MiB).
MAX_DECOMPRESSED = 1 << 30

_SHDR_SIZE = {1: 40, 2: 64}  # ELFCLASS32 / ELFCLASS64 section header sizes
_SHT_NOBITS = "SHT_NOBITS"


def is_compressed(data: bytes) -> bool:
    return data.startswith((XZ_MAGIC, ZSTD_MAGIC, GZIP_MAGIC))


def decompress(data: bytes) -> bytes:
    """Undo xz / zstd / gzip compression (magic sniffing), as for ``.ko.xz`` etc."""
    limit = MAX_DECOMPRESSED
    try:
        if data.startswith(XZ_MAGIC):
            xz = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            out = xz.decompress(data, max_length=limit + 1)
            if not xz.eof and len(out) <= limit:
                raise BtfElfError("Truncated xz data", section="compression")
        elif data.startswith(GZIP_MAGIC):
            gz = zlib.decompressobj(wbits=31)
            out = gz.decompress(data, limit + 1)
            if not gz.eof and len(out) <= limit:
                raise BtfElfError("Truncated gzip data", section="compression")
        elif data.startswith(ZSTD_MAGIC):
            try:
                import zstandard
            except ImportError:
                raise BtfElfError(
                    "zstd-compressed input needs the 'zstandard' package", section="compression"
                ) from None
            out = _zstd_decompress(zstandard, data, limit)
        else:
            return data
    except BtfElfError:
        raise
    except (lzma.LZMAError, zlib.error, gzip.BadGzipFile, EOFError, ValueError) as exc:
        raise BtfElfError(f"Cannot decompress input: {exc}", section="compression") from None
    except Exception as exc:  # zstandard.ZstdError and friends
        raise BtfElfError(f"Cannot decompress input: {exc}", section="compression") from None
    if len(out) > limit:
        raise BtfElfError("Decompressed input is too large", section="compression")
    return out


def _zstd_decompress(zstandard, data: bytes, limit: int) -> bytes:
    """All frames of a zstd stream; small input chunks keep each step's output bounded."""
    parts = []
    total = 0
    pos = 0
    while pos < len(data):
        dobj = zstandard.ZstdDecompressor().decompressobj()
        while not dobj.eof:
            if pos >= len(data):
                raise BtfElfError("Truncated zstd data", section="compression")
            chunk = data[pos : pos + 1024]
            pos += len(chunk)
            piece = dobj.decompress(chunk)
            total += len(piece)
            if total > limit:
                raise BtfElfError("Decompressed input is too large", section="compression")
            parts.append(piece)
        pos -= len(dobj.unused_data)
    return b"".join(parts)


def _check_section_table(data: bytes) -> None:
    """Bounds-check the ELF identification and section header table before pyelftools."""
    if len(data) < 16 or not data.startswith(ELF_MAGIC):
        raise BtfElfError("Not an ELF file", offset=0)
    ei_class, ei_data = data[4], data[5]
    if ei_class not in _SHDR_SIZE:
        raise BtfElfError(f"Bad ELF class {ei_class}", offset=4)
    if ei_data not in (1, 2):
        raise BtfElfError(f"Bad ELF data encoding {ei_data}", offset=5)
    order: ByteOrder = "little" if ei_data == 1 else "big"
    is64 = ei_class == 2
    ehdr_size = 64 if is64 else 52
    if len(data) < ehdr_size:
        raise BtfElfError("Truncated ELF header", offset=0)

    def word(off: int, size: int) -> int:
        return int.from_bytes(data[off : off + size], order)

    shoff = word(0x28, 8) if is64 else word(0x20, 4)
    shentsize = word(0x3A, 2) if is64 else word(0x2E, 2)
    shnum = word(0x3C, 2) if is64 else word(0x30, 2)
    if shoff == 0:
        raise BtfElfError("ELF file has no section header table", section=".BTF")
    if shentsize < _SHDR_SIZE[ei_class]:
        raise BtfElfError(f"Bad e_shentsize {shentsize}", offset=0x3A if is64 else 0x2E)
    if shoff + shentsize > len(data):
        raise BtfElfError("Section header table outside the file", offset=shoff)
    if shnum == 0:  # extended numbering: the count lives in section 0's sh_size
        shnum = word(shoff + 0x20, 8) if is64 else word(shoff + 0x14, 4)
    if shoff + shnum * shentsize > len(data):
        raise BtfElfError("Section header table outside the file", offset=shoff)


def _btf_order(blob: bytes) -> ByteOrder | None:
    if blob[:2] == b"\x9f\xeb":
        return "little"
    if blob[:2] == b"\xeb\x9f":
        return "big"
    return None


def read_elf_btf(data: bytes) -> Tuple[bytes, bytes | None]:
    """Return the contents of ``.BTF`` and ``.BTF.base`` (or None) of an ELF file.

    Works for ELF32/ELF64, either byte order, any ``e_type``.  Like libbpf
    ``btf_find_elf_sections`` it looks the sections up by name.  A BTF blob whose magic
    says the other byte order than the ELF's ``EI_DATA`` is refused (as cilium/ebpf does).
    """
    _check_section_table(data)
    try:
        from elftools.elf.elffile import ELFFile

        elf = ELFFile(io.BytesIO(data))
        elf_order = "little" if elf.little_endian else "big"
        found = {}
        for sec in elf.iter_sections():
            if sec.name in (".BTF", ".BTF.base") and sec.name not in found:
                if sec["sh_type"] == _SHT_NOBITS:
                    raise BtfElfError(f"{sec.name} has no data", section=sec.name)
                if sec["sh_offset"] + sec["sh_size"] > len(data):
                    raise BtfElfError(
                        f"{sec.name} runs past the end of the file",
                        section=sec.name,
                        offset=sec["sh_offset"],
                    )
                if sec.data_size > MAX_DECOMPRESSED:  # SHF_COMPRESSED: ch_size
                    raise BtfElfError(f"{sec.name} is too large", section=sec.name)
                blob = sec.data()
                found[sec.name] = (bytes(blob), sec["sh_offset"])
    except BtfElfError:
        raise
    except Exception as exc:  # ELFError, ELFParseError, struct/construct errors, ...
        raise BtfElfError(f"Malformed ELF file: {exc}") from None
    if ".BTF" not in found:
        raise BtfElfError("ELF file has no .BTF section", section=".BTF")
    for name, (blob, off) in found.items():
        order = _btf_order(blob)
        if order is not None and order != elf_order:
            raise BtfElfError(
                f"{name} byte order ({order}) does not match the ELF byte order ({elf_order})",
                section=name,
                offset=off,
            )
    base = found.get(".BTF.base")
    return found[".BTF"][0], (base[0] if base is not None else None)
