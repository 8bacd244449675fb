"""btfx-retargeted modules work in real kernels: Debian 6.1 and 6.12 booted under qemu.

For each kernel, one boot runs every case of ``cases.py`` (insmod, /sys/kernel/btf, BPF
programs calling each kfunc, rmmod); the module BTF each kernel shows in /sys/kernel/btf
comes back to the host, which parses and dumps it. The boot log stays in the test's tmp
directory; a failing case shows its checks, bpftool's verifier output and the kernel's
BTF/kfunc lines.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple

import btfx
import cases
import guest
import pytest
from btfx import reference
from btfx.reference.elf import read_elf_btf
from fixture_module import SERIES, FixtureKernel

pytestmark = pytest.mark.kernel

#: Seconds for one boot: about 10 s to boot and power off under TCG, plus the cases.
TIMEOUT = guest.env_timeout(60 + 20 * len(cases.CASES))


@dataclass
class KernelRun:
    kernel: FixtureKernel
    prepared: cases.Prepared
    boot: guest.Boot
    work: Path


class Runs:
    """Boots each kernel once, on first use, with every case of that kernel."""

    def __init__(self, kernels, tmp_path_factory) -> None:
        self.kernels = kernels
        self.tmp = tmp_path_factory
        self.done: Dict[str, KernelRun] = {}

    def __call__(self, series: str) -> KernelRun:
        if series not in self.done:
            self.done[series] = self._boot(self.kernels[series])
        return self.done[series]

    def _boot(self, this: FixtureKernel) -> KernelRun:
        work = self.tmp.mktemp(f"kernel-{this.series}")
        prepared = cases.prepare(this, self.kernels, work)
        bpf = guest.build_bpf(this.vmlinux_btf, work / "bpf")
        initramfs = guest.build_initramfs(prepared.modules, bpf, work / "initramfs.cpio")
        boot = guest.boot(this.vmlinuz, initramfs, work / "boot.log", TIMEOUT)
        print(f"{this.release}: {len(prepared.modules)} cases, boot {boot.seconds:.1f} s")
        return KernelRun(this, prepared, boot, work)


@pytest.fixture(scope="module")
def runs(fixture_kernels, tmp_path_factory) -> Runs:
    missing = guest.missing_tools()
    if missing:
        pytest.skip(f"host lacks {', '.join(missing)}")
    return Runs(fixture_kernels, tmp_path_factory)


@pytest.mark.parametrize("series", SERIES)
def test_boot_completes(runs, series):
    run = runs(series)
    b = run.boot
    tail = "\n".join(b.log.splitlines()[-40:])
    assert b.returncode is not None, f"no poweroff within {TIMEOUT:.0f} s:\n{tail}"
    assert f"BTFX-BOOT release={run.kernel.release}" in b.log, tail
    assert b.done, f"/init did not finish (log: {run.work / 'boot.log'}):\n{tail}"
    # The modules were built and retargeted on this BTF (test_sysfs_btf relies on it).
    vmlinux_sha256 = hashlib.sha256(run.kernel.vmlinux_btf.read_bytes()).hexdigest()
    assert b.vmlinux_sha256 == vmlinux_sha256, (
        f"the guest's /sys/kernel/btf/vmlinux is not {run.kernel.vmlinux_btf}"
    )


@pytest.mark.parametrize(
    "series,case",
    [(s, c) for s in SERIES for c in cases.for_kernel(s)],
    ids=[f"{s}-{c.name}" for s in SERIES for c in cases.for_kernel(s)],
)
def test_case(runs, series, case):
    run = runs(series)
    if case.name in run.prepared.errors:
        pytest.fail(f"could not make the module: {run.prepared.errors[case.name]}")
    results = run.boot.checks.get(case.name)
    detail = run.boot.describe(case.name)
    assert results, f"{case.name} ({case.about}) did not run:\n{detail}"
    problem = case.verdict(results, detail)
    assert problem is None, (
        f"{case.name} ({case.about}): {problem}\n(log: {run.work / 'boot.log'})\n{detail}"
    )


@pytest.fixture(scope="module")
def bases(runs):
    """Each booted kernel's vmlinux BTF, parsed once per implementation: series ->
    (native, reference)."""
    done: Dict[str, Tuple[btfx.Btf, reference.Btf]] = {}

    def get(series: str) -> Tuple[btfx.Btf, reference.Btf]:
        if series not in done:
            path = runs(series).kernel.vmlinux_btf
            done[series] = (btfx.Btf.from_file(path), reference.Btf.from_file(path))
        return done[series]

    return get


@pytest.mark.parametrize(
    "series,case",
    [(s, c) for s in SERIES for c in cases.for_kernel(s) if c in cases.POSITIVE],
    ids=[f"{s}-{c.name}" for s in SERIES for c in cases.for_kernel(s) if c in cases.POSITIVE],
)
def test_sysfs_btf(runs, bases, series, case, tmp_path):
    """The kernel keeps a loaded module's BTF as btfx (or kbuild) wrote it, and what it
    shows in /sys/kernel/btf/<module> parses, round-trips and validates in btfx, and
    dumps alike in btfx, its reference and bpftool (-B the kernel's vmlinux BTF)."""
    run = runs(series)
    if case.name in run.prepared.errors:
        pytest.fail(f"could not make the module: {run.prepared.errors[case.name]}")
    boot = run.boot
    vmlinux_btf = run.kernel.vmlinux_btf
    try:
        blob = boot.sysfs_btf(case.name)
    except ValueError as e:
        pytest.fail(f"{e}\n{boot.describe(case.name)}")
    module = run.prepared.modules[case.name]
    # Without a .BTF.base (distilled base) the kernel relocates nothing: its copy is the
    # section byte for byte (btf_parse_module). Debian's kbuild (pahole 1.24) and btfx
    # write none; a kbuild with pahole >= 1.26 would, and this comparison must change.
    section, distilled_base = read_elf_btf(module.read_bytes())
    assert distilled_base is None, (
        f"{module} has a distilled base: the kernel relocates its BTF (btf_relocate)"
    )
    assert section == blob, "the kernel's copy differs from .BTF"
    native_base, ref_base = bases(series)
    btf = btfx.Btf.from_bytes(blob, native_base)
    assert btf.to_bytes() == blob
    btf.validate("module")
    dump = btf.dump()
    assert reference.Btf.from_bytes(blob, ref_base).dump() == dump
    path = tmp_path / f"{case.name}.btf"
    path.write_bytes(blob)
    cmd = [guest.BPFTOOL, "-B", str(vmlinux_btf), "btf", "dump", "file", str(path), "format", "raw"]
    expected = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    assert dump.encode("utf-8", "surrogateescape") == expected
