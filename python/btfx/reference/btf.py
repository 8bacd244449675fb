"""The reference :class:`Btf` object: a parsed BTF blob, optionally split on a base."""

from __future__ import annotations

import os
from typing import List, Union

from ..errors import BtfElfError
from ._layout import ByteOrder, kind_name
from .elf import ELF_MAGIC, decompress, is_compressed, read_elf_btf
from .parse import Header, TypeRecord, parse_raw


class Btf:
    """A parsed BTF blob (docs/rules.md §1).

    Own types have ids ``start_id .. last_id``; ids below ``start_id`` and string offsets
    below ``start_str_off`` are looked up in ``base``.
    """

    def __init__(
        self,
        *,
        byteorder: ByteOrder,
        header: Header,
        types: List[TypeRecord],
        strings: bytes,
        layout: bytes | None,
        base: Btf | None,
    ) -> None:
        self.byteorder = byteorder
        self.header = header
        self.types = types
        self.strings = strings
        self.layout = layout
        self.base = base
        if base is None:
            self.start_id = 1
            self.start_str_off = 0
        else:
            self.start_id = base.start_id + base.nr_types
            self.start_str_off = base.start_str_off + len(base.strings)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_bytes(cls, data: bytes, base: Btf | None = None) -> Btf:
        """Parse raw BTF, an ELF file's ``.BTF`` or an xz/zstd/gzip-compressed one.

        For an ELF file with a ``.BTF.base`` section (distilled base) and no ``base``
        argument, that section is parsed as the base.  Relocating such a split BTF onto
        another base is not supported: passing ``base`` then raises :class:`BtfElfError`.
        """
        data = bytes(data)
        if is_compressed(data):
            data = decompress(data)
        if data.startswith(ELF_MAGIC):
            btf_data, base_data = read_elf_btf(data)
            if base_data is not None:
                if base is not None:
                    raise BtfElfError(
                        "ELF file has a .BTF.base section; relocation onto another base "
                        "is not supported",
                        section=".BTF.base",
                    )
                base = cls._parse(base_data, None)
            return cls._parse(btf_data, base)
        return cls._parse(data, base)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], base: Btf | None = None) -> Btf:
        with open(path, "rb") as f:
            return cls.from_bytes(f.read(), base)

    @classmethod
    def _parse(cls, data: bytes, base: Btf | None) -> Btf:
        start_id = 1 if base is None else base.start_id + base.nr_types
        p = parse_raw(data, base is not None, start_id, base.byteorder if base else None)
        return cls(
            byteorder=p.byteorder,
            header=p.header,
            types=p.types,
            strings=p.strings,
            layout=p.layout,
            base=base,
        )

    # ------------------------------------------------------------------ basic facts
    @property
    def is_split(self) -> bool:
        return self.base is not None

    @property
    def nr_types(self) -> int:
        """Number of own types (void and base types excluded)."""
        return len(self.types)

    def __len__(self) -> int:
        return len(self.types)

    @property
    def last_id(self) -> int:
        return self.start_id + len(self.types) - 1

    def __repr__(self) -> str:
        split = f", split from id {self.start_id}" if self.is_split else ""
        return f"<reference Btf: {len(self.types)} types, {self.byteorder}-endian{split}>"

    # ------------------------------------------------------------------ lookups
    def type_by_id(self, type_id: int) -> TypeRecord | None:
        """The record of ``type_id`` (own or base); None for void (0) or unknown ids."""
        if type_id >= self.start_id:
            idx = type_id - self.start_id
            return self.types[idx] if idx < len(self.types) else None
        if self.base is not None:
            return self.base.type_by_id(type_id)
        return None

    def str_bytes(self, offset: int) -> bytes | None:
        """The NUL-terminated string at ``offset`` (absolute), or None if out of range."""
        if offset < self.start_str_off:
            return self.base.str_bytes(offset) if self.base is not None else None
        local = offset - self.start_str_off
        if local >= len(self.strings):
            return None
        end = self.strings.find(b"\0", local)
        return self.strings[local : end if end >= 0 else len(self.strings)]

    def str_at(self, offset: int) -> str | None:
        s = self.str_bytes(offset)
        return None if s is None else s.decode("utf-8", "surrogateescape")

    def kind(self, type_id: int) -> str:
        """Kind name of ``type_id`` ("UNKN" for void)."""
        if type_id == 0:
            return "UNKN"
        t = self._need(type_id)
        return kind_name(t.kind)

    def type_name(self, type_id: int) -> str:
        """Name of ``type_id`` ("" for void and anonymous types)."""
        if type_id == 0:
            return ""
        return self.str_at(self._need(type_id).name_off) or ""

    def _need(self, type_id: int) -> TypeRecord:
        t = self.type_by_id(type_id)
        if t is None:
            raise KeyError(type_id)
        return t

    # ------------------------------------------------------------------ operations
    def validate(self, level: str = "strict", wide: bool = False) -> None:
        from .validate import validate

        validate(self, level, wide)

    def to_bytes(self, byteorder: str | None = None) -> bytes:
        from .write import to_bytes

        return to_bytes(self, byteorder)

    def dump(self, format: str = "raw") -> str:  # noqa: A002 - public API name
        if format != "raw":
            raise ValueError(f"unsupported dump format {format!r}")
        from .dump import dump_raw

        return dump_raw(self)


__all__ = ["Btf"]
