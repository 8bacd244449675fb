"""The fixture kernel module (``tests/fixtures/kfunc_module``) built against Debian kernels.

:func:`build` runs ``scripts/build-fixture-module.sh`` (which downloads Debian's headers,
kbuild and image packages into ``$BTFX_CACHE``, default ``~/.cache/btfx``, and rebuilds only
what changed) and describes its outputs. Only a host without apt skips: everything else the
script needs is a test dependency (``make deps``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "build-fixture-module.sh"
SERIES = ("6.1", "6.12")
#: Series whose previous Debian build (the same upstream release built again: other BTF
#: ids, same symbol versions) the kernel suite also uses, by the name build() gets.
PREVIOUS = {"6.1": "6.1-previous"}
#: Everything the tests build.
KERNELS = SERIES + tuple(PREVIOUS.values())
MODULE = "btfx_kfuncs"
#: The module's kfuncs, in the order they appear in its set8.
KFUNCS = ("btfx_add", "btfx_pair_sum", "btfx_task_pid", "btfx_struct_id")
#: Its BTF_ID_LIST, in order.
LIST_STRUCTS = ("task_struct", "file")


@dataclass(frozen=True)
class FixtureKernel:
    """One kernel's build outputs (see scripts/build-fixture-module.sh)."""

    series: str
    release: str
    dir: Path

    @property
    def vmlinuz(self) -> Path:
        return self.dir / "vmlinuz"

    @property
    def vmlinux(self) -> Path:
        return self.dir / "vmlinux"

    @property
    def vmlinux_btf(self) -> Path:
        return self.dir / "vmlinux.btf"

    def module(self, variant: str) -> Path:
        """``split``, ``standalone`` or ``nobtf``."""
        return self.dir / variant / f"{MODULE}.ko"

    def cross(self, other: FixtureKernel) -> Path:
        """This kernel's module with its BTF split on ``other``'s vmlinux."""
        return self.dir / f"cross-{other.release}" / f"{MODULE}.ko"

    @property
    def sign_file(self) -> Path:
        """The kernel's ``scripts/sign-file`` from the linux-kbuild package the build
        unpacked for this kernel."""
        tree = _cache() / "kernel" / self.release / "tree"
        found = sorted(tree.glob("usr/lib/linux-kbuild-*/scripts/sign-file"))
        assert found, f"no scripts/sign-file under {tree}"
        return found[0]

    @property
    def set8_flags(self) -> int:
        """The kfunc set8's header flags: BTF_SET8_KFUNCS from 6.9 on, 0 before."""
        major, minor = (int(x) for x in self.series.split(".")[:2])
        return 1 if (major, minor) >= (6, 9) else 0


def build(kernels: Sequence[str] = KERNELS) -> Dict[str, FixtureKernel]:
    """Builds (or finds up to date) the fixture module for each kernel (a series or
    SERIES-previous; see scripts/build-fixture-module.sh), keyed by that name."""
    missing = [t for t in ("apt-get", "apt-cache") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the fixture module is built from Debian packages: no {', '.join(missing)}")
    out = Path(os.environ.get("BTFX_FIXTURE_DIR") or _cache() / "fixture")
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(
        ["bash", str(SCRIPT), "-o", str(out), *kernels],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"{SCRIPT.name} failed ({proc.returncode}):\n{proc.stdout[-6000:]}")
    built = {}
    for name in kernels:
        link = out / name
        release = os.readlink(link)
        built[name] = FixtureKernel(".".join(release.split(".")[:2]), release, link.resolve())
    return built


def _cache() -> Path:
    if os.environ.get("BTFX_CACHE"):
        return Path(os.environ["BTFX_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "btfx"
