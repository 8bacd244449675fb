"""btfx benchmarks: ratios against libbpf, bpftool and the pure-Python reference,
all measured in this one process on the same inputs.

Usage: python benches/bench.py [--vmlinux PATH] [--module PATH --module-base PATH]
                               [--libbpf PATH]

Defaults: /sys/kernel/btf/vmlinux (or the corpus vmlinux) and the largest-but-typical
module of the corpus (see scripts/fetch-corpus.sh). Prints one line per measurement.
Parse + strict validation is also measured against the naive C one-visit walk of
benches/naive_visit.c; shift rebase against two floors: a plain copy of the input, and
the naive C copy-and-rewrite of benches/naive_shift.c (both built with the system C
compiler).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Callable, Optional

import btfx
from btfx import reference

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_of(fn: Callable[[], object], repeat: int = 20, number: int = 1) -> float:
    """Minimum wall time of `number` calls, over `repeat` rounds, per call (seconds)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times)


def median_after_idle(fn: Callable[[], object], idle: float, repeat: int = 20) -> float:
    """Median wall time of `repeat` calls, each after sleeping `idle` seconds: the CPUs
    go idle, as between a caller's other work (see rust/btfx-core/src/placement.rs)."""
    times = []
    for _ in range(repeat):
        time.sleep(idle)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def load_libbpf(path: Optional[str] = None) -> Optional[ctypes.CDLL]:
    """libbpf at `path` (an error if it does not load), else the system's (Debian's
    libbpf1; None if there is none)."""
    name = path or ctypes.util.find_library("bpf") or "libbpf.so.1"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as e:
        if path:
            raise SystemExit(f"--libbpf {path}: {e}") from e
        return None
    lib.btf__new.restype = ctypes.c_void_p
    lib.btf__new.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    # libbpf 1.1 (Debian bookworm) has no btf__new_split: split BTF is read from a file.
    lib.btf__parse_raw_split.restype = ctypes.c_void_p
    lib.btf__parse_raw_split.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.btf__new_empty_split.restype = ctypes.c_void_p
    lib.btf__new_empty_split.argtypes = [ctypes.c_void_p]
    lib.btf__add_btf.restype = ctypes.c_int
    lib.btf__add_btf.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.btf__dedup.restype = ctypes.c_int
    lib.btf__dedup.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.btf__raw_data.restype = ctypes.c_void_p
    lib.btf__raw_data.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    lib.btf__free.argtypes = [ctypes.c_void_p]
    lib.btf__free.restype = None
    return lib


def c_floor(name: str, argtypes: list) -> Optional[Callable[..., int]]:
    """Function `name` of benches/<name>.c (returning a uint32), built with the system C
    compiler (-O2) into a temporary directory and loaded. None without a compiler, or
    on a big-endian host (the floors read little-endian BTF)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or sys.byteorder != "little":
        return None
    src = os.path.join(REPO, "benches", f"{name}.c")
    with tempfile.TemporaryDirectory(prefix="btfx-bench-") as tmp:
        out = os.path.join(tmp, f"{name}.so")
        subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", out, src], check=True)
        # Loaded, the library outlives its file.
        fn = getattr(ctypes.CDLL(out), name)
    fn.argtypes = argtypes
    fn.restype = ctypes.c_uint32
    return fn


def load_naive_visit() -> Optional[Callable[[bytes, bytearray], int]]:
    """The naive C one-visit floor (benches/naive_visit.c): one walk over the records in
    id order, one byte read per referenced lower id. Returns the record count."""
    u32, ptr = ctypes.c_uint32, ctypes.c_void_p
    fn = c_floor("naive_visit", [ctypes.c_char_p, u32, ptr, u32])
    if fn is None:
        return None
    return lambda raw, seen: fn(
        raw, len(raw), (ctypes.c_char * len(seen)).from_buffer(seen), len(seen)
    )


def load_naive_shift() -> Optional[Callable[[bytes, int, int], bytearray]]:
    """The naive C copy-and-rewrite floor (benches/naive_shift.c): a copy of the input
    in Python, then one C walk over the records that rewrites it in place. None without
    a compiler."""
    u32 = ctypes.c_uint32
    fn = c_floor("naive_shift", [ctypes.c_void_p, u32, u32, u32])
    if fn is None:
        return None

    def naive(raw: bytes, by_id: int, by_str: int) -> bytearray:
        buf = bytearray(raw)
        fn((ctypes.c_char * len(buf)).from_buffer(buf), len(buf), by_id, by_str)
        return buf

    return naive


def libbpf_version(lib: ctypes.CDLL) -> str:
    """libbpf's own version string (before 1.3, `btf__new` only copies and indexes: it
    has no per-type sanity pass)."""
    fn = getattr(lib, "libbpf_version_string", None)
    if fn is None:
        return "version unknown"
    fn.restype = ctypes.c_char_p
    return fn().decode()


def bench_visit_floor(data: bytes, nr_types: int, t_native: float, repeat: int) -> None:
    """The naive C one-visit floor (benches/naive_visit.c) on standalone BTF `data`."""
    if data[:2] != b"\x9f\xeb":
        print("naive C one-visit floor: reads little-endian BTF only")
        return
    visit = load_naive_visit()
    if visit is None:
        print("naive C one-visit floor: no C compiler (apt-get install gcc)")
        return
    seen = bytearray(nr_types + 1)
    if visit(data, seen) != nr_types:
        raise SystemExit("naive C one-visit floor disagrees with btfx on the record count")
    t_visit = best_of(lambda: visit(data, seen), repeat, number=5)
    print(
        f"naive C one-visit floor           {fmt(t_visit)}   "
        f"btfx parse+strict / floor = {t_native / t_visit:.2f}x   (one walk, one thread)"
    )


def corpus_dir() -> str:
    return os.environ.get("BTFX_CORPUS", os.path.join(REPO, "corpus"))


def default_inputs(args: argparse.Namespace) -> None:
    if args.vmlinux is None:
        if os.path.exists(btfx.VMLINUX_PATH):
            args.vmlinux = btfx.VMLINUX_PATH
        else:
            found = sorted(glob.glob(os.path.join(corpus_dir(), "*", "vmlinux.btf")))
            args.vmlinux = found[-1] if found else None
    if args.module is None:
        # A module-sized split BTF from the corpus: the one closest to 425 KB (its
        # detached, standalone form is used for the rebase benchmarks).
        for vm in sorted(glob.glob(os.path.join(corpus_dir(), "*", "vmlinux.btf"))):
            mods = glob.glob(
                os.path.join(os.path.dirname(vm), "modules", "**", "*.btf"), recursive=True
            )
            if mods:
                args.module = min(mods, key=lambda p: abs(os.path.getsize(p) - 425_000))
                args.module_base = vm
                if args.rebase_module is None:
                    # Rebase input: the module whose detached (standalone) form is closest
                    # to 5,000 types, among a deterministic sample.
                    base = btfx.Btf.from_file(vm)
                    sample = sorted(mods)[::25]
                    sizes = {p: len(btfx.detach(btfx.Btf.from_file(p, base)).btf) for p in sample}
                    args.rebase_module = min(sizes, key=lambda p: abs(sizes[p] - 5000))
                break


def bench_rebase(args: argparse.Namespace, libbpf: Optional[ctypes.CDLL]) -> None:
    """Rebase (docs/rebase.md): shift and dedup vs libbpf add_btf(+dedup) and floors."""
    base_raw = open(args.module_base or args.vmlinux, "rb").read()
    base = btfx.Btf.from_bytes(base_raw)
    t_index = best_of(lambda: btfx.BaseIndex(base), 5)
    index = btfx.BaseIndex(base)
    print(f"btfx BaseIndex(vmlinux) build     {fmt(t_index)}   (once per base)")
    cases = [("vmlinux as standalone", base_raw)]
    for path in (args.module, args.rebase_module):
        if path:
            standalone = btfx.detach(btfx.Btf.from_file(path, base)).to_bytes()
            cases.append((f"detached {os.path.basename(path)}", standalone))
    naive = load_naive_shift()
    if naive is None:
        print("naive C shift floor: no C compiler (apt-get install gcc)")
    for label, raw in cases:
        bench_rebase_case(label, raw, base, base_raw, index, args, libbpf, naive)


def bench_rebase_case(
    label: str,
    raw: bytes,
    base: btfx.Btf,
    base_raw: bytes,
    index: btfx.BaseIndex,
    args: argparse.Namespace,
    libbpf: Optional[ctypes.CDLL],
    naive: Optional[Callable[[bytes, int, int], bytearray]],
) -> None:
    m = btfx.Btf.from_bytes(raw)
    print(f"-- {label}: {len(m):,} types, {len(raw):,} bytes")
    t_floor = best_of(lambda: bytes(bytearray(raw)), args.repeat, number=5)
    t_shift = best_of(lambda: btfx.rebase(m, base, "shift"), args.repeat, number=5)
    t_parse_shift = best_of(
        lambda: btfx.rebase(btfx.Btf.from_bytes(raw), base, "shift"), args.repeat, number=5
    )
    # Bytes in: one pass finds and rewrites the records (what a tool holding a module's
    # .BTF section calls); the same work libbpf's btf__new + add_btf does below.
    t_shift_py = best_of(lambda: btfx.rebase(raw, base, "shift"), args.repeat, number=5)
    print(
        f"   shift rebase                   {fmt(t_shift)}   copy floor {fmt(t_floor)}"
        f"   shift/floor = {t_shift / t_floor:.1f}x"
    )
    print(f"   parse, then shift rebase       {fmt(t_parse_shift)}")
    print(
        f"   shift rebase from bytes        {fmt(t_shift_py)}   "
        f"shift/floor = {t_shift_py / t_floor:.1f}x"
    )
    if naive is not None:
        # Issue 3's floor: a naive linear copy-and-rewrite in C (no checks), same output.
        by_id, by_str = base.last_id, base.header["str_len"]
        if bytes(naive(raw, by_id, by_str)) != btfx.rebase(raw, base, "shift").to_bytes():
            raise SystemExit("naive C shift floor disagrees with btfx: fix benches/naive_shift.c")
        t_naive = best_of(lambda: naive(raw, by_id, by_str), args.repeat, number=5)
        print(
            f"   naive C copy-and-rewrite floor {fmt(t_naive)}   "
            f"btfx/naive: parsed {t_shift / t_naive:.2f}x, from bytes {t_shift_py / t_naive:.2f}x"
        )
    if libbpf is not None:
        lbase = libbpf.btf__new(ctypes.create_string_buffer(base_raw, len(base_raw)), len(base_raw))
        mbuf = ctypes.create_string_buffer(raw, len(raw))

        def libbpf_add(dedup: bool) -> None:
            src = libbpf.btf__new(mbuf, len(raw))
            dst = libbpf.btf__new_empty_split(lbase)
            if not src or not dst or libbpf.btf__add_btf(dst, src) < 0:
                raise OSError(ctypes.get_errno(), "btf__add_btf failed")
            if dedup and libbpf.btf__dedup(dst, None) < 0:
                raise OSError(ctypes.get_errno(), "btf__dedup failed")
            size = ctypes.c_uint32()
            libbpf.btf__raw_data(dst, ctypes.byref(size))
            libbpf.btf__free(dst)
            libbpf.btf__free(src)

        t_ladd = best_of(lambda: libbpf_add(False), max(3, args.repeat // 2))
        print(
            f"   libbpf new+add_btf+raw_data    {fmt(t_ladd)}   "
            f"libbpf/btfx shift = {t_ladd / t_shift_py:.0f}x"
        )
    if len(m) > 20_000:
        return  # dedup of all of vmlinux onto itself is not a module-sized job
    t_dedup = best_of(lambda: btfx.rebase(m, index), args.repeat)
    print(f"   dedup rebase (prepared index)  {fmt(t_dedup)}")
    if libbpf is not None:
        t_ldedup = best_of(lambda: libbpf_add(True), max(3, args.repeat // 2))
        print(
            f"   libbpf add_btf+dedup           {fmt(t_ldedup)}   "
            f"libbpf/btfx dedup = {t_ldedup / t_dedup:.1f}x"
        )
        libbpf.btf__free(lbase)
    rbase = reference.Btf.from_bytes(base_raw)
    rm = reference.Btf.from_bytes(raw)
    t_rshift = best_of(lambda: reference.rebase(rm, rbase, "shift"), 1)
    t_rdedup = best_of(lambda: reference.rebase(rm, rbase, "dedup"), 1)
    print(
        f"   reference shift / dedup        {fmt(t_rshift)} / {fmt(t_rdedup)}   "
        f"ratios {t_rshift / t_shift:.0f}x / {t_rdedup / t_dedup:.0f}x"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmlinux")
    ap.add_argument("--module")
    ap.add_argument("--module-base")
    ap.add_argument("--rebase-module", help="split BTF whose detached form is rebased")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument(
        "--libbpf", help="libbpf shared library to compare with (default: the system's)"
    )
    args = ap.parse_args()
    default_inputs(args)
    if args.vmlinux is None:
        print("no vmlinux BTF found (need /sys/kernel/btf/vmlinux or the corpus)")
        return 1
    data = open(args.vmlinux, "rb").read()
    print(f"vmlinux: {args.vmlinux}: {len(data):,} bytes")
    libbpf = load_libbpf(args.libbpf)

    def native_parse_validate() -> None:
        btfx.Btf.from_bytes(data).validate()

    t_native = best_of(native_parse_validate, args.repeat)
    t_parse = best_of(lambda: btfx.Btf.from_bytes(data), args.repeat)
    vm = btfx.Btf.from_bytes(data)
    t_module_level = best_of(lambda: vm.validate(level="module"), args.repeat)
    t_strict = best_of(lambda: vm.validate(), args.repeat)
    print(f"btfx parse                        {fmt(t_parse)}")
    print(f"btfx validate module level        {fmt(t_module_level)}")
    print(f"btfx validate strict              {fmt(t_strict)}")
    print(f"btfx parse + strict validation    {fmt(t_native)}")
    t_idle = median_after_idle(native_parse_validate, 0.005, args.repeat)
    print(f"  the same, 5 ms idle before each   {fmt(t_idle)}   (median, not best)")
    if libbpf is not None:
        buf = ctypes.create_string_buffer(data, len(data))

        def libbpf_new() -> None:
            p = libbpf.btf__new(buf, len(data))
            if not p:
                raise OSError(ctypes.get_errno(), "btf__new failed")
            libbpf.btf__free(p)

        t_libbpf = best_of(libbpf_new, args.repeat)
        print(
            f"libbpf btf__new                   {fmt(t_libbpf)}   "
            f"btfx/libbpf = {t_native / t_libbpf:.2f}x   (libbpf {libbpf_version(libbpf)})"
        )
    else:
        print("libbpf: not found (apt-get install libbpf1)")
    bench_visit_floor(data, len(vm), t_native, args.repeat)
    t_ref = best_of(lambda: reference.Btf.from_bytes(data).validate(), repeat=1)
    print(
        f"reference parse + strict          {fmt(t_ref)}   reference/btfx = {t_ref / t_native:.0f}x"
    )

    t_to_bytes = best_of(lambda: vm.to_bytes(), args.repeat)
    t_swap = best_of(
        lambda: vm.to_bytes("big" if vm.byteorder == "little" else "little"), args.repeat
    )
    t_copy = best_of(lambda: bytes(bytearray(data)), args.repeat)
    print(f"btfx to_bytes (same order)        {fmt(t_to_bytes)}   memcpy floor {fmt(t_copy)}")
    print(f"btfx to_bytes (byte swap)         {fmt(t_swap)}")

    t_dump = best_of(lambda: vm.dump_bytes(), max(3, args.repeat // 4))
    line = f"btfx dump raw                     {fmt(t_dump)}"
    bpftool = shutil.which("bpftool")
    if bpftool:

        def run_bpftool() -> None:
            subprocess.run(
                [bpftool, "btf", "dump", "file", args.vmlinux, "format", "raw"],
                check=True,
                stdout=subprocess.DEVNULL,
            )

        t_bpftool = best_of(run_bpftool, 3)
        line += f"   bpftool (process) {fmt(t_bpftool)}   bpftool/btfx = {t_bpftool / t_dump:.1f}x"
    print(line)
    t_json = best_of(lambda: vm.dump("json"), 3)
    print(f"btfx dump json                    {fmt(t_json)}")

    if args.module:
        mod = open(args.module, "rb").read()
        base = btfx.Btf.from_file(args.module_base)
        t_mod = best_of(lambda: btfx.Btf.from_bytes(mod, base), args.repeat, number=50)
        print(f"module: {args.module}: {len(mod):,} bytes")
        print(f"btfx Btf.from_bytes(module, base) {fmt(t_mod)} per call")
        if libbpf is not None:
            bbuf = ctypes.create_string_buffer(open(args.module_base, "rb").read())
            lbase = libbpf.btf__new(bbuf, len(bbuf) - 1)
            mpath = os.fsencode(args.module)

            def libbpf_split() -> None:
                p = libbpf.btf__parse_raw_split(mpath, lbase)
                if not p:
                    raise OSError(ctypes.get_errno(), "btf__parse_raw_split failed")
                libbpf.btf__free(p)

            t_lsplit = best_of(libbpf_split, args.repeat, number=50)
            t_file = best_of(lambda: btfx.Btf.from_file(args.module, base), args.repeat, number=50)
            print(f"btfx Btf.from_file(module, base)  {fmt(t_file)} per call")
            print(f"libbpf btf__parse_raw_split(file) {fmt(t_lsplit)} per call")
            libbpf.btf__free(lbase)
    bench_rebase(args, libbpf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
