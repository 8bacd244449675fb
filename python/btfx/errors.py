"""Exception classes shared by the native core and the pure-Python reference.

Every error carries where it happened, as far as that is known:

* ``type_id``: the BTF type id (``None`` when not about one type),
* ``offset``: byte offset inside the raw BTF blob (or the ELF file for ELF errors),
* ``section``: ELF section name or BTF section (``"header"``, ``"types"``, ``"strings"``,
  ``"layout"``),
* ``kind``: BTF kind name such as ``"STRUCT"`` when the error is about one type.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "BtfError",
    "BtfFormatError",
    "BtfValidationError",
    "BtfElfError",
    "BtfRebaseError",
]


class BtfError(ValueError):
    """Base class of every btfx error about its input."""

    def __init__(
        self,
        message: str,
        *,
        type_id: Optional[int] = None,
        offset: Optional[int] = None,
        section: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type_id = type_id
        self.offset = offset
        self.section = section
        self.kind = kind

    def __reduce__(self):  # keep attributes across pickling (multiprocessing)
        return (
            _rebuild,
            (type(self), self.message, self.type_id, self.offset, self.section, self.kind),
        )

    def __str__(self) -> str:
        where = []
        if self.section is not None:
            where.append(f"section {self.section}")
        if self.type_id is not None:
            where.append(f"type [{self.type_id}]")
        if self.kind is not None:
            where.append(self.kind)
        if self.offset is not None:
            where.append(f"offset {self.offset:#x}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


def _rebuild(cls, message, type_id, offset, section, kind):
    return cls(message, type_id=type_id, offset=offset, section=section, kind=kind)


class BtfFormatError(BtfError):
    """The blob cannot be parsed: header, section layout, truncated or unknown-kind records,
    string section framing. Raised by parsing (``Btf.from_bytes``)."""


class BtfValidationError(BtfError):
    """The blob parses but breaks a BTF rule the kernel checks. Raised by ``validate``."""


class BtfElfError(BtfError):
    """An ELF file (or compressed module) is malformed or lacks the needed sections."""


class BtfRebaseError(BtfError):
    """Rebasing, detaching or retargeting is impossible for these inputs (not standalone,
    wrong base, limits exceeded)."""
