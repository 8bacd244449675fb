"""Build what the guest runs and boot it: BPF objects, a busybox initramfs, qemu.

One boot per kernel runs every case (module file) in order; ``init.sh`` prints one
``BTFX-CHECK`` line per check, and the kernel's view of each loaded module's BTF, which
:func:`parse` turns into :class:`Boot` results.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

HERE = Path(__file__).resolve().parent
BPF_SRC = HERE / "bpf"
INIT = HERE / "init.sh"
#: The guest's checks, in the order init.sh runs them.
CHECKS = ("insmod", "module_btf", "add", "pair_sum", "struct_id", "task_pid")
#: Checks that use a kfunc.
KFUNC_CHECKS = ("add", "pair_sum", "struct_id", "task_pid")
BUSYBOX = "/bin/busybox"
BPFTOOL = "/usr/sbin/bpftool"
QEMU = "qemu-system-x86_64"
#: Host tools the suite needs (Debian packages in the Makefile's APT_PACKAGES).
TOOLS = {
    QEMU: "qemu-system-x86",
    BUSYBOX: "busybox-static",
    "clang": "clang",
    "cpio": "cpio",
    BPFTOOL: "bpftool",
}

_CHECK_RE = re.compile(r"^BTFX-CHECK case=(\S+) name=(\S+) result=(pass|fail) detail=(.*)$")
_B64_RE = re.compile(r"^BTFX-B64 case=(\S+) ([A-Za-z0-9+/=]+)$")
_SYSFS_RE = re.compile(r"^BTFX-SYSFS case=(\S+) bytes=(\d+) (?:sha256=([0-9a-f]{64})|not shown)$")
_VMLINUX_RE = re.compile(r"^BTFX-VMLINUX sha256=([0-9a-f]{64})$")


def missing_tools() -> List[str]:
    return [f"{t} ({pkg})" for t, pkg in TOOLS.items() if shutil.which(t) is None]


def build_bpf(vmlinux_btf: Path, out: Path) -> Path:
    """Compiles tests/kernel/bpf/*.bpf.c against ``vmlinux.h`` of that kernel's BTF."""
    out.mkdir(parents=True, exist_ok=True)
    header = subprocess.run(
        [BPFTOOL, "btf", "dump", "file", str(vmlinux_btf), "format", "c"],
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    (out / "vmlinux.h").write_bytes(header)
    for src in sorted(BPF_SRC.glob("*.bpf.c")):
        obj = out / (src.name[: -len(".c")] + ".o")
        cmd = ["clang", "-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86"]
        cmd += [f"-I{out}", f"-I{BPF_SRC}", "-c", str(src), "-o", str(obj)]
        subprocess.run(cmd, check=True)
    return out


def _shared_libraries(binary: str) -> List[Path]:
    """What ``ldd`` says ``binary`` loads (the dynamic loader included)."""
    out = subprocess.run(["ldd", binary], check=True, stdout=subprocess.PIPE, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs


def build_initramfs(cases: Mapping[str, Path], bpf_dir: Path, out: Path) -> Path:
    """A newc cpio archive: busybox, bpftool and its libraries, /init, the BPF objects and
    ``/cases/<name>/btfx_kfuncs.ko`` for each case (run in ``cases``' order)."""
    root = out.with_suffix(".root")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "bpf", "cases"):
        (root / d).mkdir(parents=True)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    shutil.copy(INIT, root / "init")
    bpftool = shutil.which(BPFTOOL) or BPFTOOL
    shutil.copy(bpftool, root / "usr" / "sbin" / "bpftool")
    for lib in _shared_libraries(bpftool):
        dest = root / lib.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib.resolve(), dest)
    for obj in bpf_dir.glob("*.bpf.o"):
        shutil.copy(obj, root / "bpf" / obj.name)
    for name, module in cases.items():
        (root / "cases" / name).mkdir()
        shutil.copy(module, root / "cases" / name / module.name)
    (root / "cases" / "list").write_text("".join(f"{n}\n" for n in cases))
    files = subprocess.run(["find", "."], cwd=root, check=True, stdout=subprocess.PIPE).stdout
    with open(out, "wb") as f:
        subprocess.run(
            ["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"],
            cwd=root,
            input=files,
            stdout=f,
            check=True,
        )
    shutil.rmtree(root)
    return out


@dataclass
class Boot:
    """What one boot printed."""

    log: str
    seconds: float
    returncode: Optional[int]  # None: killed at the timeout
    checks: Dict[str, Dict[str, Tuple[str, str]]] = field(default_factory=dict)
    case_logs: Dict[str, str] = field(default_factory=dict)
    done: bool = False
    #: sha256 of the guest's /sys/kernel/btf/vmlinux
    vmlinux_sha256: Optional[str] = None
    #: case -> the module's /sys/kernel/btf/<module>, as base64 text and as
    #: (size, sha256) that init.sh measured (sha256 None: too large, not shown)
    sysfs_b64: Dict[str, List[str]] = field(default_factory=dict)
    sysfs_sums: Dict[str, Tuple[int, Optional[str]]] = field(default_factory=dict)

    def sysfs_btf(self, case: str) -> bytes:
        """The case's module BTF as the guest kernel showed it. Raises ValueError if it
        was not shown, or if what arrived is not what init.sh measured (a console line
        broken by a kernel message)."""
        if case not in self.sysfs_sums:
            raise ValueError(f"{case}: the guest showed no /sys/kernel/btf copy")
        size, sha = self.sysfs_sums[case]
        if sha is None:
            raise ValueError(f"{case}: the /sys/kernel/btf copy ({size} bytes) was too large")
        try:
            data = base64.b64decode("".join(self.sysfs_b64.get(case, [])), validate=True)
        except binascii.Error as e:
            raise ValueError(f"{case}: the /sys/kernel/btf copy arrived damaged ({e})") from e
        if len(data) != size:
            got = f"{len(data)} bytes for {size}"
            raise ValueError(f"{case}: the /sys/kernel/btf copy arrived damaged ({got})")
        if hashlib.sha256(data).hexdigest() != sha:
            raise ValueError(f"{case}: the /sys/kernel/btf copy arrived damaged (sha256 differs)")
        return data

    def describe(self, case: str) -> str:
        """The case's part of the boot log (checks, bpftool/verifier output, dmesg)."""
        text = self.case_logs.get(case)
        if text is None:
            tail = "\n".join(self.log.splitlines()[-60:])
            return f"case {case} never ran; end of the boot log:\n{tail}"
        return text


def boot(vmlinuz: Path, initramfs: Path, log_path: Path, timeout: float) -> Boot:
    """Boots ``vmlinuz`` with ``initramfs`` under qemu (TCG: no KVM needed) until /init
    powers off, or ``timeout`` seconds; the serial console goes to ``log_path``."""
    cmd = [
        QEMU,
        "-accel",
        "tcg",
        "-nographic",
        "-no-reboot",
        "-m",
        "1G",
        "-kernel",
        str(vmlinuz),
        "-initrd",
        str(initramfs),
        "-append",
        "console=ttyS0 panic=-1 module.sig_enforce=0 rdinit=/init quiet",
    ]
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            returncode: Optional[int] = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            returncode = None
    seconds = time.monotonic() - start
    text = log_path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
    return parse(text, seconds, returncode)


def parse(text: str, seconds: float = 0.0, returncode: Optional[int] = 0) -> Boot:
    result = Boot(log=text, seconds=seconds, returncode=returncode)
    case: Optional[str] = None
    lines: List[str] = []

    def close() -> None:
        if case is not None:
            result.case_logs[case] = "\n".join(lines)

    for line in text.splitlines():
        if line.startswith("BTFX-CASE "):
            close()
            case, lines = line.split(" ", 1)[1].strip(), []
            result.checks[case] = {}
        elif line.startswith("BTFX-DONE"):
            close()
            case, lines = None, []
            result.done = True
        m = _CHECK_RE.match(line)
        if m:
            result.checks.setdefault(m.group(1), {})[m.group(2)] = (m.group(3), m.group(4))
        m = _B64_RE.match(line)
        if m:
            result.sysfs_b64.setdefault(m.group(1), []).append(m.group(2))
            continue  # not part of the case's log
        m = _SYSFS_RE.match(line)
        if m:
            result.sysfs_sums[m.group(1)] = (int(m.group(2)), m.group(3))
        m = _VMLINUX_RE.match(line)
        if m:
            result.vmlinux_sha256 = m.group(1)
        if case is not None:
            lines.append(line)
    close()
    return result


def env_timeout(default: float) -> float:
    return float(os.environ.get("BTFX_QEMU_TIMEOUT", default))
