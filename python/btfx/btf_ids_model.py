"""The data model of a ``.BTF_ids`` section, shared by the native API and the reference.

``include/linux/btf_ids.h`` reserves zero words in ``.BTF_ids`` and tags each with a
local symbol; ``resolve_btfids`` writes BTF type ids into them and sorts every set:

* ``__BTF_ID__<kind>__<name>__<digits>`` (kind struct/union/typedef/func): one id word
  (:class:`Slot`; inside a set, a :class:`Member` of it);
* ``__BTF_ID__set__<name>``: a count word and ``count`` ids (:class:`Set`);
* ``__BTF_ID__set8__<name>``: a count word, a set-flags word and ``count`` (id, flags)
  pairs (:class:`Set8`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple, Union

SECTION = ".BTF_ids"
PREFIX = "__BTF_ID__"


@dataclass(frozen=True)
class Member:
    """A slot symbol inside a set."""

    offset: int
    kind: str
    name: str


@dataclass
class Slot:
    """A lone id word (``BTF_ID``, e.g. in a ``BTF_ID_LIST``)."""

    offset: int
    kind: str
    name: str
    id: int

    @property
    def symbol(self) -> str:
        return f"{PREFIX}{self.kind}__{self.name}"

    @property
    def size(self) -> int:
        return 4


@dataclass
class Set:
    """``BTF_SET_START``: count word, then ``count`` ids."""

    offset: int
    name: str
    count: int
    ids: List[int]
    members: List[Member] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return f"{PREFIX}set__{self.name}"

    @property
    def size(self) -> int:
        return 4 * (self.count + 1)


@dataclass
class Set8:
    """``BTF_SET8_START`` / ``BTF_KFUNCS_START``: count, set flags, (id, flags) pairs."""

    offset: int
    name: str
    count: int
    flags: int
    pairs: List[Tuple[int, int]]
    members: List[Member] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return f"{PREFIX}set8__{self.name}"

    @property
    def size(self) -> int:
        return 8 * (self.count + 1)


Entry = Union[Slot, Set, Set8]


@dataclass
class BtfIds:
    big_endian: bool
    section_offset: int  # sh_offset of .BTF_ids
    section_size: int
    entries: List[Entry]  # lone slots, sets, set8s by offset

    def counts(self) -> Tuple[int, int, int]:
        """(lone slots, sets, set8s)."""
        return (
            sum(isinstance(e, Slot) for e in self.entries),
            sum(isinstance(e, Set) for e in self.entries),
            sum(isinstance(e, Set8) for e in self.entries),
        )


@dataclass(frozen=True)
class Problem:
    offset: int
    symbol: str
    message: str

    def __str__(self) -> str:
        return f"{self.symbol} (offset {self.offset:#x}): {self.message}"


@dataclass
class FixupReport:
    ids: int = 0  # id words looked at, zeros included
    ids_changed: int = 0  # id words whose value the map changed
    sets_resorted: int = 0  # sets/set8s whose order changed after mapping
