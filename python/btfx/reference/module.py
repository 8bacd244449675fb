"""Kernel module containers, from the ELF specification: signature trailer, compression,
and replacing the contents of ELF sections.

The reference for ``btfx_core::module``; every rule below is applied in the same order as
there, so both give the same bytes or the same error class.

Signature (include/linux/module_signature.h, kernel ``mod_verify_sig``, kmod
``kmod_module_signature_info``)::

    [ ELF ][ signer ][ key id ][ signature ][ struct module_signature (12) ][ magic ]

Section replacement: same sizes patch in place; otherwise (ET_REL only) everything up
to the first resized section stays, and from there each section and header table in
file order goes to the next offset aligned to its ``sh_addralign`` (the word size for
header tables), with zero padding; sections without bytes take the current end, unaligned;
``sh_offset``, ``sh_size``, ``e_shoff``, ``e_phoff`` are updated; bytes after the last
item are dropped.
"""

from __future__ import annotations

import gzip
import lzma
import struct
from dataclasses import dataclass
from typing import List, Mapping, Optional, Tuple

from ..errors import BtfElfError
from .elf import ELF_MAGIC, decompress

MODULE_SIG_MAGIC = b"~Module signature appended~\n"
MODULE_SIGNATURE_SIZE = 12
PKEY_ID_PKCS7 = 2

SHT_NULL, SHT_PROGBITS, SHT_RELA, SHT_NOBITS, SHT_REL = 0, 1, 4, 8, 9
ET_REL = 1
SHN_XINDEX = 0xFFFF
PN_XNUM = 0xFFFF
MAX_MOVED_ALIGN = 1 << 20

# --- signature -----------------------------------------------------------------------


@dataclass
class ModuleSignature:
    trailer: bytes
    id_type: int
    algo: int
    hash: int
    sig_len: int
    signer: str


def split_signature(data: bytes) -> Tuple[bytes, Optional[ModuleSignature]]:
    """(ELF bytes, signature or None). A trailing magic needs a well-formed trailer:
    room for the struct (``mod_verify_sig``), ``sig_len`` != 0, and signer + key id +
    signature leaving at least one byte of module (``mod_check_sig``)."""
    if not data.endswith(MODULE_SIG_MAGIC):
        return data, None
    rest = len(data) - len(MODULE_SIG_MAGIC)
    if rest <= MODULE_SIGNATURE_SIZE:
        raise BtfElfError(f"module signature: only {rest} bytes before the magic", offset=0)
    ms_at = rest - MODULE_SIGNATURE_SIZE
    algo, hash_, id_type, signer_len, key_id_len = data[ms_at : ms_at + 5]
    (sig_len,) = struct.unpack_from(">I", data, ms_at + 8)
    if sig_len == 0:
        raise BtfElfError("module signature: sig_len is 0", offset=ms_at)
    total = sig_len + signer_len + key_id_len
    if total >= ms_at:
        raise BtfElfError("module signature: trailer leaves no module", offset=ms_at)
    elf_len = ms_at - total
    signer_bytes = data[elf_len : elf_len + signer_len]
    if signer_bytes:
        signer = signer_bytes.decode("utf-8", "replace")
    elif id_type == PKEY_ID_PKCS7:
        signer = _issuer_common_name(data[ms_at - sig_len : ms_at]) or ""
    else:
        signer = ""
    sig = ModuleSignature(bytes(data[elf_len:]), id_type, algo, hash_, sig_len, signer)
    return data[:elf_len], sig


def _tlv(data: bytes) -> Optional[Tuple[int, bytes, bytes]]:
    """One DER TLV (definite length, low tag numbers): (tag, content, rest)."""
    if len(data) < 2 or data[0] & 0x1F == 0x1F:
        return None
    tag, first, pos = data[0], data[1], 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or len(data) < 2 + n:
            return None
        length = int.from_bytes(data[2 : 2 + n], "big")
        pos += n
    if pos + length > len(data):
        return None
    return tag, data[pos : pos + length], data[pos + length :]


def _expect(data: bytes, tag: int) -> Optional[Tuple[bytes, bytes]]:
    t = _tlv(data)
    return (t[1], t[2]) if t is not None and t[0] == tag else None


def _issuer_common_name(der: bytes) -> Optional[str]:
    """Issuer commonName (OID 2.5.4.3) of the first SignerInfo of a PKCS#7 SignedData
    (RFC 2315 §9), what kmod's ``fill_pkcs7`` reports as the signer."""
    step = _expect(der, 0x30)  # ContentInfo
    step = step and _expect(step[0], 0x06)  # contentType
    step = step and _expect(step[1], 0xA0)  # [0] EXPLICIT
    step = step and _expect(step[0], 0x30)  # SignedData
    version = step and _tlv(step[0])
    step = version and _expect(version[2], 0x31)  # digestAlgorithms
    step = step and _expect(step[1], 0x30)  # contentInfo
    if not step:
        return None
    rest = step[1]
    while True:  # certificates [0], crls [1]
        t = _tlv(rest)
        if t is None or t[0] not in (0xA0, 0xA1):
            break
        rest = t[2]
    step = _expect(rest, 0x31)  # signerInfos
    step = step and _expect(step[0], 0x30)  # SignerInfo
    version = step and _tlv(step[0])
    step = version and _expect(version[2], 0x30)  # issuerAndSerialNumber
    step = step and _expect(step[0], 0x30)  # issuer Name
    if not step:
        return None
    name = step[0]
    while (rdn := _expect(name, 0x31)) is not None:
        attrs = rdn[0]
        while (attr := _expect(attrs, 0x30)) is not None:
            oid = _expect(attr[0], 0x06)
            if oid is None:
                return None
            if oid[0] == b"\x55\x04\x03":
                value = _tlv(oid[1])
                return value[1].decode("utf-8", "replace") if value else None
            attrs = attr[1]
        name = rdn[1]
    return None


# --- open / compress -----------------------------------------------------------------


def detect(data: bytes) -> str:
    if data.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if data.startswith(b"\x1f\x8b"):
        return "gzip"
    return "none"


def module_open(data: bytes) -> Tuple[bytes, str, Optional[bytes]]:
    """(ELF image, compression name, signature trailer or None) of a module file."""
    compression = detect(data)
    elf, sig = split_signature(decompress(data))
    _check_header(elf)
    return bytes(elf), compression, (sig.trailer if sig else None)


def compress(data: bytes, compression: str) -> bytes:
    """The containers kbuild writes: ``xz --check=crc32 --lzma2=dict=1MiB``, zstd, gzip."""
    if compression == "none":
        return bytes(data)
    if compression == "xz":
        filters = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 20}]
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=filters)
    if compression == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(write_checksum=True).compress(data)
    raise ValueError(f"unknown compression {compression!r}")


# --- ELF layout ----------------------------------------------------------------------


@dataclass
class _Section:
    index: int
    name: Optional[bytes]
    sh_type: int
    offset: int
    size: int
    align: int
    info: int

    @property
    def has_bytes(self) -> bool:
        return self.sh_type not in (SHT_NOBITS, SHT_NULL)

    @property
    def label(self) -> str:
        return (
            self.name.decode("utf-8", "replace")
            if self.name is not None
            else f"section {self.index}"
        )


@dataclass
class _Layout:
    is_64: bool
    endian: str
    e_type: int
    ehdr_size: int
    phoff: int
    phnum: int
    shoff: int
    sections: List[_Section]

    @property
    def shentsize(self) -> int:
        return 64 if self.is_64 else 40

    @property
    def phentsize(self) -> int:
        return 56 if self.is_64 else 32

    @property
    def word(self) -> int:
        return 8 if self.is_64 else 4


def _check_header(data: bytes) -> Tuple[bool, str]:
    """Identification, version and length of the ELF header: (is_64, struct endian)."""
    if not data.startswith(ELF_MAGIC):
        raise BtfElfError("not an ELF file (no \\x7fELF magic)", offset=0)
    if len(data) < 6 or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise BtfElfError("unsupported or truncated ELF identification", offset=0)
    is_64 = data[4] == 2
    if len(data) < (64 if is_64 else 52) or data[6] != 1:
        raise BtfElfError("invalid ELF header", offset=0)
    return is_64, ("<" if data[5] == 1 else ">")


def _parse(data: bytes) -> _Layout:
    is_64, en = _check_header(data)
    w = "Q" if is_64 else "I"
    shdr = struct.Struct(en + ("IIQQQQIIQQ" if is_64 else "IIIIIIIIII"))
    e_type = struct.unpack_from(en + "H", data, 16)[0]
    phoff, shoff = struct.unpack_from(en + w + w, data, 32 if is_64 else 28)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
        en + "HHHHH", data, 54 if is_64 else 42
    )

    def section_0() -> tuple:
        if shentsize != shdr.size or shoff + shdr.size > len(data):
            raise BtfElfError("invalid section header table", offset=shoff)
        return shdr.unpack_from(data, shoff)

    # object: FileHeader::section_headers / shnum (extended numbering in section 0).
    if shoff == 0:
        raise BtfElfError("ELF file has no section header table", offset=shoff)
    if shnum == 0:
        shnum = section_0()[5]
    if shnum == 0:
        raise BtfElfError("ELF file has no section header table", offset=shoff)
    if shentsize != shdr.size or shoff + shnum * shdr.size > len(data):
        raise BtfElfError("invalid section header table", offset=shoff)
    # object: FileHeader::shstrndx.
    if shstrndx == SHN_XINDEX:
        shstrndx = section_0()[6]
    if shstrndx == 0:
        raise BtfElfError("invalid e_shstrndx", offset=0)
    # object: FileHeader::program_headers.
    if phoff == 0:
        phnum = 0
    elif phnum == PN_XNUM:
        phnum = section_0()[7]
    if phnum:
        phsize = 56 if is_64 else 32
        if phentsize != phsize or phoff + phnum * phsize > len(data):
            raise BtfElfError("invalid program header table", offset=phoff)

    rows = [shdr.unpack_from(data, shoff + i * shdr.size) for i in range(shnum)]
    sections = [_Section(i, None, r[1], r[4], r[5], r[8], r[7]) for i, r in enumerate(rows)]
    for sec in sections[1:]:
        if sec.has_bytes and sec.offset + sec.size > len(data):
            raise BtfElfError(f"section {sec.index}: data outside the file", offset=sec.offset)
    if shstrndx >= shnum or not sections[shstrndx].has_bytes:
        raise BtfElfError(f"e_shstrndx {shstrndx} is not a section with data", offset=0)
    strtab = sections[shstrndx]
    strings = data[strtab.offset : strtab.offset + strtab.size]
    for sec, row in zip(sections, rows):
        nul = strings.find(b"\0", row[0])
        sec.name = strings[row[0] : nul] if row[0] < len(strings) and nul >= 0 else None
    endian = "little" if en == "<" else "big"
    ehdr = 64 if is_64 else 52
    return _Layout(is_64, endian, e_type, ehdr, phoff, phnum, shoff, sections)


# --- replacement ---------------------------------------------------------------------

# Item kinds, in tie-break rank order at equal offsets: header, tables, sections.
_HEADER, _PHDRS, _SHDRS = -3, -2, -1


@dataclass
class _Item:
    kind: int  # _HEADER, _PHDRS, _SHDRS or a section index
    offset: int
    size: int
    align: int


def _items(lay: _Layout) -> List[_Item]:
    items = [_Item(_HEADER, 0, lay.ehdr_size, 1)]
    if lay.phnum:
        items.append(_Item(_PHDRS, lay.phoff, lay.phnum * lay.phentsize, lay.word))
    items.append(_Item(_SHDRS, lay.shoff, len(lay.sections) * lay.shentsize, lay.word))
    for s in lay.sections[1:]:
        items.append(_Item(s.index, s.offset, s.size if s.has_bytes else 0, s.align))
    items.sort(key=lambda it: (it.offset, it.kind + 3))
    return items


def _label(lay: _Layout, kind: int) -> str:
    names = {_HEADER: "the ELF header", _PHDRS: "the program header table"}
    names[_SHDRS] = "the section header table"
    return names[kind] if kind < 0 else lay.sections[kind].label


def _check_overlaps(lay: _Layout, items: List[_Item], only: Optional[List[int]]) -> None:
    prev: Optional[_Item] = None
    for it in (it for it in items if it.size > 0):
        if prev is not None and it.offset < prev.offset + prev.size:

            def involved(kind: int) -> bool:
                return kind >= 0 and (only is None or kind in only)

            if only is None or involved(it.kind) or involved(prev.kind):
                raise BtfElfError(
                    f"{_label(lay, it.kind)} overlaps {_label(lay, prev.kind)}", offset=it.offset
                )
        if prev is None or it.offset + it.size > prev.offset + prev.size:
            prev = it


def _resolve(lay: _Layout, replacements: Mapping[str, bytes]) -> List[Tuple[_Section, bytes]]:
    out: List[Tuple[_Section, bytes]] = []
    for name, new in replacements.items():
        found = [s for s in lay.sections[1:] if s.name == name.encode()]
        if not found:
            raise BtfElfError(f"no section named {name} in the ELF file", section=name)
        if len(found) > 1:
            raise BtfElfError("more than one section has this name", section=name)
        sec = found[0]
        if sec.sh_type != SHT_PROGBITS:
            raise BtfElfError(
                "only SHT_PROGBITS contents can be replaced", section=name, offset=sec.offset
            )
        out.append((sec, bytes(new)))
    return out


def replace_sections(elf: bytes, replacements: Mapping[str, bytes]) -> bytes:
    """Replace the contents of the named SHT_PROGBITS sections (module docstring)."""
    lay = _parse(elf)
    targets = _resolve(lay, replacements)
    items = _items(lay)
    if all(sec.size == len(new) for sec, new in targets):
        _check_overlaps(lay, items, [sec.index for sec, _ in targets])
        out = bytearray(elf)
        for sec, new in targets:
            out[sec.offset : sec.offset + len(new)] = new
        return bytes(out)
    resized = [sec for sec, new in targets if sec.size != len(new)]
    if lay.e_type != ET_REL:
        raise BtfElfError(
            f"cannot resize the section in a linked image (e_type {lay.e_type}), only in ET_REL",
            section=resized[0].label,
        )
    _check_overlaps(lay, items, None)
    new_of = {sec.index: new for sec, new in targets}
    _check_relocations(elf, lay, new_of, {sec.index for sec in resized})
    return _relayout(elf, lay, items, new_of)


def _check_relocations(elf: bytes, lay: _Layout, new_of: dict, resized: set) -> None:
    """No REL/RELA entry (sh_info = target) may apply past a resized section's new end."""
    en = "<" if lay.endian == "little" else ">"
    for rel in lay.sections:
        if rel.sh_type not in (SHT_REL, SHT_RELA) or rel.info not in resized:
            continue
        entsize = {(True, True): 24, (True, False): 16, (False, True): 12, (False, False): 8}[
            (lay.is_64, rel.sh_type == SHT_RELA)
        ]
        fmt = en + ("Q" if lay.is_64 else "I")
        new_size = len(new_of[rel.info])
        for n in range(rel.size // entsize):
            (r_offset,) = struct.unpack_from(fmt, elf, rel.offset + n * entsize)
            if r_offset >= new_size:
                raise BtfElfError(
                    f"{rel.label}: relocation {n} applies past the new size",
                    section=rel.label,
                    offset=rel.offset,
                )


def _align_up(value: int, align: int) -> int:
    align = max(align, 1)
    return (value + align - 1) & ~(align - 1)


def _relayout(elf: bytes, lay: _Layout, items: List[_Item], new_of: dict) -> bytes:
    def new_size(it: _Item) -> int:
        return len(new_of[it.kind]) if it.kind in new_of else it.size

    first = next(k for k, it in enumerate(items) if it.kind in new_of and new_size(it) != it.size)
    offsets = [it.offset for it in items]
    # The prefix kept as is ends at the first resized section, or later if an earlier
    # item reaches past it (possible when that section was empty).
    copy_end = max([items[first].offset] + [it.offset + it.size for it in items[:first] if it.size])
    cursor = copy_end
    for k in range(first, len(items)):
        it = items[k]
        moves = k > first or it.offset < copy_end
        if moves and new_size(it) == 0:
            # No bytes: where it falls in the order, unaligned, inside the file.
            offsets[k] = cursor
        elif moves:
            if it.align > 1 and it.align & (it.align - 1):
                raise BtfElfError("sh_addralign is not a power of two", offset=it.offset)
            if it.align > MAX_MOVED_ALIGN:
                raise BtfElfError("sh_addralign is too large to move", offset=it.offset)
            offsets[k] = _align_up(cursor, it.align)
            if offsets[k] >= 1 << 64:
                raise BtfElfError("file offsets overflow", offset=it.offset)
        if new_size(it) > 0:
            cursor = offsets[k] + new_size(it)
            if cursor >= 1 << 64:
                raise BtfElfError("file offsets overflow", offset=it.offset)

    out = bytearray(elf[:copy_end])
    for it in items[:first]:
        if it.kind in new_of:
            out[it.offset : it.offset + it.size] = new_of[it.kind]
    for k in range(first, len(items)):
        it = items[k]
        data = new_of[it.kind] if it.kind in new_of else elf[it.offset : it.offset + it.size]
        if data:
            out += bytes(offsets[k] - len(out))
            out += data

    en = "<" if lay.endian == "little" else ">"
    fmt = en + ("Q" if lay.is_64 else "I")

    def put(at: int, value: int) -> None:
        if not lay.is_64 and value > 0xFFFFFFFF:
            raise BtfElfError("offset or size does not fit ELF32", offset=at)
        struct.pack_into(fmt, out, at, value)

    shoff = lay.shoff
    for k, it in enumerate(items):
        if it.kind == _PHDRS:
            put(0x20 if lay.is_64 else 0x1C, offsets[k])
        elif it.kind == _SHDRS:
            shoff = offsets[k]
            put(0x28 if lay.is_64 else 0x20, shoff)
    off_field, size_field = (24, 32) if lay.is_64 else (16, 20)
    for k, it in enumerate(items):
        if it.kind >= 0:
            at = shoff + it.kind * lay.shentsize
            if offsets[k] != it.offset:
                put(at + off_field, offsets[k])
            if it.kind in new_of:
                put(at + size_field, len(new_of[it.kind]))
    return bytes(out)
