"""A small ctypes wrapper around the system libbpf (Debian ``libbpf1``), test-only.

Reusable by any test that wants libbpf's answer:

* :func:`available` / :func:`version` — whether ``libbpf.so.1`` loads, and its version;
* :class:`LibbpfBtf` — an owned ``struct btf *`` (``btf__new`` / ``btf__new_split``, or
  ``btf__parse_raw_split`` on libbpf < 1.3 / ``btf__new_empty_split``), freed by
  ``close()`` or as a context manager;
* :func:`dedup_rebase` — ``btf__new_empty_split(base)`` + ``btf__add_btf`` +
  ``btf__dedup``: the libbpf counterpart of ``rebase(..., mode="dedup")``;
* :func:`add_btf` — the same without dedup (ids shifted, strings re-interned);
* :func:`dedup` — ``btf__dedup`` of a blob (optionally split on a base);
* :func:`object_btf` — a BPF object's BTF as ``bpf_object__open`` finalizes it.

Every function takes and returns raw BTF bytes in the host byte order; the split results
hold only the split part (``btf__raw_data`` of a split ``struct btf``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import tempfile
from typing import Tuple

_LIB: ctypes.CDLL | None = None
_LOAD_ERROR: str | None = None


class LibbpfError(RuntimeError):
    pass


def _load() -> ctypes.CDLL:
    global _LIB, _LOAD_ERROR
    if _LIB is not None:
        return _LIB
    if _LOAD_ERROR is not None:
        raise LibbpfError(_LOAD_ERROR)
    names = ["libbpf.so.1", ctypes.util.find_library("bpf") or "libbpf.so"]
    for name in names:
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            break
        except OSError as exc:
            _LOAD_ERROR = f"cannot load libbpf ({name}): {exc}"
    else:
        raise LibbpfError(_LOAD_ERROR or "cannot load libbpf")
    vp = ctypes.c_void_p
    lib.btf__new.argtypes = [vp, ctypes.c_uint32]
    lib.btf__new.restype = vp
    if hasattr(lib, "btf__new_split"):  # libbpf >= 1.3
        lib.btf__new_split.argtypes = [vp, ctypes.c_uint32, vp]
        lib.btf__new_split.restype = vp
    lib.btf__parse_raw_split.argtypes = [ctypes.c_char_p, vp]
    lib.btf__parse_raw_split.restype = vp
    lib.btf__new_empty_split.argtypes = [vp]
    lib.btf__new_empty_split.restype = vp
    lib.btf__add_btf.argtypes = [vp, vp]
    lib.btf__add_btf.restype = ctypes.c_int
    lib.btf__dedup.argtypes = [vp, vp]
    lib.btf__dedup.restype = ctypes.c_int
    lib.btf__type_cnt.argtypes = [vp]
    lib.btf__type_cnt.restype = ctypes.c_uint32
    lib.btf__raw_data.argtypes = [vp, ctypes.POINTER(ctypes.c_uint32)]
    lib.btf__raw_data.restype = vp
    lib.btf__free.argtypes = [vp]
    lib.btf__free.restype = None
    lib.bpf_object__open.argtypes = [ctypes.c_char_p]
    lib.bpf_object__open.restype = vp
    lib.bpf_object__btf.argtypes = [vp]
    lib.bpf_object__btf.restype = vp
    lib.bpf_object__close.argtypes = [vp]
    lib.bpf_object__close.restype = None
    lib.libbpf_set_print.argtypes = [vp]
    lib.libbpf_set_print.restype = vp
    lib.libbpf_set_print(None)  # libbpf's warnings would go to the test's stderr
    lib.libbpf_major_version.restype = ctypes.c_uint32
    lib.libbpf_minor_version.restype = ctypes.c_uint32
    _LIB = lib
    _LOAD_ERROR = None
    return lib


def available() -> bool:
    try:
        _load()
        return True
    except LibbpfError:
        return False


def version() -> Tuple[int, int]:
    lib = _load()
    return lib.libbpf_major_version(), lib.libbpf_minor_version()


def _check_ptr(ptr: int | None, what: str) -> int:
    if not ptr:
        err = ctypes.get_errno()
        raise LibbpfError(f"{what} failed: {os.strerror(err) if err else 'NULL'}")
    return ptr


class LibbpfBtf:
    """An owned libbpf ``struct btf``.  Keeps its input buffer and base alive."""

    def __init__(self, ptr: int, keep: object = None, base: LibbpfBtf | None = None):
        self.ptr = ptr
        self._keep = keep
        self.base = base

    @classmethod
    def new(cls, data: bytes, base: LibbpfBtf | None = None) -> LibbpfBtf:
        lib = _load()
        buf = ctypes.create_string_buffer(bytes(data), len(data))
        if base is None:
            ptr = lib.btf__new(buf, len(data))
        elif hasattr(lib, "btf__new_split"):
            ptr = lib.btf__new_split(buf, len(data), base.ptr)
        else:  # older libbpf (Debian 12 ships 1.1): go through a file
            with tempfile.NamedTemporaryFile(suffix=".btf") as f:
                f.write(bytes(data))
                f.flush()
                ptr = lib.btf__parse_raw_split(f.name.encode(), base.ptr)
        return cls(_check_ptr(ptr, "btf__new"), buf, base)

    @classmethod
    def empty_split(cls, base: LibbpfBtf) -> LibbpfBtf:
        lib = _load()
        return cls(
            _check_ptr(lib.btf__new_empty_split(base.ptr), "btf__new_empty_split"), None, base
        )

    def add_btf(self, src: LibbpfBtf) -> int:
        """``btf__add_btf``: returns the id of the first added type."""
        r = _load().btf__add_btf(self.ptr, src.ptr)
        if r < 0:
            raise LibbpfError(f"btf__add_btf failed: {os.strerror(-r)}")
        return r

    def dedup(self) -> None:
        r = _load().btf__dedup(self.ptr, None)
        if r < 0:
            raise LibbpfError(f"btf__dedup failed: {os.strerror(-r)}")

    @property
    def type_cnt(self) -> int:
        """``btf__type_cnt``: last id + 1 (base types and void included)."""
        return _load().btf__type_cnt(self.ptr)

    def raw_data(self) -> bytes:
        size = ctypes.c_uint32(0)
        ptr = _check_ptr(_load().btf__raw_data(self.ptr, ctypes.byref(size)), "btf__raw_data")
        return ctypes.string_at(ptr, size.value)

    def close(self) -> None:
        if self.ptr:
            _load().btf__free(self.ptr)
            self.ptr = 0

    def __enter__(self) -> LibbpfBtf:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; tests should close explicitly
        try:
            self.close()
        except Exception:
            pass


def object_btf(path: str) -> bytes:
    """The BTF of the BPF object at ``path`` as ``bpf_object__open`` leaves it, ready for
    BPF_BTF_LOAD: each DATASEC's size and its variables' offsets filled in from the ELF
    sections and symbols (libbpf's ``btf_finalize_data``). Raises :class:`LibbpfError`
    when libbpf cannot open the object (e.g. another byte order than the host's)."""
    lib = _load()
    obj = _check_ptr(lib.bpf_object__open(os.fsencode(path)), "bpf_object__open")
    try:
        btf = _check_ptr(lib.bpf_object__btf(obj), "bpf_object__btf")
        size = ctypes.c_uint32()
        data = _check_ptr(lib.btf__raw_data(btf, ctypes.byref(size)), "btf__raw_data")
        return ctypes.string_at(data, size.value)
    finally:
        lib.bpf_object__close(obj)


def add_btf(standalone: bytes, base: bytes, dedup: bool = False) -> Tuple[bytes, int]:
    """``btf__new_empty_split(base)`` + ``btf__add_btf(standalone)`` (+ ``btf__dedup``).

    Returns ``(split raw bytes, type_cnt)``."""
    with LibbpfBtf.new(base) as b, LibbpfBtf.new(standalone) as m:
        with LibbpfBtf.empty_split(b) as out:
            out.add_btf(m)
            if dedup:
                out.dedup()
            return out.raw_data(), out.type_cnt


def dedup_rebase(standalone: bytes, base: bytes) -> Tuple[bytes, int]:
    """libbpf's dedup rebase of standalone BTF onto ``base``: ``(split bytes, type_cnt)``."""
    return add_btf(standalone, base, dedup=True)


def dedup(data: bytes, base: bytes | None = None) -> bytes:
    """``btf__dedup`` of ``data`` (split on ``base`` when given); returns the raw bytes."""
    if base is None:
        with LibbpfBtf.new(data) as b:
            b.dedup()
            return b.raw_data()
    with LibbpfBtf.new(base) as bb, LibbpfBtf.new(data, bb) as b:
        b.dedup()
        return b.raw_data()
