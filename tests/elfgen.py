"""Small ELF files for tests, written directly with ``struct`` (hypothesis strategies).

An :class:`ElfSpec` lists sections (name, type, alignment, contents, ``sh_info``); the
builder places them in a chosen file order with optional extra gaps, optionally puts the
section header table in the middle, and fills alignment padding with non-zero bytes so
that tests notice padding that leaks into rewritten regions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import List, Optional

from hypothesis import strategies as st

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 1, 2, 3, 4, 8, 9
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
SHF_ALLOC, SHF_INFO_LINK = 0x2, 0x40


@dataclass
class Sec:
    name: str
    sh_type: int
    align: int
    data: bytes  # for SHT_NOBITS only its length counts
    info: int = 0
    link: int = 0
    flags: int = 0
    entsize: int = 0
    gap: int = 0  # extra bytes before it in the file


@dataclass
class ElfSpec:
    is_64: bool
    big_endian: bool
    e_type: int
    sections: List[Sec]
    file_order: List[int]  # permutation of range(len(sections))
    shdr_after: Optional[int] = None  # put the section header table after this many sections
    machine: int = 62
    entries: List[int] = field(default_factory=list)  # relocation offsets (for reporting)

    @property
    def en(self) -> str:
        return ">" if self.big_endian else "<"


def build(spec: ElfSpec) -> bytes:
    """Assemble ``spec``: header, sections in ``file_order``, ``.shstrtab``, headers."""
    is64, en = spec.is_64, spec.en
    ehsize, shentsize = (64, 64) if is64 else (52, 40)
    names = bytearray(b"\0")
    name_off = []
    for s in spec.sections:
        name_off.append(len(names))
        names += s.name.encode() + b"\0"
    shstr_name = len(names)
    names += b".shstrtab\0"
    shnum = len(spec.sections) + 2
    out = bytearray(ehsize)
    offsets = [0] * len(spec.sections)
    shoff = None
    word = 8 if is64 else 4

    def pad_to(align: int, fill: int = 0xA5) -> None:
        while len(out) % max(align, 1):
            out.append(fill)

    def place_shdrs() -> int:
        pad_to(word)
        at = len(out)
        out.extend(bytes(shnum * shentsize))
        return at

    for n, i in enumerate(spec.file_order):
        if spec.shdr_after == n:
            shoff = place_shdrs()
        s = spec.sections[i]
        out.extend(b"\x5a" * s.gap)
        pad_to(s.align)
        offsets[i] = len(out)
        if s.sh_type != SHT_NOBITS:
            out.extend(s.data)
    strtab_off = len(out)
    out.extend(names)
    if shoff is None:
        shoff = place_shdrs()

    w = "Q" if is64 else "I"
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if spec.big_endian else 1, 1]) + bytes(9)
    out[:16] = ident
    struct.pack_into(en + "HHI", out, 16, spec.e_type, spec.machine, 1)
    struct.pack_into(en + w + w + w, out, 24, 0, 0, shoff)
    struct.pack_into(
        en + "IHHHHHH", out, 48 if is64 else 36, 0, ehsize, 0, 0, shentsize, shnum, shnum - 1
    )
    shdr = en + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    rows = [
        (
            name_off[i],
            s.sh_type,
            s.flags,
            0,
            offsets[i],
            len(s.data),
            s.link,
            s.info,
            s.align,
            s.entsize,
        )
        for i, s in enumerate(spec.sections)
    ]
    rows.append((shstr_name, SHT_STRTAB, 0, 0, strtab_off, len(names), 0, 0, 1, 0))
    for i, row in enumerate(rows):
        struct.pack_into(shdr, out, shoff + (i + 1) * shentsize, *row)
    return bytes(out)


def _word(spec_is64: bool, en: str, value: int) -> bytes:
    return struct.pack(en + ("Q" if spec_is64 else "I"), value)


@st.composite
def elf_specs(draw, e_type: Optional[int] = None) -> ElfSpec:
    """A relocatable-object-like file: .text + .rela.text, .data, .bss, .BTF, .BTF_ids,
    extra PROGBITS, .symtab/.strtab; random class, byte order, alignments, file order."""
    is64 = draw(st.booleans())
    be = draw(st.booleans())
    en = ">" if be else "<"
    align = st.sampled_from([0, 1, 2, 4, 8, 16, 64, 4096])
    blob = st.binary(min_size=0, max_size=300)
    text = draw(st.binary(min_size=1, max_size=200))
    secs: List[Sec] = [Sec(".text", SHT_PROGBITS, draw(align), text, flags=SHF_ALLOC | 4)]
    # .rela.text: entries inside .text (sh_info = 1, the .text index).
    rel_offsets = draw(st.lists(st.integers(0, len(text) - 1), max_size=6))
    rela_size = 24 if is64 else 12
    rela = b"".join(_word(is64, en, o).ljust(rela_size, b"\x01") for o in rel_offsets)
    use_rel = draw(st.booleans())
    if use_rel:
        rel_size = 16 if is64 else 8
        rela = b"".join(_word(is64, en, o).ljust(rel_size, b"\x02") for o in rel_offsets)
    secs.append(
        Sec(
            ".rel.text" if use_rel else ".rela.text",
            SHT_REL if use_rel else SHT_RELA,
            8 if is64 else 4,
            rela,
            info=1,
            flags=SHF_INFO_LINK,
            entsize=(16 if is64 else 8) if use_rel else rela_size,
        )
    )
    secs.append(Sec(".data", SHT_PROGBITS, draw(align), draw(blob), flags=SHF_ALLOC | 1))
    secs.append(Sec(".bss", SHT_NOBITS, draw(align), bytes(draw(st.integers(0, 5000)))))
    secs.append(Sec(".BTF", SHT_PROGBITS, draw(st.sampled_from([1, 4, 8])), draw(blob)))
    secs.append(
        Sec(".BTF_ids", SHT_PROGBITS, draw(st.sampled_from([1, 4])), draw(blob), flags=SHF_ALLOC)
    )
    for n in range(draw(st.integers(0, 3))):
        secs.append(Sec(f".extra{n}", SHT_PROGBITS, draw(align), draw(blob)))
    secs.append(Sec(".empty", SHT_PROGBITS, draw(align), b""))
    symsize = 24 if is64 else 16
    nsyms = draw(st.integers(1, 4))
    secs.append(
        Sec(".symtab", SHT_SYMTAB, 8 if is64 else 4, bytes(nsyms * symsize), entsize=symsize)
    )
    secs.append(Sec(".strtab", SHT_STRTAB, 1, b"\0sym\0"))
    secs[-2].link = len(secs)  # .symtab -> .strtab (index = position + 1)
    secs[1].link = len(secs) - 1  # .rela.text -> .symtab
    order = draw(st.permutations(list(range(len(secs)))))
    for s in secs:
        s.gap = draw(st.sampled_from([0, 0, 0, 3, 17]))
    shdr_after = draw(st.one_of(st.none(), st.integers(0, len(secs) - 1)))
    return ElfSpec(
        is_64=is64,
        big_endian=be,
        e_type=e_type if e_type is not None else ET_REL,
        sections=secs,
        file_order=order,
        shdr_after=shdr_after,
        entries=rel_offsets,
    )


def simple_spec(is_64: bool = True, big_endian: bool = False, e_type: int = ET_REL) -> ElfSpec:
    """A fixed small relocatable file (for example-based tests)."""
    en = ">" if big_endian else "<"
    rela_size = 24 if is_64 else 12
    rela = b"".join(_word(is_64, en, o).ljust(rela_size, b"\x01") for o in (0, 8, 30))
    symsize = 24 if is_64 else 16
    secs = [
        Sec(".text", SHT_PROGBITS, 16, bytes(range(40)), flags=SHF_ALLOC | 4),
        Sec(
            ".rela.text", SHT_RELA, 8, rela, info=1, link=8, flags=SHF_INFO_LINK, entsize=rela_size
        ),
        Sec(".data", SHT_PROGBITS, 64, b"data" * 5, flags=SHF_ALLOC | 1),
        Sec(".bss", SHT_NOBITS, 32, bytes(100)),
        Sec(".BTF", SHT_PROGBITS, 1, b"\x9f\xeb\x01\x00" + bytes(range(60))),
        Sec(".BTF_ids", SHT_PROGBITS, 1, bytes(20), flags=SHF_ALLOC),
        Sec(".empty", SHT_PROGBITS, 4, b""),
        Sec(".symtab", SHT_SYMTAB, 8, bytes(2 * symsize), link=9, entsize=symsize),
        Sec(".strtab", SHT_STRTAB, 1, b"\0sym\0"),
    ]
    order = [0, 2, 3, 4, 5, 6, 7, 8, 1]  # relocations last, as ld -r does
    return ElfSpec(is_64, big_endian, e_type, secs, order, entries=[0, 8, 30])
