"""btfx against real Debian kernels: vmlinux and every module BTF, checked against bpftool.

Needs the corpus from ``scripts/fetch-corpus.sh`` (skipped without it).  Each test loops
over a whole kernel and reports every failing module at once, instead of one test item per
module (4,000+ per kernel).

``BTFX_CORPUS_BACKEND=reference`` runs the "native" side on ``btfx.reference`` instead
(useful while the native module is not built); the agreement tests then compare the
reference with itself.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import random
import struct
from functools import cache, partial
from typing import Any, Callable, List, Tuple

import pytest

import corpus  # tests/corpus.py (pytest puts tests/ on sys.path)

pytestmark = pytest.mark.corpus

MIN_RAW_COMPARED = 200
MIN_JSON_COMPARED = 10
REFERENCE_SAMPLE = 30
# Always in the reference sample when present: .BTF_ids users, empty string section.
REFERENCE_FORCED = ("tcp_bbr", "nf_conntrack", "cast_common")
# Too slow for the pure-Python reference in a routine run.
REFERENCE_SKIP = ("amdgpu",)
MAX_REPORTED = 10


def _backend(name: str) -> Any:
    return importlib.import_module("btfx.reference" if name == "reference" else "btfx")


def native() -> Any:
    """The implementation under test (``btfx`` unless BTFX_CORPUS_BACKEND=reference)."""
    return _backend(os.environ.get("BTFX_CORPUS_BACKEND", "native"))


def reference() -> Any:
    return _backend("reference")


@cache
def _vmlinux(mod_name: str, path: str) -> Any:
    with open(path, "rb") as f:
        return importlib.import_module(mod_name).Btf.from_bytes(f.read())


def vmlinux_of(mod: Any, kernel: corpus.Kernel) -> Any:
    """Parsed vmlinux BTF of ``kernel`` for backend module ``mod`` (cached per session)."""
    return _vmlinux(mod.__name__, str(kernel.vmlinux_btf))


def first_diff(got: str, want: str, label: str) -> str:
    """A short unified diff around the first difference."""
    diff = difflib.unified_diff(
        want.splitlines(), got.splitlines(), "bpftool", "btfx", n=2, lineterm=""
    )
    lines = list(diff)[:25]
    return f"{label}: dump differs from bpftool\n" + "\n".join(lines)


def json_first_diff(got: Any, want: Any, label: str) -> str:
    """The first differing type of two ``{"types": [...]}`` dumps (bpftool -j layout)."""
    head = f"{label}: JSON dump differs from bpftool -j"
    if not (isinstance(got, dict) and isinstance(want, dict)):
        return f"{head}: got a {type(got).__name__}, want a {type(want).__name__}"
    if sorted(got) != sorted(want):
        return f"{head}: keys {sorted(got)} != {sorted(want)}"
    g, w = got.get("types"), want.get("types")
    if isinstance(g, list) and isinstance(w, list):
        for i, (a, b) in enumerate(zip(g, w)):
            if a != b:
                return f"{head} at types[{i}]:\n  btfx:    {a!s:.400}\n  bpftool: {b!s:.400}"
        return f"{head}: {len(g)} types, bpftool has {len(w)}"
    return head


def outcome(fn: Callable[[], Any]) -> Tuple[str, Any]:
    """("ok", result) or (exception class name, its type_id) of a call."""
    try:
        return "ok", fn()
    except Exception as e:  # the class and type_id are what must agree
        return type(e).__name__, getattr(e, "type_id", None)


def validate(btf: Any, level: str) -> None:
    """Validate; only whether (and how) it raises counts, not what it returns."""
    btf.validate(level=level)


# What the reference and native must agree on, for one parsed Btf.  The JSON dump is left
# out: the reference only writes the raw format, and native JSON is checked against bpftool.
AGREEMENT: List[Tuple[str, Callable[[Any], Any]]] = [
    ("len", len),
    ("to_bytes", lambda b: b.to_bytes()),
    ("raw dump", lambda b: b.dump(format="raw")),
    ("module validation", partial(validate, level="module")),
]


def report(failures: List[str], what: str, total: int) -> str:
    shown = "\n".join(failures[:MAX_REPORTED])
    more = f"\n... and {len(failures) - MAX_REPORTED} more" if len(failures) > MAX_REPORTED else ""
    return f"{len(failures)} of {total} {what} failed:\n{shown}{more}"


@pytest.fixture(params=corpus.kernel_params())
def kernel(request: pytest.FixtureRequest) -> corpus.Kernel:
    return corpus.kernel_or_skip(request.param)


# ---------------------------------------------------------------------------
# vmlinux


def test_manifest_matches_disk(kernel: corpus.Kernel) -> None:
    counts = kernel.manifest["counts"]
    mods = kernel.modules()
    assert len(mods) == counts["modules_with_btf"] > 0
    on_disk = sorted(kernel.dir.glob("modules/**/*.btf"))
    assert len(on_disk) == len(mods)
    assert all(m.ko.is_file() for m in mods)
    assert kernel.vmlinux_btf.stat().st_size == kernel.manifest["vmlinux"]["btf_size"]


def test_vmlinux_parse_roundtrip_validate(kernel: corpus.Kernel) -> None:
    data = kernel.vmlinux_btf.read_bytes()
    btf = native().Btf.from_bytes(data)
    assert len(btf) == kernel.vmlinux_types
    assert btf.to_bytes() == data
    btf.validate(level="module")
    btf.validate(level="strict")


def test_vmlinux_raw_dump_matches_bpftool(kernel: corpus.Kernel) -> None:
    btf = vmlinux_of(native(), kernel)
    want = kernel.vmlinux_raw.read_text()
    got = btf.dump(format="raw")
    same = got == want  # not in the assert: pytest's own diff of 10 MB strings is too slow
    assert same, first_diff(got, want, "vmlinux")


def test_vmlinux_json_dump_matches_bpftool(kernel: corpus.Kernel) -> None:
    btf = vmlinux_of(native(), kernel)
    want = json.loads(kernel.vmlinux_json.read_text())
    got = json.loads(btf.dump(format="json"))
    same = got == want
    assert same, json_first_diff(got, want, "vmlinux")


# ---------------------------------------------------------------------------
# every module


def test_every_module_parses_validates_roundtrips(kernel: corpus.Kernel) -> None:
    mod = native()
    base = vmlinux_of(mod, kernel)
    mods = kernel.modules()
    failures = []
    for m in mods:
        data = m.read_btf()
        try:
            btf = mod.Btf.from_bytes(data, base=base)
            btf.validate(level="module")
            if btf.to_bytes() != data:
                failures.append(f"{m.path}: to_bytes() differs from the input")
        except Exception as e:
            failures.append(f"{m.path}: {type(e).__name__}: {e}")
    assert not failures, report(failures, "modules", len(mods))
    assert len(mods) == kernel.manifest["counts"]["modules_with_btf"]


def test_sampled_module_raw_dumps_match_bpftool(kernel: corpus.Kernel) -> None:
    mod = native()
    base = vmlinux_of(mod, kernel)
    sample = kernel.sampled_modules()
    failures = []
    compared = 0
    for m in sample:
        assert m.raw is not None
        want = m.raw.read_text()
        try:
            btf = mod.Btf.from_bytes(m.read_btf(), base=base)
            got = btf.dump(format="raw")
            if m.types is not None and len(btf) != m.types:
                failures.append(f"{m.path}: len() {len(btf)} != {m.types} types")
        except Exception as e:
            failures.append(f"{m.path}: {type(e).__name__}: {e}")
            continue
        compared += 1
        if got != want:
            failures.append(first_diff(got, want, m.path))
    assert not failures, report(failures, "raw dumps", len(sample))
    assert compared >= MIN_RAW_COMPARED
    names = {m.name for m in sample}
    assert {"tcp_bbr", "tcp_dctcp", "nf_conntrack", "nf_nat"} <= names


def test_sampled_module_json_dumps_match_bpftool(kernel: corpus.Kernel) -> None:
    mod = native()
    base = vmlinux_of(mod, kernel)
    sample = kernel.json_sampled_modules()
    failures = []
    compared = 0
    for m in sample:
        assert m.json is not None
        want = json.loads(m.json.read_text())
        try:
            got = json.loads(mod.Btf.from_bytes(m.read_btf(), base=base).dump(format="json"))
        except Exception as e:
            failures.append(f"{m.path}: {type(e).__name__}: {e}")
            continue
        compared += 1
        if got != want:
            failures.append(json_first_diff(got, want, m.path))
    assert not failures, report(failures, "JSON dumps", len(sample))
    assert compared >= MIN_JSON_COMPARED


def test_elf_input_gives_the_extracted_section(kernel: corpus.Kernel) -> None:
    """``from_bytes`` on the vmlinux ELF and on module files (signed, maybe xz/zstd) finds
    the same ``.BTF`` bytes as scripts/extract_vmlinux.py."""
    mod = native()
    vm = mod.Btf.from_bytes(kernel.vmlinux_elf.read_bytes())
    assert vm.to_bytes() == kernel.vmlinux_btf.read_bytes()
    base = vmlinux_of(mod, kernel)
    failures = []
    sample = reference_sample(kernel)
    for m in sample:
        try:
            got = mod.Btf.from_bytes(m.ko.read_bytes(), base=base).to_bytes()
        except Exception as e:
            failures.append(f"{m.path}: {type(e).__name__}: {e}")
            continue
        if got != m.read_btf():
            failures.append(f"{m.path}: .BTF from the module file differs")
    assert not failures, report(failures, "module files", len(sample))


# ---------------------------------------------------------------------------
# reference agrees with native


def reference_sample(kernel: corpus.Kernel) -> List[corpus.Module]:
    """About REFERENCE_SAMPLE modules: every k-th bpftool-sampled module plus the forced."""
    pool = [m for m in kernel.sampled_modules() if m.name not in REFERENCE_SKIP]
    step = max(1, len(pool) // REFERENCE_SAMPLE)
    picked = {m.path: m for m in pool[::step][:REFERENCE_SAMPLE]}
    for m in pool:
        if m.name in REFERENCE_FORCED:
            picked[m.path] = m
    return [picked[p] for p in sorted(picked)]


def test_reference_agrees_on_vmlinux(kernel: corpus.Kernel) -> None:
    nat, ref = vmlinux_of(native(), kernel), vmlinux_of(reference(), kernel)
    assert len(ref) == len(nat)
    assert ref.to_bytes() == nat.to_bytes()
    for level in ("module", "strict"):
        assert outcome(partial(validate, ref, level)) == outcome(partial(validate, nat, level)), (
            level
        )


def test_reference_agrees_on_sampled_modules(kernel: corpus.Kernel) -> None:
    nat_mod, ref_mod = native(), reference()
    nat_base, ref_base = vmlinux_of(nat_mod, kernel), vmlinux_of(ref_mod, kernel)
    sample = reference_sample(kernel)
    assert len(sample) >= REFERENCE_SAMPLE // 2
    failures = []
    for m in sample:
        data = m.read_btf()
        nat = nat_mod.Btf.from_bytes(data, base=nat_base)
        try:
            ref = ref_mod.Btf.from_bytes(data, base=ref_base)
        except Exception as e:
            failures.append(f"{m.path}: reference failed to parse: {type(e).__name__}: {e}")
            continue
        bad = [
            name for name, fn in AGREEMENT if outcome(partial(fn, ref)) != outcome(partial(fn, nat))
        ]
        if bad:
            failures.append(f"{m.path}: reference differs from native in {', '.join(bad)}")
    assert not failures, report(failures, "modules", len(sample))


CORRUPTIONS = 150  # per kernel, spread over the forced modules


def _corrupt(data: bytes, rng: random.Random, nr_types: int, start_id: int) -> bytes:
    """``data`` (raw split BTF) with one to three words of its type section rewritten:
    mostly to a nearby type id (loops, forward references, ids past the end, wrong
    kinds), else one flipped bit."""
    e = "<" if data[:2] == b"\x9f\xeb" else ">"
    hdr_len, type_off, type_len = struct.unpack_from(e + "III", data, 4)
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3))):
        at = hdr_len + type_off + 4 * rng.randrange(type_len // 4)
        (old,) = struct.unpack_from(e + "I", out, at)
        if rng.random() < 0.7:
            new = rng.randrange(max(0, start_id - 50), start_id + nr_types + 3)
        else:
            new = old ^ (1 << rng.randrange(32))
        struct.pack_into(e + "I", out, at, new)
    return bytes(out)


def _parse_validate(mod: Any, data: bytes, base: Any, level: str) -> None:
    mod.Btf.from_bytes(data, base=base).validate(level=level)


def test_reference_agrees_on_corrupted_modules(kernel: corpus.Kernel) -> None:
    """Real module BTF with random words rewritten: native and reference parse and
    validate (both levels) alike: same outcome, same exception class, same type id."""
    nat_mod, ref_mod = native(), reference()
    nat_base, ref_base = vmlinux_of(nat_mod, kernel), vmlinux_of(ref_mod, kernel)
    mods = [m for m in (kernel.module(n) for n in REFERENCE_FORCED) if m is not None]
    assert mods, "no forced module in the corpus"
    rng = random.Random(kernel.name)
    failures, outcomes = [], set()
    for i in range(CORRUPTIONS):
        m = mods[i % len(mods)]
        data = m.read_btf()
        clean = nat_mod.Btf.from_bytes(data, base=nat_base)
        bad = _corrupt(data, rng, len(clean), clean.start_id)
        for level in ("module", "strict"):
            got = outcome(partial(_parse_validate, nat_mod, bad, nat_base, level))
            want = outcome(partial(_parse_validate, ref_mod, bad, ref_base, level))
            outcomes.add(got[0])
            if got != want:
                failures.append(f"{m.path} #{i} {level}: native {got}, reference {want}")
    assert not failures, report(failures, "corrupted modules", CORRUPTIONS)
    # the corruptions reach validation, not only the parser
    assert {"ok", "BtfValidationError"} <= outcomes, outcomes
