#!/usr/bin/env python3
"""Turn one extracted Debian kernel image package into btfx's test corpus.

Called by ``fetch-corpus.sh`` once ``KDIR/deb`` holds the ``dpkg-deb -x`` tree::

    build_corpus.py build KDIR --kernel KVER --series 6.1 --package NAME --version VER
    build_corpus.py is-complete KDIR --version VER    # exit 0 when nothing is left to do

It writes, inside ``KDIR``:

* ``vmlinux`` (the ELF from the bzImage) and ``vmlinux.btf`` (its ``.BTF`` section);
* ``modules/<path under lib/modules/KVER, without .ko[.xz|.zst|.gz]>.btf`` for every module;
* ``bpftool/vmlinux.raw.txt`` and ``bpftool/vmlinux.json`` (``bpftool -j``), and for a
  deterministic sample of modules ``bpftool/modules/<path>.raw.txt`` (some also ``.json``),
  dumped against ``vmlinux.btf`` as base (``bpftool -B``);
* ``MANIFEST.json``, written last: its presence means the directory is complete.

Every step is skipped when its output is already there, so re-running is cheap.
Module ``.BTF`` extraction runs in this one process (threads: lzma and zstd release the GIL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract_vmlinux import (  # noqa: E402
    ExtractError,
    elf_sections,
    extract,
    read_maybe_compressed,
)

# Bump when the layout or the manifest changes: older corpora are then rebuilt.
CORPUS_FORMAT = 1

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")

# Sampled for bpftool comparison whenever present: the modules with .BTF_ids, the largest
# module, one with an empty split string section, one tiny and common one.
FORCED_SAMPLE = (
    "tcp_bbr",
    "tcp_dctcp",
    "nf_conntrack",
    "nf_nat",
    "fou",
    "nf_flow_table",
    "xfrm_interface",
    "amdgpu",
    "cast_common",
    "dummy",
)
FORCED_JSON = ("tcp_bbr", "tcp_dctcp", "nf_conntrack", "nf_nat", "cast_common")
MIN_SAMPLE = 250
JSON_SAMPLE = 20


def log(msg: str) -> None:
    print(f"  {msg}", flush=True)


def write_atomic(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def strip_module_suffix(rel: str) -> str:
    for suf in sorted(MODULE_SUFFIXES, key=len, reverse=True):
        if rel.endswith(suf):
            return rel[: -len(suf)]
    raise ValueError(rel)


# ---------------------------------------------------------------------------
# modules


def find_modules(moddir: str) -> List[str]:
    """Module paths relative to ``moddir``, sorted."""
    found = []
    for root, _dirs, files in os.walk(moddir):
        for name in files:
            if name.endswith(MODULE_SUFFIXES):
                found.append(os.path.relpath(os.path.join(root, name), moddir))
    return sorted(found)


def module_btf(path: str) -> Tuple[bytes | None, bool, bool]:
    """(.BTF contents or None, has .BTF_ids, has .BTF.base) of one module file."""
    data = read_maybe_compressed(path)
    secs = elf_sections(data)
    sec = secs.get(".BTF")
    btf = data[sec.offset : sec.offset + sec.size] if sec is not None else None
    return btf, ".BTF_ids" in secs, ".BTF.base" in secs


def extract_modules(kdir: str, moddir: str) -> List[Dict[str, Any]]:
    """Write ``KDIR/modules/**.btf``; return one manifest entry per module."""
    rels = find_modules(moddir)
    if not rels:
        raise ExtractError(f"no modules under {moddir}")
    out_dir = os.path.join(kdir, "modules")
    tmp_dir = out_dir + ".partial"
    shutil.rmtree(tmp_dir, ignore_errors=True)

    def one(rel: str) -> Dict[str, Any]:
        try:
            btf, has_ids, has_base = module_btf(os.path.join(moddir, rel))
        except Exception as e:
            raise ExtractError(f"{rel}: {e}") from e
        stem = strip_module_suffix(rel)
        entry: Dict[str, Any] = {
            "path": rel,
            "name": os.path.basename(stem),
            "btf": None,
            "btf_size": 0,
            "has_btf_ids": has_ids,
            "has_btf_base": has_base,
        }
        if btf is not None:
            dst = os.path.join(tmp_dir, stem + ".btf")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(btf)
            entry["btf"] = "modules/" + stem + ".btf"
            entry["btf_size"] = len(btf)
        return entry

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        entries = list(pool.map(one, rels))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp_dir, out_dir)
    return entries


# ---------------------------------------------------------------------------
# bpftool reference dumps


def choose_samples(entries: List[Dict[str, Any]]) -> Tuple[List[dict], List[dict]]:
    """Deterministic sample: every k-th module with BTF (sorted by path) plus FORCED_SAMPLE.

    Returns (raw sample, json sample), both sorted by path.
    """
    with_btf = [e for e in entries if e["btf"]]
    n = len(with_btf)
    k = max(1, n // MIN_SAMPLE)
    picked = {e["path"]: e for e in with_btf[::k]}
    for e in with_btf:
        if e["name"] in FORCED_SAMPLE:
            picked[e["path"]] = e
    sample = [picked[p] for p in sorted(picked)]

    json_picked = {e["path"]: e for e in sample if e["name"] in FORCED_JSON}
    rest = [e for e in sample if e["path"] not in json_picked and e["name"] != "amdgpu"]
    want = max(0, JSON_SAMPLE - len(json_picked))
    if want and rest:
        step = max(1, len(rest) // want)
        for e in rest[::step][:want]:
            json_picked[e["path"]] = e
    json_sample = [json_picked[p] for p in sorted(json_picked)]
    return sample, json_sample


def run_bpftool(args: List[str], out_path: str) -> None:
    res = subprocess.run(["bpftool", *args], capture_output=True)
    if res.returncode != 0:
        raise ExtractError(
            f"bpftool {' '.join(args)} failed ({res.returncode}): "
            f"{res.stderr.decode(errors='replace').strip()}"
        )
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    write_atomic(out_path, res.stdout)


def bpftool_version() -> str:
    res = subprocess.run(["bpftool", "--version"], stdout=subprocess.PIPE, check=True)
    return " / ".join(line.strip() for line in res.stdout.decode().splitlines()[:2])


def count_raw_types(path: str) -> int:
    """Number of types in a ``format raw`` dump: one line starting with ``[`` per type."""
    with open(path, "rb") as f:
        return sum(1 for line in f if line.startswith(b"["))


def bpftool_dumps(kdir: str, sample: List[dict], json_sample: List[dict]) -> Dict[str, Any]:
    bdir = os.path.join(kdir, "bpftool")
    vm = os.path.join(kdir, "vmlinux.btf")
    jobs: List[Tuple[List[str], str]] = [
        (["btf", "dump", "file", vm, "format", "raw"], os.path.join(bdir, "vmlinux.raw.txt")),
        (["-j", "btf", "dump", "file", vm, "format", "raw"], os.path.join(bdir, "vmlinux.json")),
    ]
    json_paths = {e["path"] for e in json_sample}
    samples_out = []
    for e in sample:
        stem = strip_module_suffix(str(e["path"]))
        btf = os.path.join(kdir, str(e["btf"]))
        raw_rel = f"bpftool/modules/{stem}.raw.txt"
        jobs.append(
            (["-B", vm, "btf", "dump", "file", btf, "format", "raw"], os.path.join(kdir, raw_rel))
        )
        item = {"name": e["name"], "path": e["path"], "btf": e["btf"], "raw": raw_rel}
        if e["path"] in json_paths:
            json_rel = f"bpftool/modules/{stem}.json"
            jobs.append(
                (
                    ["-j", "-B", vm, "btf", "dump", "file", btf, "format", "raw"],
                    os.path.join(kdir, json_rel),
                )
            )
            item["json"] = json_rel
        samples_out.append(item)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda j: run_bpftool(*j), jobs))

    for item in samples_out:
        item["types"] = count_raw_types(os.path.join(kdir, item["raw"]))
    return {
        "version": bpftool_version(),
        "vmlinux_raw": "bpftool/vmlinux.raw.txt",
        "vmlinux_json": "bpftool/vmlinux.json",
        "vmlinux_types": count_raw_types(os.path.join(bdir, "vmlinux.raw.txt")),
        "samples": samples_out,
        "json_sample_count": len(json_sample),
    }


# ---------------------------------------------------------------------------
# driver


def manifest_path(kdir: str) -> str:
    return os.path.join(kdir, "MANIFEST.json")


def is_complete(kdir: str, version: str | None) -> bool:
    try:
        with open(manifest_path(kdir)) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return False
    if m.get("format") != CORPUS_FORMAT:
        return False
    return version is None or m.get("package_version") == version


def build(args: argparse.Namespace) -> int:
    kdir = os.path.abspath(args.kdir)
    kver = args.kernel
    moddir = os.path.join(kdir, "deb", "lib", "modules", kver)
    bzimage = os.path.join(kdir, "deb", "boot", f"vmlinuz-{kver}")
    for p in (moddir, bzimage):
        if not os.path.exists(p):
            raise ExtractError(f"{p} missing: is {kdir}/deb the extracted image package?")
    timings: Dict[str, float] = {}

    # A rebuild starts from scratch for everything derived (cheap next to the download).
    if os.path.exists(manifest_path(kdir)):
        os.remove(manifest_path(kdir))
    for stale in ("bpftool", "modules"):
        shutil.rmtree(os.path.join(kdir, stale), ignore_errors=True)

    t = time.monotonic()
    vm = extract(bzimage, os.path.join(kdir, "vmlinux"), os.path.join(kdir, "vmlinux.btf"))
    timings["vmlinux"] = time.monotonic() - t
    log(
        f"vmlinux: {vm['compression']} payload -> {vm['vmlinux_size']:,} B ELF, "
        f".BTF {vm['btf_size']:,} B ({timings['vmlinux']:.1f}s)"
    )

    t = time.monotonic()
    entries = extract_modules(kdir, moddir)
    timings["modules"] = time.monotonic() - t
    with_btf = [e for e in entries if e["btf"]]
    total = sum(int(e["btf_size"]) for e in with_btf)
    log(
        f"modules: {len(entries)} files, {len(with_btf)} with .BTF ({total:,} B), "
        f"{sum(1 for e in entries if e['has_btf_ids'])} with .BTF_ids "
        f"({timings['modules']:.1f}s)"
    )

    t = time.monotonic()
    sample, json_sample = choose_samples(entries)
    bpf = bpftool_dumps(kdir, sample, json_sample)
    timings["bpftool"] = time.monotonic() - t
    log(
        f"bpftool: vmlinux ({bpf['vmlinux_types']:,} types) + {len(sample)} module raw dumps, "
        f"{len(json_sample)} JSON ({timings['bpftool']:.1f}s)"
    )

    manifest = {
        "format": CORPUS_FORMAT,
        "series": args.series,
        "kernel": kver,
        "package": args.package,
        "package_version": args.version,
        "bzimage": os.path.relpath(bzimage, kdir),
        "modules_root": os.path.relpath(moddir, kdir),
        "vmlinux": {
            "elf": "vmlinux",
            "btf": "vmlinux.btf",
            "compression": vm["compression"],
            "elf_size": vm["vmlinux_size"],
            "btf_size": vm["btf_size"],
            "has_btf_ids": vm["has_btf_ids"],
            "types": bpf["vmlinux_types"],
        },
        "counts": {
            "modules": len(entries),
            "modules_with_btf": len(with_btf),
            "modules_with_btf_ids": sum(1 for e in entries if e["has_btf_ids"]),
            "modules_with_btf_base": sum(1 for e in entries if e["has_btf_base"]),
            "module_btf_bytes": total,
            "bpftool_samples": len(sample),
            "bpftool_json_samples": len(json_sample),
        },
        "bpftool": bpf,
        "modules": entries,
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    write_atomic(manifest_path(kdir), (json.dumps(manifest, indent=1) + "\n").encode())
    return 0


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("kdir")
    b.add_argument("--kernel", required=True, help="kernel release, e.g. 6.1.0-56-amd64")
    b.add_argument("--series", required=True, help="e.g. 6.1")
    b.add_argument("--package", required=True)
    b.add_argument("--version", required=True)
    c = sub.add_parser("is-complete")
    c.add_argument("kdir")
    c.add_argument("--version")
    args = ap.parse_args(argv)
    if args.cmd == "is-complete":
        return 0 if is_complete(args.kdir, args.version) else 1
    try:
        return build(args)
    except ExtractError as e:
        print(f"build_corpus: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
