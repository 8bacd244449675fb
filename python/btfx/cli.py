"""The ``btfx`` command line (also ``python -m btfx``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from typing import List, Optional

from . import Btf, VMLINUX_PATH
from .errors import BtfError


def default_input() -> str:
    """The running kernel's BTF, or the bundled sample when this system has none."""
    if os.path.exists(VMLINUX_PATH):
        return VMLINUX_PATH
    return str(resources.files("btfx") / "data" / "sample.btf")


def _load(path: Optional[str], base_path: Optional[str]) -> Btf:
    base = Btf.from_file(base_path) if base_path else None
    return Btf.from_file(path or default_input(), base)


def cmd_dump(args: argparse.Namespace) -> int:
    btf = _load(args.file, args.base)
    out = sys.stdout.buffer
    if args.format == "json":
        out.write(btf.dump("json").encode())
        out.write(b"\n")
    else:
        out.write(btf.dump_bytes())
    out.flush()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    path = args.file or default_input()
    btf = _load(path, args.base)
    btf.validate(level=args.level, wide=args.wide)
    summary = {
        "file": path,
        "ok": True,
        "level": args.level,
        "types": len(btf),
        "start_id": btf.start_id,
        "split": btf.is_split,
        "byteorder": btf.byteorder,
        "bytes": btf.header["hdr_len"] + btf.header["type_len"] + btf.header["str_len"],
    }
    if args.json:
        print(json.dumps(summary))
    else:
        split = f", split from id {btf.start_id}" if btf.is_split else ""
        print(f"{path}: OK ({args.level}): {len(btf)} types{split}, {btf.byteorder}-endian")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="btfx", description="Parse, check and dump Linux BTF (BPF Type Format)."
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dump", help="print types like 'bpftool btf dump file X format raw'")
    d.add_argument("file", nargs="?", help=f"raw BTF or ELF file (default {VMLINUX_PATH})")
    d.add_argument("-B", "--base", help="base BTF for split BTF (e.g. vmlinux)")
    d.add_argument("-f", "--format", choices=["raw", "json"], default="raw")
    d.set_defaults(func=cmd_dump)

    c = sub.add_parser("check", help="validate BTF with the kernel's rules")
    c.add_argument("file", nargs="?", help=f"raw BTF or ELF file (default {VMLINUX_PATH})")
    c.add_argument("-B", "--base", help="base BTF for split BTF (e.g. vmlinux)")
    c.add_argument(
        "--level",
        choices=["strict", "module"],
        default="strict",
        help="module: what the kernel checks when loading module BTF; strict: BPF_BTF_LOAD",
    )
    c.add_argument("--wide", action="store_true", help="accept the 2026 24-bit vlen encoding")
    c.add_argument("--json", action="store_true", help="machine-readable result")
    c.set_defaults(func=cmd_check)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BtfError as e:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e),
                              "type_id": e.type_id, "offset": e.offset}))
        print(f"btfx: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as e:
        print(f"btfx: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
