"""Whole-corpus rebase figure: every module of one kernel detached to standalone BTF, then
dedup-rebased onto its vmlinux (a prepared BaseIndex), single-threaded.

Usage: python benches/corpus_rebase.py [--kernel 6.1.0-56-amd64] [--every N] [--repeat R]

Prints the total time of each phase (parse split, detach, parse standalone, dedup rebase)
over all modules, the average per module, and the slowest modules. Module files are read
into memory before timing starts; each phase's figure is the best of `--repeat` passes.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import btfx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.environ.get("BTFX_CORPUS", os.path.join(REPO, "corpus")))
    ap.add_argument("--kernel", default="6.1.0-56-amd64")
    ap.add_argument("--every", type=int, default=1, help="take every N-th module only")
    ap.add_argument("--repeat", type=int, default=1, help="passes; the best one is reported")
    ap.add_argument("--mode", default="dedup", choices=["dedup", "shift"])
    args = ap.parse_args()
    kdir = os.path.join(args.corpus, args.kernel)
    vm_path = os.path.join(kdir, "vmlinux.btf")
    if not os.path.exists(vm_path):
        print(f"no {vm_path} (see scripts/fetch-corpus.sh)")
        return 1
    paths = sorted(glob.glob(os.path.join(kdir, "modules", "**", "*.btf"), recursive=True))
    paths = paths[:: args.every]
    raws = [open(p, "rb").read() for p in paths]
    base = btfx.Btf.from_file(vm_path)
    t0 = time.perf_counter()
    index = btfx.BaseIndex(base)
    t_index = time.perf_counter() - t0
    print(f"{args.kernel}: {len(paths):,} modules, vmlinux {os.path.getsize(vm_path):,} bytes")
    print(f"BaseIndex build            {t_index * 1e3:9.1f} ms (once)")

    best: dict[str, float] = {}
    per_module: list[float] = []
    for _ in range(args.repeat):
        totals = {"parse split": 0.0, "detach": 0.0, "parse standalone": 0.0, "rebase": 0.0}
        rebase_times = []
        for raw in raws:
            t0 = time.perf_counter()
            split = btfx.Btf.from_bytes(raw, base)
            t1 = time.perf_counter()
            detached = btfx.detach(split)
            t2 = time.perf_counter()
            standalone = detached.btf
            t3 = time.perf_counter()
            btfx.rebase(standalone, index, args.mode)
            t4 = time.perf_counter()
            totals["parse split"] += t1 - t0
            totals["detach"] += t2 - t1
            totals["parse standalone"] += t3 - t2
            totals["rebase"] += t4 - t3
            rebase_times.append(t4 - t3)
        if not best or totals["rebase"] < best["rebase"]:
            per_module = rebase_times
        for k, v in totals.items():
            best[k] = min(best.get(k, v), v)
    n = len(raws)
    for k, v in best.items():
        print(f"{k:<26} {v:9.3f} s total  {v / n * 1e3:7.3f} ms avg")
    total = sum(best.values())
    print(f"{'all phases':<26} {total:9.3f} s total  {total / n * 1e3:7.3f} ms avg")
    slow = sorted(zip(per_module, paths), reverse=True)[:3]
    for t, p in slow:
        print(f"  slowest {args.mode}: {t * 1e3:8.2f} ms  {os.path.relpath(p, kdir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
