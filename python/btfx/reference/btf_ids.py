"""Reference model of a module's ``.BTF_ids`` section: parse, check and fix-up.

``include/linux/btf_ids.h`` reserves zero words in ``.BTF_ids`` and names each with a
local symbol; the build's ``resolve_btfids`` fills in BTF type ids and sorts every set.
When btfx renumbers a module's BTF, :func:`fixup` maps those ids through the id map by
value and sorts every set again.

Symbols (everything else in the section, such as ``BTF_ID_LIST`` labels, is ignored):

* ``__BTF_ID__<kind>__<name>__<digits>``, kind in struct/union/typedef/func: one id word;
* ``__BTF_ID__set__<name>``: a count word and ``count`` ids, size ``4 * (count + 1)``;
* ``__BTF_ID__set8__<name>``: a count word, a set-flags word and ``count`` (id, flags)
  pairs, size ``8 * (count + 1)``.

Slot symbols inside a set are its members; the words under them are sorted, so a set is
only ever checked and remapped as a whole.
"""

from __future__ import annotations

import io
import re
import struct
from collections import Counter
from typing import Any, List, Optional, Sequence, Tuple, Union

from ..btf_ids_model import (
    PREFIX,
    SECTION,
    BtfIds,
    Entry,
    FixupReport,
    Member,
    Problem,
    Set,
    Set8,
    Slot,
)
from ..errors import BtfElfError, BtfError, BtfRebaseError

__all__ = [
    "SECTION",
    "Member",
    "Slot",
    "Set",
    "Set8",
    "BtfIds",
    "Problem",
    "FixupReport",
    "parse_btf_ids",
    "check",
    "fixup",
    "section_bytes",
]

SLOT_KINDS = ("struct", "union", "typedef", "func")
#: BTF kind name of the type a slot of each kind resolves to.
BTF_KIND = {"struct": "STRUCT", "union": "UNION", "typedef": "TYPEDEF", "func": "FUNC"}
_SLOT_RE = re.compile(r"(struct|union|typedef|func)__(.+)__([0-9]+)\Z", re.S)


# ---------------------------------------------------------------------------- parse


def _fail(sec_off: int, at: Optional[int], message: str) -> BtfElfError:
    return BtfElfError(f"{SECTION}: {message}", section=SECTION, offset=sec_off + (at or 0))


def _classify(full: str) -> Tuple[str, str, str]:
    """(what, kind, name): what is "set8", "set" or "slot". Raises ValueError."""
    rest = full[len(PREFIX) :]
    for what in ("set8", "set"):  # set8 first, as resolve_btfids does
        if rest.startswith(what + "__"):
            name = rest[len(what) + 2 :]
            if not name:
                raise ValueError(f"symbol {full} has no set name")
            return what, what, name
    word, sep, _ = rest.partition("__")
    if not sep or word not in SLOT_KINDS:
        raise ValueError(f"unsupported prefix in symbol {full}")
    m = _SLOT_RE.match(rest)
    if m is None:
        raise ValueError(f"symbol {full} does not end in __<digits>")
    return "slot", m.group(1), m.group(2)


def parse_btf_ids(elf_bytes: bytes) -> Optional[BtfIds]:
    """Parse ``.BTF_ids`` of an ELF file with its symbols; None if there is no section.

    Raises :class:`BtfElfError` for malformed ELF files, a ``.BTF_ids`` without a symbol
    table, and symbols that do not describe a consistent layout: symbols outside the
    section, set sizes that are not 4 (8) x (count + 1) or disagree with the count word,
    overlapping sets or slots, slots on a set's header words, unknown kinds.
    """
    from .elf import _check_section_table

    data = bytes(elf_bytes)
    _check_section_table(data)
    try:
        from elftools.elf.elffile import ELFFile

        elf = ELFFile(io.BytesIO(data))
        big_endian = not elf.little_endian
        index = None
        sec = None
        for i, s in enumerate(elf.iter_sections()):
            if s.name == SECTION:
                index, sec = i, s
                break
        if sec is None:
            return None
        sec_off, sec_size, sec_addr = sec["sh_offset"], sec["sh_size"], sec["sh_addr"]
        if sec["sh_type"] == "SHT_NOBITS":
            raise _fail(sec_off, None, "section is SHT_NOBITS and has no data in the file")
        if sec_off + sec_size > len(data):
            raise _fail(sec_off, None, "section data is past the end of the file")
        section = data[sec_off : sec_off + sec_size]
        symtab: Any = next((s for s in elf.iter_sections() if s["sh_type"] == "SHT_SYMTAB"), None)
        if symtab is None:
            raise _fail(sec_off, None, "module has .BTF_ids but no symbol table")
        raw = []
        for sym in symtab.iter_symbols():
            if sym["st_shndx"] != index:
                continue
            name = sym.name
            if not name.startswith(PREFIX):
                continue
            offset = sym["st_value"] - sec_addr
            if offset < 0:
                raise _fail(sec_off, None, f"symbol {name} lies before the section")
            try:
                what, kind, tname = _classify(name)
            except ValueError as e:
                raise _fail(sec_off, offset, str(e)) from None
            raw.append((name, offset, sym["st_size"], what, kind, tname))
    except BtfError:
        raise
    except Exception as exc:  # ELFError, struct/construct errors, UnicodeDecodeError, ...
        raise BtfElfError(f"Malformed ELF file: {exc}") from None
    return _build(sec_off, section, big_endian, raw)


def _build(sec_off: int, section: bytes, big_endian: bool, raw: list) -> BtfIds:
    size = len(section)
    fmt = ">I" if big_endian else "<I"

    def word(off: int) -> int:
        if off + 4 > size:
            raise _fail(sec_off, off, f"word at {off:#x} is past the end")
        return struct.unpack_from(fmt, section, off)[0]

    entries: List[Entry] = []
    sets: List[Tuple[int, int, int, Union[Set, Set8]]] = []  # (start, end, unit, entry)
    seen = set()
    for full, offset, st_size, what, _kind, name in raw:
        if what == "slot":
            continue
        unit = 8 if what == "set8" else 4
        if name in seen:
            raise _fail(sec_off, offset, f"set name {name} is used twice")
        seen.add(name)
        if offset + st_size > size:
            raise _fail(
                sec_off,
                offset,
                f"symbol {full} [{offset:#x}, +{st_size:#x}) lies outside the section "
                f"({size:#x} bytes)",
            )
        if st_size < unit or st_size % unit:
            raise _fail(
                sec_off, offset, f"symbol {full} has size {st_size}, not {unit} x (count + 1)"
            )
        count = st_size // unit - 1
        if word(offset) != count:
            raise _fail(
                sec_off,
                offset,
                f"set {full}: count word is {word(offset)} but the symbol size {st_size} "
                f"means {count} elements (not processed by resolve_btfids?)",
            )
        e: Union[Set, Set8]
        if what == "set8":
            pairs = [(word(offset + 8 + 8 * i), word(offset + 12 + 8 * i)) for i in range(count)]
            e = Set8(offset, name, count, word(offset + 4), pairs)
        else:
            e = Set(offset, name, count, [word(offset + 4 + 4 * i) for i in range(count)])
        sets.append((offset, offset + st_size, unit, e))
        entries.append(e)
    ordered = sorted(sets, key=lambda s: (s[0], s[1]))
    for a, b in zip(ordered, ordered[1:]):
        if b[0] < a[1]:
            raise _fail(sec_off, b[0], f"sets {a[3].symbol} and {b[3].symbol} overlap")

    lone = []
    for full, offset, _st_size, what, kind, name in raw:
        if what != "slot":
            continue
        if offset + 4 > size:
            raise _fail(
                sec_off,
                offset,
                f"symbol {full} at {offset:#x} lies outside the section ({size:#x} bytes)",
            )
        for start, _end, _unit, e in sets:
            if offset < start < offset + 4:
                raise _fail(sec_off, offset, f"symbol {full} overlaps the header of set {e.symbol}")
        owner = next((s for s in sets if s[0] <= offset < s[1]), None)
        if owner is not None:
            start, _end, unit, e = owner
            rel = offset - start
            if rel < unit or (rel - unit) % unit:
                raise _fail(
                    sec_off,
                    offset,
                    f"symbol {full} lies on a header or flags word of set {e.symbol}",
                )
            if any(m.offset == offset for m in e.members):
                raise _fail(sec_off, offset, f"symbol {full} shares offset {offset:#x}")
            e.members.append(Member(offset, kind, name))
            continue
        lone.append((offset, full))
        entries.append(Slot(offset, kind, name, word(offset)))
    lone.sort()
    for (a, an), (b, bn) in zip(lone, lone[1:]):
        if b - a < 4:
            raise _fail(sec_off, b, f"symbols {an} and {bn} overlap")
    for _s, _e, _u, e in sets:
        e.members.sort(key=lambda m: m.offset)
    entries.sort(key=lambda e: e.offset)
    return BtfIds(big_endian, sec_off, size, entries)


# ---------------------------------------------------------------------------- check


def _type_of(btf: Any, type_id: int) -> Optional[Tuple[str, str]]:
    """(BTF kind name, name) of ``type_id``, for a reference or native ``Btf``."""
    if hasattr(btf, "type_name"):  # reference Btf
        if btf.type_by_id(type_id) is None:
            return None
        return btf.kind(type_id), btf.type_name(type_id)
    try:  # native btfx.Btf
        t = btf[type_id]
    except (IndexError, KeyError, ValueError):
        return None
    return t.kind, t.name


def _decode(btf: Any, type_id: int) -> Tuple[Optional[Tuple[str, str]], str]:
    t = _type_of(btf, type_id)
    if t is None:
        return None, f"id {type_id} is not a type of the BTF"
    kind, name = t
    for slot_kind, k in BTF_KIND.items():
        if k == kind:
            return (slot_kind, name), ""
    return None, f"id {type_id} is {kind} {name!r}, not a struct/union/typedef/func"


def check(ids: BtfIds, btf: Any) -> List[Problem]:
    """Problems between ``ids`` and ``btf`` (reference or native ``Btf``, split on its base).

    A nonzero lone slot must name a type of its kind and name (zeros are unresolved and
    pass). A set/set8 is a multiset: every nonzero id must name a (kind, name) some
    member symbol names, each member once; members left over must be matched by zeros;
    ids must be ascending as signed 32-bit ints.
    """
    out: List[Problem] = []
    for e in ids.entries:

        def problem(msg: str, e: Entry = e) -> None:
            out.append(Problem(e.offset, e.symbol, msg))

        if isinstance(e, Slot):
            if e.id == 0:
                continue
            got, why = _decode(btf, e.id)
            if got is None:
                problem(why)
            elif got != (e.kind, e.name):
                problem(f"id {e.id} names {got[0]} {got[1]}, not {e.kind} {e.name}")
            continue
        values = e.ids if isinstance(e, Set) else [p[0] for p in e.pairs]
        signed = [_s32(v) for v in values]
        if signed != sorted(signed):
            problem("ids are not sorted ascending")
        wanted = Counter((m.kind, m.name) for m in e.members)
        zeros = 0
        for v in values:
            if v == 0:
                zeros += 1
                continue
            got, why = _decode(btf, v)
            if got is None:
                problem(why)
            elif wanted[got] > 0:
                wanted[got] -= 1
            else:
                problem(f"id {v} names {got[0]} {got[1]}, which no member symbol names")
        missing = sorted(f"{k} {n}" for (k, n), c in wanted.items() for _ in range(c))
        if len(missing) > zeros:
            problem(
                f"members without an id in the set ({zeros} unresolved zeros): "
                + ", ".join(missing)
            )
    return out


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x8000_0000 else v


# ---------------------------------------------------------------------------- fixup


def fixup(ids: BtfIds, section: bytes, id_map: Sequence[int]) -> Tuple[bytes, FixupReport]:
    """New ``.BTF_ids`` bytes with every id mapped through ``id_map`` (old id -> new id).

    Nonzero ids map by value (an id outside the map or mapping to 0 raises
    :class:`BtfRebaseError` naming the symbol); zeros stay. Sets are then sorted by
    signed id, set8 pairs by id with their flags (stable sort). Header words and bytes no
    symbol covers are copied. The identity map returns ``section`` unchanged.
    """
    section = bytes(section)
    if len(section) != ids.section_size:
        raise BtfError(
            f"{SECTION}: section has {len(section)} bytes but was parsed with {ids.section_size}"
        )
    fmt = ">I" if ids.big_endian else "<I"
    out = bytearray(section)
    report = FixupReport()

    def bounds(off: int) -> None:
        if off < 0 or off + 4 > len(section):
            raise BtfError(f"{SECTION}: word at {off:#x} is past the end")

    def get(off: int) -> int:
        bounds(off)
        return struct.unpack_from(fmt, section, off)[0]

    def put(off: int, v: int) -> None:
        bounds(off)
        struct.pack_into(fmt, out, off, v)

    def new_id(old: int, what: str) -> int:
        report.ids += 1
        if old == 0:
            return 0
        if old >= len(id_map):
            raise BtfRebaseError(
                f"{SECTION}: {what}: id {old} is outside the id map ({len(id_map)} entries)",
                type_id=old,
            )
        new = int(id_map[old])
        if new == 0:
            raise BtfRebaseError(
                f"{SECTION}: {what}: id {old} has no new id (maps to 0)", type_id=old
            )
        if new != old:
            report.ids_changed += 1
        return new

    for e in ids.entries:
        if isinstance(e, Slot):
            put(e.offset, new_id(get(e.offset), e.symbol))
        elif isinstance(e, Set):
            base = e.offset + 4
            mapped = [new_id(get(base + 4 * i), f"{e.symbol} element {i}") for i in range(e.count)]
            ordered = sorted(mapped, key=_s32)
            report.sets_resorted += ordered != mapped
            for i, v in enumerate(ordered):
                put(base + 4 * i, v)
        else:
            base = e.offset + 8
            pairs = [
                (new_id(get(base + 8 * i), f"{e.symbol} pair {i}"), get(base + 8 * i + 4))
                for i in range(e.count)
            ]
            ordered_pairs = sorted(pairs, key=lambda p: _s32(p[0]))
            report.sets_resorted += ordered_pairs != pairs
            for i, (v, f) in enumerate(ordered_pairs):
                put(base + 8 * i, v)
                put(base + 8 * i + 4, f)
    return bytes(out), report


def section_bytes(elf_bytes: bytes, ids: BtfIds) -> bytes:
    """The ``.BTF_ids`` bytes of the ELF file ``ids`` was parsed from."""
    return bytes(elf_bytes[ids.section_offset : ids.section_offset + ids.section_size])
