"""Writing files so that readers never see a half-written one."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


def write_atomically(path: PathLike, data: bytes, like: Optional[PathLike] = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a
    rename. ``like``: a file whose permission bits the new file gets (e.g. the input)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".btfx-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if like is not None:
            shutil.copymode(like, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it (mkstemp: 0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask
