"""Pure-Python reference implementation of BTF parsing, validation, writing and dumping.

Written from the rules in ``docs/rules.md`` so the Rust core can be checked against it.
It is deliberately simple: one concern per module, one per-kind table (``_layout``).
"""

from __future__ import annotations

from .btf import Btf
from .elf import read_elf_btf

__all__ = ["Btf", "read_elf_btf"]

# --- rebase reference (docs/rebase.md), appended ---
from .rebase import (  # noqa: E402
    Equivalence,
    RebaseResult,
    base_map,
    detach,
    equivalent,
    rebase,
    retarget,
)

__all__ += ["RebaseResult", "Equivalence", "rebase", "detach", "retarget", "base_map", "equivalent"]
