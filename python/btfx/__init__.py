"""btfx: Linux BTF (BPF Type Format) parsing, validation, dumping and module BTF rebasing.

The work is done by a Rust core (``btfx._native``); ``btfx.reference`` is a pure-Python
implementation of the same algorithms, used to cross-check the core.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from . import errors
from ._native import (
    BaseIndex,
    BaseMap,
    Btf,
    EnumValue,
    Equivalence,
    Member,
    Param,
    RebaseResult,
    Type,
    VarSecinfo,
    equivalent,
    rebase,
    retarget_btf,
)
from ._native import __version__ as __version__
from ._native import detach_btf as detach
from .btf_ids import BtfIds
from .errors import (
    BtfElfError,
    BtfError,
    BtfFormatError,
    BtfRebaseError,
    BtfValidationError,
)
from .retarget import RetargetReport, RetargetResult, retarget_module, retarget_modules

__all__ = [
    "Btf",
    "Type",
    "Member",
    "EnumValue",
    "Param",
    "VarSecinfo",
    "BtfError",
    "BtfFormatError",
    "BtfValidationError",
    "BtfElfError",
    "BtfRebaseError",
    "BaseIndex",
    "BaseMap",
    "RebaseResult",
    "Equivalence",
    "rebase",
    "detach",
    "retarget_btf",
    "equivalent",
    "BtfIds",
    "RetargetReport",
    "RetargetResult",
    "retarget_module",
    "retarget_modules",
    "errors",
    "load",
    "vmlinux",
    "VMLINUX_PATH",
]

#: Where a running kernel exposes its own BTF.
VMLINUX_PATH = "/sys/kernel/btf/vmlinux"


def load(path: Union[str, os.PathLike], base: Optional[Btf] = None) -> Btf:
    """Reads raw BTF or an ELF file's ``.BTF`` (``.ko``, ``.ko.xz``, ``.ko.zst``,
    ``.ko.gz``, vmlinux, BPF objects) from ``path``; ``base`` makes it split BTF."""
    return Btf.from_file(path, base)


def vmlinux(path: Union[str, os.PathLike] = VMLINUX_PATH) -> Btf:
    """The running kernel's BTF (``/sys/kernel/btf/vmlinux`` by default)."""
    return Btf.vmlinux(path)
