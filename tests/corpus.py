"""Locate the real-kernel corpus made by ``scripts/fetch-corpus.sh``.

The corpus root is ``$BTFX_CORPUS`` or ``<repo>/corpus``.  It holds one directory per
kernel (e.g. ``6.1.0-56-amd64``), each complete only once its ``MANIFEST.json`` exists
(written last by ``scripts/build_corpus.py``).  Paths inside the manifest are relative to
that kernel directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO = Path(__file__).resolve().parent.parent
SKIP_REASON = "corpus missing: run scripts/fetch-corpus.sh"


def corpus_root() -> Path:
    """``$BTFX_CORPUS`` if set, else ``<repo>/corpus``."""
    env = os.environ.get("BTFX_CORPUS")
    return Path(env) if env else REPO / "corpus"


@dataclass(frozen=True)
class Module:
    """One module of a kernel: its path under ``lib/modules/<kernel>`` and extracted BTF."""

    name: str
    path: str  # e.g. "kernel/net/ipv4/tcp_bbr.ko"
    btf: Path  # extracted .BTF section (split BTF on top of vmlinux.btf)
    ko: Path  # the module file itself (.ko, .ko.xz or .ko.zst, signed)
    has_btf_ids: bool
    raw: Path | None = None  # bpftool raw dump, for sampled modules
    json: Path | None = None  # bpftool -j dump, for some sampled modules
    types: int | None = None  # number of types in the bpftool dump

    def read_btf(self) -> bytes:
        return self.btf.read_bytes()


@dataclass(frozen=True)
class Kernel:
    """One kernel directory of the corpus."""

    dir: Path
    manifest: Dict[str, Any] = field(repr=False, hash=False, compare=False)

    @property
    def name(self) -> str:
        """Kernel release, e.g. ``6.1.0-56-amd64``."""
        return str(self.manifest["kernel"])

    @property
    def series(self) -> str:
        return str(self.manifest["series"])

    @property
    def vmlinux_btf(self) -> Path:
        return self.dir / self.manifest["vmlinux"]["btf"]

    @property
    def vmlinux_elf(self) -> Path:
        return self.dir / self.manifest["vmlinux"]["elf"]

    @property
    def vmlinux_types(self) -> int:
        """Number of types in vmlinux BTF as bpftool counts them (void excluded)."""
        return int(self.manifest["vmlinux"]["types"])

    @property
    def vmlinux_raw(self) -> Path:
        return self.dir / self.manifest["bpftool"]["vmlinux_raw"]

    @property
    def vmlinux_json(self) -> Path:
        return self.dir / self.manifest["bpftool"]["vmlinux_json"]

    def modules(self) -> List[Module]:
        """Every module with a ``.BTF`` section, sorted by path."""
        samples = {s["path"]: s for s in self.manifest["bpftool"]["samples"]}
        root = self.dir / self.manifest["modules_root"]
        out = []
        for e in self.manifest["modules"]:
            if not e["btf"]:
                continue
            s = samples.get(e["path"], {})
            out.append(
                Module(
                    name=e["name"],
                    path=e["path"],
                    btf=self.dir / e["btf"],
                    ko=root / e["path"],
                    has_btf_ids=bool(e["has_btf_ids"]),
                    raw=self.dir / s["raw"] if "raw" in s else None,
                    json=self.dir / s["json"] if "json" in s else None,
                    types=s.get("types"),
                )
            )
        return out

    def sampled_modules(self) -> List[Module]:
        """Modules with a bpftool raw dump (deterministic sample, >= 250 when possible)."""
        return [m for m in self.modules() if m.raw is not None]

    def json_sampled_modules(self) -> List[Module]:
        """Modules with a bpftool ``-j`` dump (about 20)."""
        return [m for m in self.modules() if m.json is not None]

    def module(self, name: str) -> Module | None:
        for m in self.modules():
            if m.name == name:
                return m
        return None


def _series_key(k: Kernel) -> List[int]:
    return [int(x) for x in k.series.split(".") if x.isdigit()]


def kernels() -> List[Kernel]:
    """Complete kernels present in the corpus, oldest series first."""
    root = corpus_root()
    if not root.is_dir():
        return []
    found = []
    for m in sorted(root.glob("*/MANIFEST.json")):
        try:
            manifest = json.loads(m.read_text())
        except (OSError, ValueError):
            continue
        found.append(Kernel(m.parent, manifest))
    return sorted(found, key=lambda k: (_series_key(k), k.name))


def require_corpus() -> List[Kernel]:
    """The corpus kernels; skips the calling test when there are none."""
    ks = kernels()
    if not ks:
        pytest.skip(SKIP_REASON)
    return ks


def kernel_params() -> List[Any]:
    """``pytest.param`` per corpus kernel (id = kernel release), for parametrizing.

    With no corpus this is a single ``None`` param: pass it through :func:`kernel_or_skip`.
    """
    ks = kernels()
    if not ks:
        return [pytest.param(None, id="no-corpus")]
    return [pytest.param(k, id=k.name) for k in ks]


def kernel_or_skip(k: Kernel | None) -> Kernel:
    if k is None:
        pytest.skip(SKIP_REASON)
    return k


def bpf_objects() -> List[Path]:
    """The BPF objects (ELF, clang-built) of the corpus's Debian packages, sorted: regular
    ``*.o`` / ``*.elf`` files under ``bpf-objects/`` (symbolic links left out)."""
    root = corpus_root() / "bpf-objects"
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("*") if p.suffix in (".o", ".elf")]
    return sorted(p for p in found if p.is_file() and not p.is_symlink())


def bpf_object_params() -> List[Any]:
    """``pytest.param`` per corpus BPF object (id: package/file name), for parametrizing.

    With no BPF objects this is a single ``None`` param: pass it through
    :func:`object_or_skip`.
    """
    objs = bpf_objects()
    if not objs:
        return [pytest.param(None, id="no-corpus")]
    root = corpus_root() / "bpf-objects"
    return [pytest.param(p, id=f"{p.relative_to(root).parts[0]}/{p.name}") for p in objs]


def object_or_skip(p: Path | None) -> Path:
    if p is None:
        pytest.skip(SKIP_REASON)
    return p
