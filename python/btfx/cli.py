"""The ``btfx`` command line (also ``python -m btfx``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from typing import List, Optional

from . import VMLINUX_PATH, BaseIndex, Btf, detach, equivalent, rebase, retarget_btf
from .errors import BtfError
from .fileio import write_atomically


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
        out.write(btf.dump("json").encode())  # ends with a newline, as bpftool's
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


def _report(args: argparse.Namespace, result, what: str) -> int:
    write_atomically(args.output, result.to_bytes())
    new = result.btf
    if args.id_map:
        write_atomically(args.id_map, json.dumps(result.id_map).encode())
    if args.json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "output": args.output,
                    "types": len(new),
                    "start_id": new.start_id,
                    "bytes": len(result.to_bytes()),
                }
            )
        )
    else:
        print(f"{args.output}: {what}: {len(new)} types from id {new.start_id}")
    return 0


def cmd_rebase(args: argparse.Namespace) -> int:
    base = Btf.from_file(args.base)
    standalone = Btf.from_file(args.file)
    result = rebase(standalone, BaseIndex(base) if args.mode == "dedup" else base, args.mode)
    return _report(args, result, f"rebased ({args.mode})")


def cmd_detach(args: argparse.Namespace) -> int:
    split = Btf.from_file(args.file, Btf.from_file(args.base))
    return _report(args, detach(split), "detached")


def cmd_retarget_btf(args: argparse.Namespace) -> int:
    split = Btf.from_file(args.file, Btf.from_file(args.old_base))
    result = retarget_btf(split, None, Btf.from_file(args.base))
    return _report(args, result, "retargeted")


def cmd_equiv(args: argparse.Namespace) -> int:
    a_base = Btf.from_file(args.a_base) if args.a_base else None
    b_base = Btf.from_file(args.b_base) if args.b_base else None
    a = Btf.from_file(args.a, a_base)
    b = Btf.from_file(args.b, b_base)
    id_map = None
    if args.id_map:
        with open(args.id_map, "rb") as f:
            try:
                value = json.load(f)
            except ValueError as e:
                raise BtfError(f"{args.id_map}: not JSON: {e}") from e
        id_map = _id_map(value, args.id_map)
    res = equivalent(a, b, exact=args.exact, id_map=id_map)
    if args.json:
        print(json.dumps({"equivalent": res.equivalent, "difference": res.difference}))
    else:
        print("equivalent" if res else f"different: {res.difference}")
    return 0 if res else 3


def _id_map(value: object, path: str) -> List[int]:
    """An id map as ``--id-map`` writes it: a JSON list of type ids."""
    if not isinstance(value, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**32 for x in value
    ):
        raise BtfError(f"{path}: not an id map (a JSON list of type ids)")
    return value


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="raw BTF file to write (atomically)")
    p.add_argument("--id-map", help="also write the old-id -> new-id map as a JSON list")
    p.add_argument("--json", action="store_true", help="machine-readable result")


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

    r = sub.add_parser("rebase", help="rebase standalone BTF onto a base (vmlinux) BTF")
    r.add_argument("file", help="standalone BTF (raw or ELF)")
    r.add_argument("-B", "--base", default=VMLINUX_PATH, help="base BTF (default %(default)s)")
    r.add_argument("--mode", choices=["dedup", "shift"], default="dedup")
    _add_output(r)
    r.set_defaults(func=cmd_rebase)

    d2 = sub.add_parser("detach", help="make split BTF standalone (ids from 1)")
    d2.add_argument("file", help="split BTF (raw or ELF)")
    d2.add_argument("-B", "--base", default=VMLINUX_PATH, help="its base (default %(default)s)")
    _add_output(d2)
    d2.set_defaults(func=cmd_detach)

    t = sub.add_parser("retarget-btf", help="move split BTF from one base onto another")
    t.add_argument("file", help="split BTF (raw or ELF)")
    t.add_argument("--old-base", required=True, help="the base it was built against")
    t.add_argument("-B", "--base", default=VMLINUX_PATH, help="new base (default %(default)s)")
    _add_output(t)
    t.set_defaults(func=cmd_retarget_btf)

    e = sub.add_parser("equiv", help="compare two BTF graphs structurally (exit 3 if different)")
    e.add_argument("a")
    e.add_argument("b")
    e.add_argument("--a-base", help="base of A if A is split")
    e.add_argument("--b-base", help="base of B if B is split")
    e.add_argument(
        "--exact",
        action="store_true",
        help="pair types one-to-one (default: up to duplicates and FWD declarations, "
        "the equivalence libbpf's dedup applies)",
    )
    e.add_argument(
        "--id-map",
        help="pair A's own types with B's through this map (the JSON list rebase, detach "
        "and retarget-btf write with --id-map): checks that B is a rebase of A",
    )
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_equiv)

    from .cli_retarget import add_commands

    add_commands(sub)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BtfError as e:
        if getattr(args, "json", False):
            print(
                json.dumps(
                    {
                        "ok": False,
                        "error": type(e).__name__,
                        "message": str(e),
                        "type_id": e.type_id,
                        "offset": e.offset,
                    }
                )
            )
        print(f"btfx: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as e:
        print(f"btfx: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
