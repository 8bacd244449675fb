"""The running kernel's own check of BTF: bpf(2) ``BPF_BTF_LOAD`` through libc's
``syscall()``, with the verifier log (``btf_parse``: what btfx calls strict validation).
Used by ``scripts/kernel-verdicts.py`` and by the tests that hold btfx's words to the
kernel's. Loading BTF needs CAP_BPF (root); the objects loaded are freed at once."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import re
from typing import Optional, Tuple

#: bpf(2) system call numbers.
SYS_BPF = {"x86_64": 321, "aarch64": 280}
BPF_BTF_LOAD = 18
LOG_SIZE = 1 << 20
#: Log buffer for a rejected large blob (the kernel logs every type it reads).
BIG_LOG_SIZE = 1 << 26


class BtfLoadAttr(ctypes.Structure):
    """The BPF_BTF_LOAD part of `union bpf_attr` (the kernel zero-fills the fields past
    the size it is given)."""

    _fields_ = [
        ("btf", ctypes.c_uint64),
        ("btf_log_buf", ctypes.c_uint64),
        ("btf_size", ctypes.c_uint32),
        ("btf_log_size", ctypes.c_uint32),
        ("btf_log_level", ctypes.c_uint32),
        ("_pad", ctypes.c_uint32),
    ]


class Kernel:
    """BPF_BTF_LOAD through libc's syscall()."""

    def __init__(self) -> None:
        nr = SYS_BPF.get(platform.machine())
        if nr is None:
            raise OSError(errno.ENOSYS, f"no bpf(2) number known for {platform.machine()}")
        self.nr = nr
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.log = ctypes.create_string_buffer(LOG_SIZE)

    def load(self, blob: bytes) -> Tuple[bool, int, str]:
        """(accepted, errno, last line of the verifier log)."""
        ok, err, line = self._load(blob, self.log, LOG_SIZE)
        if not ok and err == errno.ENOSPC:
            # The log did not fit (large blobs): the verdict without a log, and the
            # message of a rejection from a larger one.
            ok, err, line = self._load(blob, None, 0)
            if not ok:
                big = ctypes.create_string_buffer(BIG_LOG_SIZE)
                ok, err, line = self._load(blob, big, BIG_LOG_SIZE)
        return ok, err, line

    def _load(self, blob: bytes, log: Optional[ctypes.Array], size: int) -> Tuple[bool, int, str]:
        buf = ctypes.create_string_buffer(blob, len(blob))
        if log is not None:
            log[0] = b"\0"
        attr = BtfLoadAttr(
            btf=ctypes.addressof(buf),
            btf_log_buf=ctypes.addressof(log) if log is not None else 0,
            btf_size=len(blob),
            btf_log_size=size,
            btf_log_level=1 if log is not None else 0,
        )
        fd = self.libc.syscall(self.nr, BPF_BTF_LOAD, ctypes.byref(attr), ctypes.sizeof(attr))
        if fd >= 0:
            os.close(fd)
            return True, 0, ""
        err = ctypes.get_errno()
        text = log.value.decode(errors="replace") if log is not None else ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return False, err, lines[-1] if lines else ""


def unavailable() -> Optional[str]:
    """Why BPF_BTF_LOAD cannot be used here, or None."""
    try:
        kernel = Kernel()
    except OSError as e:
        return str(e)
    _, err, _ = kernel.load(b"")
    if err in (errno.EPERM, errno.EACCES):
        return "BPF_BTF_LOAD is not permitted (needs CAP_BPF: run as root)"
    if err == errno.ENOSYS:
        return "this kernel has no bpf(2)"
    return None


def kernel_words(message: str) -> str:
    """The part of btfx's message that the kernel's log line should end with: btfx puts
    where before the kernel's words ("member #2: ...") and details after them, in
    parentheses ("Unsupported version (2)")."""
    return re.sub(r" \([^()]*\)$", "", message).split(": ")[-1]
