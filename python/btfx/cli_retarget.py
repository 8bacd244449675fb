"""``btfx retarget`` and ``btfx ids``: module retargeting from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from collections import Counter
from importlib import resources
from typing import Any, Dict, List

from . import VMLINUX_PATH, Btf
from .btf_ids import BtfIds
from .retarget import RetargetResult, retarget_modules

#: A small module with standalone BTF and a kfunc set, built by
#: scripts/build-fixture-module.sh (tests/fixtures/kfunc_module) for Debian's 6.12 kernel.
EXAMPLE_MODULE = resources.files("btfx") / "data" / "example-standalone.ko"


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.monotonic()
        self.failed = 0

    def __call__(self, done: int, total: int, result: RetargetResult) -> None:
        self.failed += not result.ok
        if not self.enabled:
            return
        width = 30
        filled = width * done // max(total, 1)
        rate = done / max(time.monotonic() - self.start, 1e-9)
        bar = "#" * filled + "." * (width - filled)
        failed = f", {self.failed} failed" if self.failed else ""
        sys.stderr.write(f"\r[{bar}] {done}/{total} ({rate:.0f}/s{failed})")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _as_json(r: RetargetResult) -> Dict[str, Any]:
    d: Dict[str, Any] = {"input": r.input, "output": r.output, "ok": r.ok}
    if r.report is not None:
        rep = dataclasses.asdict(r.report)
        for k in ("input", "output", "data"):
            rep.pop(k)
        rep["warnings"] = list(rep["warnings"])
        d["report"] = rep
    else:
        d["error"] = r.error
        d["error_type"] = r.error_type
    return d


def _summary(results: List[RetargetResult], seconds: float) -> str:
    ok = [r for r in results if r.ok and r.report is not None]
    failed = [r for r in results if not r.ok]
    kinds = Counter(r.report.input_kind for r in ok if r.report is not None)
    rows = [
        ("modules", str(len(results))),
        ("retargeted", str(sum(1 for r in ok if r.report and r.report.changed))),
        ("unchanged (already on base)", str(kinds.get("on-base", 0))),
        ("input standalone / split", f"{kinds.get('standalone', 0)} / {kinds.get('split', 0)}"),
        (".BTF_ids fixed", str(sum(1 for r in ok if r.report and r.report.btf_ids_fixed))),
        (
            "signatures stripped",
            str(
                sum(
                    1
                    for r in ok
                    if r.report and r.report.signature_stripped and not r.report.resigned
                )
            ),
        ),
        ("signatures re-signed", str(sum(1 for r in ok if r.report and r.report.resigned))),
        ("failed", str(len(failed))),
        ("time", f"{seconds:.2f} s ({len(results) / max(seconds, 1e-9):.0f} modules/s)"),
    ]
    w = max(len(k) for k, _ in rows)
    lines = [f"  {k:<{w}}  {v}" for k, v in rows]
    for r in failed[:20]:
        lines.append(f"  FAILED {r.input}: {r.error_type}: {r.error}")
    if len(failed) > 20:
        lines.append(f"  ... and {len(failed) - 20} more failures")
    return "\n".join(lines)


def cmd_retarget(args: argparse.Namespace) -> int:
    if args.in_place == (args.output_dir is not None):
        print("btfx retarget: give -o DIR or --in-place", file=sys.stderr)
        return 2
    modules = list(args.modules)
    if args.example:
        modules.append(str(EXAMPLE_MODULE))
    if not modules:
        print("btfx retarget: give modules or directories (or --example)", file=sys.stderr)
        return 2
    sign_command = shlex.split(args.sign_command) if args.sign_command else None
    start = time.monotonic()
    progress = Progress(not args.json and not args.quiet)
    results = retarget_modules(
        modules,
        args.base,
        old_base=args.old_base,
        mode=args.mode,
        out_dir=args.output_dir,
        in_place=args.in_place,
        jobs=args.jobs,
        signature=args.signature,
        btf_ids=args.btf_ids,
        compression=args.compression,
        sign_command=sign_command,
        progress=progress,
    )
    seconds = time.monotonic() - start
    failed = sum(not r.ok for r in results)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": failed == 0,
                    "modules": len(results),
                    "failed": failed,
                    "seconds": round(seconds, 3),
                    "results": [_as_json(r) for r in results],
                }
            )
        )
    else:
        if len(results) == 1 and not args.quiet:
            r = results[0]
            if r.ok and r.report is not None:
                rep = r.report
                print(
                    f"{r.input} -> {r.output}: {rep.input_kind}, {rep.types_in} -> "
                    f"{rep.types_out} types, {rep.ids_changed}/{rep.ids_total} .BTF_ids ids "
                    f"changed, {rep.sets_resorted} sets re-sorted"
                )
                for w in rep.warnings:
                    print(f"  warning: {w}")
        if not args.quiet or failed:
            print(_summary(results, seconds))
    if not results:
        print("btfx retarget: no modules found", file=sys.stderr)
        return 1
    return 1 if failed else 0


def cmd_ids(args: argparse.Namespace) -> int:
    ids = BtfIds.from_file(args.file)
    if ids is None:
        print(f"{args.file}: no .BTF_ids section")
        return 1
    btf = Btf.from_file(args.file, Btf.from_file(args.base)) if args.base else None
    if args.json:
        out: Dict[str, Any] = {
            "file": args.file,
            "big_endian": ids.big_endian,
            "section_offset": ids.section_offset,
            "section_size": ids.section_size,
            "entries": [dict(dataclasses.asdict(e), type=type(e).__name__) for e in ids.entries],
        }
        if btf is not None:
            out["problems"] = [dataclasses.asdict(p) for p in ids.check(btf)]
        print(json.dumps(out))
        return 1 if out.get("problems") else 0
    print(ids.listing(btf))
    return 1 if btf is not None and ids.check(btf) else 0


def add_commands(sub: Any) -> None:
    r = sub.add_parser(
        "retarget",
        help="retarget modules' BTF and .BTF_ids onto a vmlinux BTF",
        description="Rebase each module's .BTF onto --base (standalone or split on "
        "--old-base) and fix its .BTF_ids; directories are searched for *.ko, *.ko.xz, "
        "*.ko.zst, *.ko.gz. Exit status 1 if any module failed.",
    )
    r.add_argument("modules", nargs="*", help="module files or directories")
    r.add_argument(
        "--example",
        action="store_true",
        help="also retarget the bundled example module (standalone BTF, kfuncs in .BTF_ids)",
    )
    r.add_argument(
        "-B", "--base", default=VMLINUX_PATH, help="target vmlinux BTF or ELF (default %(default)s)"
    )
    r.add_argument("--old-base", help="the vmlinux the modules' split BTF was built against")
    r.add_argument("--mode", choices=["dedup", "shift"], default="dedup")
    r.add_argument("-o", "--output-dir", help="write outputs here (same names/relative paths)")
    r.add_argument("--in-place", action="store_true", help="replace the input files")
    r.add_argument("-j", "--jobs", type=int, default=None, help="worker threads (default: cores)")
    r.add_argument(
        "--signature",
        choices=["strip", "keep", "resign"],
        default="strip",
        help="signed modules: strip the signature (default), keep = refuse to change "
        "them, resign with --sign-command",
    )
    r.add_argument("--sign-command", help='e.g. "/path/sign-file sha256 key.pem cert.pem"')
    r.add_argument(
        "--btf-ids", choices=["fix", "keep"], default="fix", help="keep: leave .BTF_ids stale"
    )
    r.add_argument(
        "--compression",
        choices=["none", "xz", "zstd", "gzip"],
        help="output compression (default: as the input)",
    )
    r.add_argument("--json", action="store_true", help="one JSON document with every result")
    r.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    r.set_defaults(func=cmd_retarget)

    i = sub.add_parser("ids", help="list a module's .BTF_ids (kfunc sets, id lists)")
    i.add_argument("file", help="module (.ko, .ko.xz, ...) or other ELF file")
    i.add_argument("-B", "--base", help="vmlinux BTF: show and check what each id names")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_ids)
