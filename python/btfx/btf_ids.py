"""``btfx.BtfIds``: a module's ``.BTF_ids`` section, parsed through its symbols.

>>> ids = BtfIds.from_file("tcp_bbr.ko")          # doctest: +SKIP
>>> print(ids.listing(btfx.Btf.from_file("tcp_bbr.ko", base=vmlinux)))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union

from . import _native
from .btf_ids_model import (
    SECTION,
    Entry,
    FixupReport,
    Member,
    Problem,
    Set,
    Set8,
    Slot,
)
from .btf_ids_model import (
    BtfIds as _Model,
)

if TYPE_CHECKING:
    from ._native import Btf

__all__ = ["BtfIds", "Slot", "Set", "Set8", "Member", "Problem", "FixupReport"]

#: Set-flags bit of a kfunc set (``BTF_SET8_KFUNCS``, include/linux/btf_ids.h).
SET8_KFUNCS = 1 << 0


def _entry(t: Tuple[Any, ...]) -> Entry:
    what = t[0]
    if what == "slot":
        return Slot(offset=t[1], kind=t[2], name=t[3], id=t[4])
    members = [Member(*m) for m in t[-1]]
    if what == "set":
        return Set(offset=t[1], name=t[2], count=t[3], ids=list(t[4]), members=members)
    pairs = [tuple(p) for p in t[5]]
    return Set8(offset=t[1], name=t[2], count=t[3], flags=t[4], pairs=pairs, members=members)


@dataclass
class BtfIds(_Model):
    """The ``.BTF_ids`` of one ELF file: lone slots, sets and set8s, by offset.

    ``elf`` is the uncompressed ELF image it was read from (for :meth:`fixup`).
    """

    elf: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Optional[BtfIds]:
        """Parse an ELF file (a module, possibly ``.xz``/``.zst``/``.gz`` compressed).

        Returns None when it has no ``.BTF_ids`` section; raises
        :class:`btfx.errors.BtfElfError` when the ELF or the symbols are malformed.
        """
        parsed = _native.btf_ids_parse(data)
        if parsed is None:
            return None
        elf, big_endian, off, size, entries = parsed
        return cls(big_endian, off, size, [_entry(e) for e in entries], elf)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]]) -> Optional[BtfIds]:
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())

    @property
    def section(self) -> bytes:
        """The section's bytes."""
        return self.elf[self.section_offset : self.section_offset + self.section_size]

    def check(self, btf: Btf) -> List[Problem]:
        """Disagreements with ``btf`` (the module's BTF, split on its base); empty if none.

        A nonzero lone slot must name a type of its kind and name; a set or set8 is
        checked as a multiset against its member symbols and must be sorted.
        """
        return [Problem(*p) for p in _native.btf_ids_check(self.elf, btf)]

    def fixup(self, id_map: Sequence[int]) -> Tuple[bytes, FixupReport]:
        """New section bytes with every id mapped through ``id_map`` and sets re-sorted."""
        data, (n, changed, resorted) = _native.btf_ids_fixup(self.elf, list(id_map))
        return data, FixupReport(n, changed, resorted)

    def listing(self, btf: Optional[Btf] = None) -> str:
        """A readable listing; with ``btf``, each id is shown with the type it names and
        disagreements are marked."""
        slots, sets, set8s = self.counts()
        order = "big" if self.big_endian else "little"
        lines = [
            f"{SECTION}: {self.section_size} bytes at file offset {self.section_offset:#x}"
            f" ({order} endian): {slots} slots, {sets} sets, {set8s} set8s"
        ]
        bad = {p.offset: p for p in self.check(btf)} if btf is not None else {}

        def names(type_id: int) -> str:
            if btf is None or type_id == 0:
                return "(unresolved)" if type_id == 0 else ""
            try:
                t = btf[type_id]
            except (IndexError, ValueError):
                return "<not a type>"
            return f"{t.kind} {t.name}"

        for e in self.entries:
            mark = f"   !! {bad[e.offset].message}" if e.offset in bad else ""
            if isinstance(e, Slot):
                lines.append(
                    f"  {e.offset:#06x}  {e.kind} {e.name}: id {e.id} {names(e.id)}{mark}".rstrip()
                )
                continue
            if isinstance(e, Set):
                lines.append(f"  {e.offset:#06x}  set {e.name}: {e.count} ids{mark}")
                lines += [f"            id {i} {names(i)}".rstrip() for i in e.ids]
                continue
            kf = " (kfuncs)" if e.flags & SET8_KFUNCS else ""
            lines.append(
                f"  {e.offset:#06x}  set8 {e.name}: {e.count} ids, flags {e.flags:#x}{kf}{mark}"
            )
            lines += [f"            id {i} flags {f:#x} {names(i)}".rstrip() for i, f in e.pairs]
        return "\n".join(lines)
