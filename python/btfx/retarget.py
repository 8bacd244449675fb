"""Retargeting kernel modules onto a vmlinux BTF: the module's ``.BTF`` becomes split BTF
on that vmlinux and its ``.BTF_ids`` is fixed to the new ids; every other byte is kept.

Inputs may be standalone BTF (ids from 1), split BTF built against another vmlinux
(``old_base``), or already split on ``base`` (left unchanged). Modules may be ``.ko``,
``.ko.xz``, ``.ko.zst`` or ``.ko.gz``, and signed: a change invalidates the signature,
so ``signature`` says what to do — ``"strip"`` it (default, reported), ``"keep"`` (refuse
to change a signed module) or ``"resign"`` through ``sign_command`` (e.g. the kernel's
``scripts/sign-file sha256 key.pem cert.pem``; the module path is appended).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _native
from ._native import BaseIndex, BaseMap, Btf, RetargetTarget
from .errors import BtfError
from .fileio import PathLike, write_atomically

__all__ = [
    "RetargetReport",
    "RetargetResult",
    "MODULE_SUFFIXES",
    "find_modules",
    "plan_outputs",
    "make_target",
    "retarget_module",
    "retarget_modules",
]

#: File names treated as kernel modules when a directory is searched.
MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
#: The marker ending a signed module (include/linux/module_signature.h MODULE_SIG_STRING).
SIGNATURE_MAGIC = b"~Module signature appended~\n"

BaseLike = Union[None, PathLike, Btf, BaseIndex, RetargetTarget]


@dataclass(frozen=True)
class RetargetReport:
    """What retargeting one module found and did."""

    input_kind: str  # "standalone", "split" (on old_base) or "on-base" (nothing to do)
    types_in: int  # the module's own BTF types before / after
    types_out: int
    btf_bytes_in: int
    btf_bytes_out: int
    btf_ids_fixed: bool  # .BTF_ids present and fixed
    ids_total: int  # id words of .BTF_ids looked at (zeros included)
    ids_changed: int
    ids_by_name: int  # ids the rebase did not map, resolved by kind and name
    sets_resorted: int
    warnings: Tuple[str, ...]
    compression_in: str
    compression_out: str
    signed: bool
    signature_stripped: bool
    patched_in_place: bool  # section sizes unchanged: ELF patched, not re-laid out
    changed: bool
    bytes_in: int
    bytes_out: int
    resigned: bool = False
    input: Optional[str] = None
    output: Optional[str] = None  # None: nothing written (see ``data``)
    data: Optional[bytes] = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class RetargetResult:
    """One module of a batch: its report, or the error that stopped it."""

    input: str
    output: str
    report: Optional[RetargetReport] = None
    error: Optional[str] = None
    error_type: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


#: The core's warning when a changed module's signature is dropped.
_STRIPPED = "module signature stripped (it no longer matches)"
_RESIGNED = "module re-signed with the sign command"


def _report(d: Dict[str, Any], **extra: Any) -> RetargetReport:
    d = dict(d, warnings=tuple(d["warnings"]))
    d.update(extra)
    if d.get("resigned"):
        d["warnings"] = _resigned_warnings(d["warnings"])
    return RetargetReport(**d)


def _resigned_warnings(warnings: Tuple[str, ...]) -> Tuple[str, ...]:
    """A re-signed module's warnings: its signature was stripped, then made anew."""
    return tuple(_RESIGNED if w == _STRIPPED else w for w in warnings)


def make_target(
    base: BaseLike = None,
    old_base: Union[None, PathLike, Btf] = None,
    base_map: Optional[BaseMap] = None,
) -> RetargetTarget:
    """The prepared target kernel: ``base`` is a path, a :class:`Btf`, a
    :class:`BaseIndex` or already a target (None: the running kernel's BTF)."""
    if isinstance(base, RetargetTarget):
        return base
    if base is None:
        base = Btf.vmlinux()
    if not isinstance(base, (Btf, BaseIndex)):
        base = Btf.from_file(base)
    index = base if isinstance(base, BaseIndex) else BaseIndex(base)
    if old_base is not None and not isinstance(old_base, Btf):
        old_base = Btf.from_file(old_base)
    return RetargetTarget(index, old_base, base_map)


def _signature_mode(signature: str, sign_command: Optional[Sequence[str]]) -> str:
    if signature not in ("strip", "keep", "resign"):
        raise ValueError(f"signature must be strip, keep or resign, not {signature!r}")
    if signature == "resign" and not sign_command:
        raise ValueError('signature="resign" needs sign_command (e.g. sign-file hash key cert)')
    return "strip" if signature == "resign" else signature


def _resign(data: bytes, sign_command: Sequence[str], compression: str) -> bytes:
    """Signs the module image in ``data`` with ``sign_command`` (module path appended)
    and compresses it again."""
    elf, _, _ = _native.module_open(data)
    with tempfile.TemporaryDirectory(prefix="btfx-sign-") as d:
        path = os.path.join(d, "module.ko")
        with open(path, "wb") as f:
            f.write(elf)
        done = subprocess.run([*sign_command, path], capture_output=True, text=True)
        if done.returncode != 0:
            raise BtfError(
                f"sign command failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
            )
        with open(path, "rb") as f:
            signed = f.read()
    if not signed.endswith(SIGNATURE_MAGIC):
        raise BtfError("sign command succeeded but the module has no signature trailer")
    return _native.compress(signed, compression)


def retarget_module(
    module: Union[PathLike, bytes],
    base: BaseLike = None,
    *,
    old_base: Union[None, PathLike, Btf] = None,
    mode: str = "dedup",
    out: Optional[PathLike] = None,
    in_place: bool = False,
    signature: str = "strip",
    btf_ids: str = "fix",
    compression: Optional[str] = None,
    sign_command: Optional[Sequence[str]] = None,
    base_map: Optional[BaseMap] = None,
) -> RetargetReport:
    """Retarget one module (a path, or the file's bytes) onto ``base``.

    Writes ``out`` (atomically) or, with ``in_place=True``, replaces the input; with
    neither, nothing is written and the new file's bytes are in ``report.data``.
    ``mode``: ``"dedup"`` (module types equal to vmlinux types use the vmlinux ids, as
    a kbuild split build has) or ``"shift"`` (the 2023 scheme: ids shifted past the
    base). ``btf_ids="keep"`` leaves ``.BTF_ids`` stale (for experiments only).
    ``compression``: output compression (``"none"``, ``"xz"``, ``"zstd"``, ``"gzip"``;
    default: the input's). Raises a :class:`btfx.errors.BtfError` subclass.
    """
    sig = _signature_mode(signature, sign_command)
    if in_place and out is not None:
        raise ValueError("give out or in_place, not both")
    path: Optional[str] = None
    if isinstance(module, (bytes, bytearray, memoryview)):
        if in_place:
            raise ValueError("in_place needs a path, not bytes")
        data = bytes(module)
    else:
        path = os.fspath(module)
        with open(path, "rb") as f:
            data = f.read()
    target = make_target(base, old_base, base_map)
    new, rep = _native.retarget_module_bytes(data, target, mode, btf_ids, sig, compression)
    resigned = False
    if signature == "resign" and rep["changed"]:
        assert sign_command is not None
        new = _resign(new, sign_command, rep["compression_out"])
        resigned = True
    dest = path if in_place else (os.fspath(out) if out is not None else None)
    if dest is not None and (rep["changed"] or resigned or dest != path):
        write_atomically(dest, new, like=path)
    return _report(
        rep,
        resigned=resigned,
        bytes_out=len(new),
        input=path,
        output=dest,
        data=None if dest is not None else new,
    )


def find_modules(paths: Iterable[PathLike]) -> List[Tuple[Path, Path]]:
    """``(module file, path relative to where it was found)`` for each file given and
    each ``*.ko``/``*.ko.xz``/``*.ko.zst``/``*.ko.gz`` under each directory given."""
    found: List[Tuple[Path, Path]] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.name.endswith(MODULE_SUFFIXES):
                    found.append((f, f.relative_to(p)))
        elif p.exists():
            found.append((p, Path(p.name)))
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    return found


def plan_outputs(
    paths: Iterable[PathLike], out_dir: Optional[PathLike], in_place: bool
) -> List[Tuple[str, str]]:
    """``(input, output)`` for every module: in place, or under ``out_dir`` keeping file
    names (and, for directories, relative paths)."""
    if in_place == (out_dir is not None):
        raise ValueError("give exactly one of out_dir and in_place")
    plan: List[Tuple[str, str]] = []
    seen: Dict[str, str] = {}
    for f, rel in find_modules(paths):
        dest = f if in_place else Path(out_dir) / rel  # type: ignore[arg-type]
        key = os.path.abspath(dest)
        if key in seen:
            raise ValueError(f"{f} and {seen[key]} would both be written to {dest}")
        if not in_place and os.path.abspath(f) == key:
            raise ValueError(f"output {dest} is the input itself: use in_place=True")
        seen[key] = str(f)
        plan.append((str(f), str(dest)))
    return plan


def _result(pair: Tuple[str, str], value: Any) -> RetargetResult:
    if isinstance(value, BaseException):
        return RetargetResult(pair[0], pair[1], None, str(value), type(value).__name__)
    return RetargetResult(pair[0], pair[1], _report(value, input=pair[0], output=pair[1]))


def retarget_modules(
    paths: Iterable[PathLike],
    base: BaseLike = None,
    *,
    old_base: Union[None, PathLike, Btf] = None,
    mode: str = "dedup",
    out_dir: Optional[PathLike] = None,
    in_place: bool = False,
    jobs: Optional[int] = None,
    signature: str = "strip",
    btf_ids: str = "fix",
    compression: Optional[str] = None,
    sign_command: Optional[Sequence[str]] = None,
    base_map: Optional[BaseMap] = None,
    progress: Optional[Callable[[int, int, RetargetResult], None]] = None,
) -> List[RetargetResult]:
    """Retarget many modules (files, or directories searched recursively) in parallel.

    The target is prepared once; ``jobs`` worker threads (default: one per core) run
    with the GIL released. Each module's error is kept in its result; nothing stops
    the batch. ``progress(done, total, result)`` is called as modules finish. Results
    are in input order and picklable.
    """
    sig = _signature_mode(signature, sign_command)
    plan = plan_outputs(paths, out_dir, in_place)
    target = make_target(base, old_base, base_map)
    done = [0]

    def on_done(i: int, value: Any) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(plan), _result(plan[i], value))

    values = _native.retarget_files_native(
        plan, target, mode, btf_ids, sig, compression, jobs or 0, on_done
    )
    results = [_result(pair, v) for pair, v in zip(plan, values)]
    if signature == "resign":
        assert sign_command is not None
        results = [_resign_file(r, sign_command) for r in results]
    return results


def _resign_file(r: RetargetResult, sign_command: Sequence[str]) -> RetargetResult:
    if not r.ok or r.report is None or not r.report.changed:
        return r
    try:
        with open(r.output, "rb") as f:
            data = _resign(f.read(), sign_command, r.report.compression_out)
        write_atomically(r.output, data, like=r.input)
    except (OSError, BtfError) as e:
        return RetargetResult(r.input, r.output, None, str(e), type(e).__name__)
    rep = _report({**r.report.__dict__, "resigned": True, "bytes_out": len(data)})
    return RetargetResult(r.input, r.output, rep)
