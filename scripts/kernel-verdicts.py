#!/usr/bin/env python3
"""Compare btfx's strict validation with the running kernel's, on generated or real BTF.

    sudo python3 scripts/kernel-verdicts.py [--valid N] [--invalid N] [--keep DIR]
    sudo python3 scripts/kernel-verdicts.py --corpus N [--seed S]

Generates standalone BTF with the test suite's hypothesis strategies (tests/btfgen.py:
valid graphs, and targeted corruptions of them), loads each blob into the running kernel
with the bpf(2) command BPF_BTF_LOAD (the kernel's full check of user BTF, `btf_parse`:
what btfx calls strict), and compares each verdict with `Btf.validate("strict")`.

With `--corpus N` the blobs are real instead: N modules drawn (seeded) from each kernel
of the corpus (`make corpus`; `$BTFX_CORPUS`), each module's split BTF joined with its
vmlinux BTF into one standalone blob. Split BTF numbers its types after the base's and
its string offsets after the base's strings, so the join is the two type sections and
the two string sections end to end under one header. BPF_BTF_LOAD takes about 0.7 s per
such blob (5 MB) on a 2-core machine.

Prints the disagreements grouped by the kernel's message (numbers and names blanked) or
btfx's, with one example each; then the rejections on which both agree but that name a
different type, or whose kernel log line does not end with btfx's message (its kernel
words: what comes after a "where: " prefix, without a trailing "(details)"). Corruptions
are made in this machine's byte order, which the kernel reads; valid blobs in the other
one are converted first. Exit status 1 when there is a disagreement.

A development tool, not a test: the verdict depends on the running kernel's version, and
loading BTF needs CAP_BPF (root). The BTF objects it loads are freed at once.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import random
import re
import struct
import sys
from typing import Dict, Iterator, List, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

import btfgen  # noqa: E402  (the test suite's generators)
import btfx  # noqa: E402
from bpf_btf_load import Kernel, kernel_words, unavailable  # noqa: E402
from btfx.errors import BtfError  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

import corpus  # noqa: E402  (the test suite's corpus reader)


def hdr_len(blob: bytes) -> int:
    """The header length field of native-order BTF."""
    return struct.unpack_from("=I", blob, 4)[0] if len(blob) >= 8 else 0


def joined(base: bytes, split: bytes) -> bytes:
    """Split BTF and its base as one standalone blob (see the module doc). Both must have
    the 24-byte header, in this machine's byte order."""
    parts = []
    for blob in (base, split):
        magic, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            "=HBBIIIII", blob
        )
        if magic != 0xEB9F or hdr_len != 24:
            raise ValueError("not native-order BTF with a 24-byte header")
        types = blob[hdr_len + type_off : hdr_len + type_off + type_len]
        strs = blob[hdr_len + str_off : hdr_len + str_off + str_len]
        parts.append((types, strs))
    types = parts[0][0] + parts[1][0]
    strs = parts[0][1] + parts[1][1]
    head = struct.pack("=HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs))
    return head + types + strs


def corpus_blobs(per_kernel: int, seed: int) -> Iterator[Tuple[str, bytes]]:
    """(what, blob): `per_kernel` modules of each corpus kernel, joined with vmlinux."""
    kernels = corpus.kernels()
    if not kernels:
        raise SystemExit(f"no corpus at {corpus.corpus_root()}: run `make corpus`")
    rng = random.Random(seed)
    for k in kernels:
        base = k.vmlinux_btf.read_bytes()
        modules = k.modules()
        for m in rng.sample(modules, min(per_kernel, len(modules))):
            yield f"{k.name}/{m.path}", joined(base, m.read_btf())


def collect(n_valid: int, n_invalid: int) -> List[Tuple[str, bytes]]:
    """(what, blob): valid graphs, then corruptions (named by btfgen's note)."""
    out: List[Tuple[str, bytes]] = []
    opts = dict(database=None, deadline=None, suppress_health_check=list(HealthCheck))

    @settings(max_examples=n_valid, **opts)
    @given(btfgen.valid_btf())
    def valid(blob: bytes) -> None:
        out.append(("valid", blob))

    @settings(max_examples=n_invalid, **opts)
    # In this machine's byte order: a corrupted blob in the other one cannot be converted
    # for the kernel when btfx cannot parse it.
    @given(btfgen.invalid_btf(sys.byteorder))
    def invalid(inv: btfgen.Invalid) -> None:
        out.append((inv.note or "invalid", inv[0]))

    if n_valid:
        valid()
    if n_invalid:
        invalid()
    return out


def native(blob: bytes) -> Optional[bytes]:
    """The blob in this machine's byte order (as it is unless it has the other order's
    magic), or None if btfx cannot parse it."""
    if blob[:2] != (b"\xeb\x9f" if sys.byteorder == "little" else b"\x9f\xeb"):
        return blob
    try:
        return btfx.Btf.from_bytes(blob).to_bytes(byteorder=sys.byteorder)
    except BtfError:
        return None


def btfx_verdict(blob: bytes) -> Optional[BtfError]:
    try:
        btfx.Btf.from_bytes(blob).validate("strict")
    except BtfError as e:
        return e
    return None


def shape(message: str) -> str:
    """A message with numbers and names blanked, to group by."""
    s = re.sub(r"^\[\d+\] \S+ \S+", "[#] KIND name", message)
    s = re.sub(r"^\t\S+ ", "\tmember ", s)
    return re.sub(r"\d+", "#", s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--valid", type=int, default=300, help="valid graphs to generate")
    ap.add_argument("--invalid", type=int, default=1000, help="corruptions to generate")
    ap.add_argument("--keep", help="write each disagreeing blob here")
    ap.add_argument(
        "--corpus",
        type=int,
        metavar="N",
        help="instead: N real modules per corpus kernel, each joined with its vmlinux",
    )
    ap.add_argument("--seed", type=int, default=0, help="which modules --corpus draws")
    args = ap.parse_args()
    why = unavailable()
    if why:
        raise SystemExit(why)
    kernel = Kernel()
    print(f"kernel {platform.release()}, btfx {btfx.__version__}")

    groups: Dict[str, List[Tuple[str, str, str]]] = collections.defaultdict(list)
    other_id: Dict[str, List[Tuple[str, str, str]]] = collections.defaultdict(list)
    other_msg: Dict[str, List[Tuple[str, str, str]]] = collections.defaultdict(list)
    tally: collections.Counter = collections.Counter()
    if args.corpus is not None:
        blobs: Iterator[Tuple[str, bytes]] = corpus_blobs(args.corpus, args.seed)
    else:
        blobs = iter(collect(args.valid, args.invalid))
    for i, (what, raw) in enumerate(blobs):
        blob = native(raw)
        if blob is None:
            tally["skipped (btfx cannot parse)"] += 1
            continue
        k_ok, k_errno, k_log = kernel.load(blob)
        if not k_ok and k_log == "Unsupported btf_header" and hdr_len(blob) > 24:
            # A header with the layout section (`hdr_len` 32), which kernels before the
            # layout section cannot read: no verdict on the rest to compare with.
            tally["skipped (the kernel cannot read its 32-byte header)"] += 1
            continue
        mine = btfx_verdict(blob)
        k_word, b_word = ("accepts" if k_ok else "rejects"), ("rejects" if mine else "accepts")
        tally[f"kernel {k_word}, btfx {b_word}"] += 1
        example = (what, k_log or ("accepted" if k_ok else f"errno {k_errno}"), str(mine))
        if k_ok != (mine is None):
            key = f"kernel: {shape(k_log)}" if not k_ok else f"btfx: {shape(str(mine))}"
            groups[key].append(example)
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                with open(os.path.join(args.keep, f"{i}.btf"), "wb") as f:
                    f.write(blob)
        elif mine is not None:
            m = re.match(r"\[(\d+)\]", k_log)
            if m and mine.type_id is not None and int(m.group(1)) != mine.type_id:
                other_id[f"kernel: {shape(k_log)}"].append(example)
            elif not k_log.endswith(kernel_words(mine.message)):
                other_msg[f"kernel: {shape(k_log)} / btfx: {shape(mine.message)}"].append(example)

    for line, n in sorted(tally.items()):
        print(f"{n:6d}  {line}")
    print(f"\n{sum(map(len, groups.values()))} disagreements:")
    for key, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        what, k, b = items[0]
        print(f"{len(items):6d}  {key}\n        e.g. {what}: kernel '{k}', btfx: {b}")
    print(f"\n{sum(map(len, other_id.values()))} rejections that name another type:")
    for key, items in sorted(other_id.items(), key=lambda kv: -len(kv[1])):
        what, k, b = items[0]
        print(f"{len(items):6d}  {key}\n        e.g. {what}: kernel '{k}', btfx: {b}")
    print(f"\n{sum(map(len, other_msg.values()))} rejections of the same type, worded otherwise:")
    for key, items in sorted(other_msg.items(), key=lambda kv: -len(kv[1])):
        what, k, b = items[0]
        print(f"{len(items):6d}  {key}\n        e.g. {what}: kernel '{k}', btfx: {b}")
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
