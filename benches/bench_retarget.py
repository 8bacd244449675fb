"""Batch module retargeting benchmark: every module of a Debian kernel, dedup mode.

Usage: python benches/bench_retarget.py [--kernel 6.1] [--to 6.12] [--limit N]
                                        [--reference-sample 5]

Two input sets, both from the corpus (scripts/fetch-corpus.sh):

* ``split``: the kernel's own modules (signed, split BTF on its vmlinux), retargeted
  onto the other kernel's vmlinux with ``old_base`` — the "kernel was rebuilt" case;
* ``standalone``: the same modules made standalone first (``detach`` + ``.BTF_ids``
  fixed to the standalone ids, written unsigned to a temp dir; not timed), retargeted
  back onto their own vmlinux — the seed's case.

Printed for each: the file-copy floor (read + write of the same files), btfx with 1
and 2 jobs (seconds, modules/s, speed-up), and the pure-Python reference on a sample
(per-module time and the ratio to btfx's single-job per-module time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import btfx  # noqa: E402
from btfx import _native  # noqa: E402
from btfx.btf_ids import BtfIds  # noqa: E402
from btfx.reference import Btf as RefBtf  # noqa: E402
from btfx.reference.retarget import retarget_elf  # noqa: E402
from btfx.retarget import make_target  # noqa: E402

import corpus  # noqa: E402  (tests/corpus.py: the corpus layout)


def kernel(series: str) -> corpus.Kernel:
    for k in corpus.kernels():
        if k.series == series:
            return k
    raise SystemExit(f"no corpus kernel of series {series}: run scripts/fetch-corpus.sh")


def copy_floor(paths: List[str], out: Path) -> float:
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        with open(p, "rb") as f:
            data = f.read()
        with open(out / f"{i}.ko", "wb") as f:
            f.write(data)
    return time.perf_counter() - t0


def run(label: str, paths: List[str], target, tmp: Path, ref_case) -> None:
    total = sum(os.path.getsize(p) for p in paths)
    floor_dir = tmp / f"{label}-copy"
    floor_dir.mkdir()
    floor = copy_floor(paths, floor_dir)
    print(f"{label}: {len(paths)} modules, {total / 1e6:.0f} MB")
    print(f"  file-copy floor          {floor:8.2f} s")
    times = {}
    for jobs in (1, 2):
        out = tmp / f"{label}-out-{jobs}"
        t0 = time.perf_counter()
        results = btfx.retarget_modules(paths, target, out_dir=out, jobs=jobs)
        times[jobs] = time.perf_counter() - t0
        failed = [r for r in results if not r.ok]
        print(
            f"  btfx jobs={jobs}              {times[jobs]:8.2f} s  "
            f"{len(paths) / times[jobs]:7.0f} modules/s  {times[jobs] / floor:5.1f}x copy floor"
            f"  failed {len(failed)}"
        )
        for r in failed[:3]:
            print(f"    FAILED {r.input}: {r.error_type}: {r.error}")
        shutil.rmtree(out)
    print(f"  speed-up 1 -> 2 jobs     {times[1] / times[2]:8.2f}x")
    if ref_case is not None:
        sample, run_ref = ref_case
        t0 = time.perf_counter()
        for p in sample:
            run_ref(p)
        per_ref = (time.perf_counter() - t0) / len(sample)
        t0 = time.perf_counter()
        btfx.retarget_modules(sample, target, out_dir=tmp / f"{label}-sample", jobs=1)
        per_native = (time.perf_counter() - t0) / len(sample)
        print(
            f"  reference (sample of {len(sample)})  {per_ref * 1e3:8.1f} ms/module vs btfx "
            f"{per_native * 1e3:.1f} ms/module: {per_ref / per_native:.0f}x slower"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="6.1")
    ap.add_argument("--to", default="6.12")
    ap.add_argument("--limit", type=int, default=0, help="only the first N modules")
    ap.add_argument("--reference-sample", type=int, default=5)
    ap.add_argument("--only", choices=["split", "standalone"])
    args = ap.parse_args()
    src, dst = kernel(args.kernel), kernel(args.to)
    mods = src.modules()
    if args.limit:
        mods = mods[: args.limit]
    paths = [str(m.ko) for m in mods]
    base_src = btfx.Btf.from_file(src.vmlinux_btf)
    base_dst = btfx.Btf.from_file(dst.vmlinux_btf)
    t0 = time.perf_counter()
    index_src, index_dst = btfx.BaseIndex(base_src), btfx.BaseIndex(base_dst)
    print(f"base indexes: {(time.perf_counter() - t0) / 2 * 1e3:.0f} ms each")
    t0 = time.perf_counter()
    cross = make_target(index_dst, base_src)
    print(f"base map {src.name} -> {dst.name}: {time.perf_counter() - t0:.2f} s (once per pair)")
    ref_src, ref_dst = RefBtf.from_file(src.vmlinux_btf), RefBtf.from_file(dst.vmlinux_btf)
    sample = paths[:: max(1, len(paths) // args.reference_sample)][: args.reference_sample]

    with tempfile.TemporaryDirectory(prefix="btfx-bench-") as d:
        tmp = Path(d)
        if args.only in (None, "split"):
            run(
                "split",
                paths,
                cross,
                tmp,
                (
                    sample,
                    lambda p: retarget_elf(
                        _native.module_open(Path(p).read_bytes())[0], ref_dst, ref_src
                    ),
                ),
            )
        if args.only in (None, "standalone"):
            sdir = tmp / "standalone-in"
            sdir.mkdir()
            spaths = []
            for i, p in enumerate(paths):
                elf = _native.module_open(Path(p).read_bytes())[0]
                d_ = btfx.detach(btfx.Btf.from_bytes(elf, base_src))
                repl = {".BTF": d_.to_bytes()}
                ids = BtfIds.from_bytes(elf)
                if ids is not None:
                    repl[".BTF_ids"] = ids.fixup(d_.id_map)[0]
                out = sdir / f"{i:05d}-{Path(p).name}"
                out.write_bytes(_native.elf_replace_sections(elf, repl))
                spaths.append(str(out))
            ssample = spaths[:: max(1, len(spaths) // args.reference_sample)][
                : args.reference_sample
            ]
            run(
                "standalone",
                spaths,
                make_target(index_src),
                tmp,
                (ssample, lambda p: retarget_elf(Path(p).read_bytes(), ref_src)),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
