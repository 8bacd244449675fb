"""Native ``btfx.rebase`` against the system libbpf 1.1 (``tests/libbpf.py``) and bpftool.

* ``mode="shift"`` against ``btf__new_empty_split(base)`` + ``btf__add_btf``: libbpf
  re-interns the strings (other offsets, no unused leading NUL), so the two results are
  compared as ``bpftool --base-btf base btf dump file X format raw`` text, which names
  strings instead of printing offsets.
* ``mode="dedup"`` against ``btf__add_btf`` + ``btf__dedup``: same number of split types
  and ``equivalent`` (both split on the same base object, so base references compare by
  id).  Known deliberate difference from libbpf 1.1 (docs/rebase.md §2): candidates are
  tried highest id first, like libbpf's hashmap, except that btfx does not emulate the
  hashmap's growth (which reverses buckets), so among exact duplicates libbpf may pick
  another one.  That only matters when the base or the module holds structurally
  identical copies of a type; where the exact comparison fails, the result must still be
  ``equivalent(..., exact=False)`` with the same type count (another, but identical,
  base type).

Inputs: generated little-endian BTF with the 24-byte header (what libbpf 1.1 handles),
pahole-made standalone BTF (``gcc -g -c``, ``pahole -J``, ``objcopy --dump-section``)
rebased on the corpus 6.1 vmlinux, and detached real 6.1 modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Tuple

import btfx
import libbpf
import pytest
import rebasegen
from btfx import reference as R
from hypothesis import assume, given, settings

import corpus

BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"


def bpftool_raw(split: bytes, base: bytes | Path) -> str:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "split")
        Path(path).write_bytes(split)
        if isinstance(base, Path):
            base_path = str(base)
        else:
            base_path = os.path.join(d, "base")
            Path(base_path).write_bytes(base)
        r = subprocess.run(
            [BPFTOOL, "--base-btf", base_path, "btf", "dump", "file", path, "format", "raw"],
            capture_output=True,
            timeout=60,
        )
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode("utf-8", "surrogateescape")


def assert_dedup_like_libbpf(m: btfx.Btf, base: btfx.Btf, base_bytes: bytes) -> str:
    """Native dedup rebase vs libbpf's; returns "exact" or "inexact" (see module doc)."""
    ours = btfx.rebase(m, base, "dedup")
    raw, type_cnt = libbpf.dedup_rebase(m.to_bytes(), base_bytes)
    theirs = btfx.Btf.from_bytes(raw, base)
    assert ours.btf.last_id + 1 == type_cnt, (ours.btf.nr_types, theirs.nr_types)
    if btfx.equivalent(ours.btf, theirs):
        return "exact"
    e = btfx.equivalent(ours.btf, theirs, exact=False)
    assert e, e.difference
    return "inexact"


# ---------------------------------------------------------------------------------- generated
def enum_fwd_tie(m: btfx.Btf, base: btfx.Btf) -> bool:
    """Whether an enum forward declaration (vlen 0) of ``m`` could resolve to several
    different full enums of the same name: a tie libbpf breaks by hash order (hashmap
    growth included), btfx by the highest id."""
    full: Dict[str, set] = {}
    for b in (base, m):
        for t in b:
            if t.kind in ("ENUM", "ENUM64") and t.vlen:
                key = (t.kind, t.size, t.kind_flag, tuple((v.name, v.value) for v in t.values))
                full.setdefault(t.name, set()).add(key)
    return any(
        t.kind in ("ENUM", "ENUM64") and not t.vlen and len(full.get(t.name, ())) > 1 for t in m
    )


def test_libbpf_loads():
    assert libbpf.available() and libbpf.version() >= (1, 1)


@settings(max_examples=40)
@given(rebasegen.base_and_module_blobs(byteorder="little", hdr24=True))
def test_shift_dump_matches_libbpf_add_btf(blobs):
    base_bytes, module = blobs
    ours = btfx.rebase(btfx.Btf.from_bytes(module), btfx.Btf.from_bytes(base_bytes), "shift")
    theirs, type_cnt = libbpf.add_btf(module, base_bytes)
    assert ours.btf.last_id + 1 == type_cnt
    assert bpftool_raw(ours.to_bytes(), base_bytes) == bpftool_raw(theirs, base_bytes)


@settings(max_examples=60)
@given(rebasegen.base_and_module_blobs(byteorder="little", hdr24=True))
def test_dedup_matches_libbpf_generated(blobs):
    """Generated modules with copies of base types, FWDs, cycles, enums with extra values
    (compared exactly or, for identical-copy ties, with ``exact=False``).  Like vmlinux,
    the base is deduplicated first (libbpf), and bases that still hold structurally
    identical types are left out: there the choice between identical base candidates
    (lowest vs highest id vs libbpf's hash order) changes which module types are kept;
    likewise modules with an enum forward declaration that several different full enums
    could complete (:func:`enum_fwd_tie`)."""
    base_bytes, module = blobs
    base_bytes = libbpf.dedup(base_bytes)
    base = btfx.Btf.from_bytes(base_bytes)
    assume(btfx.rebase(base, base).id_map == list(range(base.last_id + 1)))
    assume(not enum_fwd_tie(btfx.Btf.from_bytes(module), base))
    assert_dedup_like_libbpf(btfx.Btf.from_bytes(module), base, base_bytes)


@pytest.mark.parametrize("case", sorted(rebasegen.anon_enum_decl_retargets()))
def test_anon_enum_declarations_match_libbpf(case):
    """Anonymous value-less enums of either signedness, size and kind: libbpf's
    ``btf_compat_enum`` compares only the names (0 for all of them), so ``btf__dedup``
    resolves each declaration to an anonymous enum of the other signedness or to a full
    one.  The dedup step of ``retarget`` (the detached split onto the new base) gives
    exactly libbpf's result, native and reference alike."""
    (old_bytes, split_bytes), new_bytes = rebasegen.anon_enum_decl_retargets()[case]
    old, new = btfx.Btf.from_bytes(old_bytes), btfx.Btf.from_bytes(new_bytes)
    d = btfx.detach(btfx.Btf.from_bytes(split_bytes, old))
    assert assert_dedup_like_libbpf(d.btf, new, new_bytes) == "exact"
    ours = btfx.rebase(d.btf, new)
    ref = R.rebase(R.Btf.from_bytes(d.to_bytes()), R.Btf.from_bytes(new_bytes))
    assert ours.to_bytes() == ref.to_bytes() and ours.id_map == ref.id_map


# ---------------------------------------------------------------------------------- pahole
C_SOURCES: Dict[str, str] = {
    "lists": r"""
struct list_head { struct list_head *next, *prev; };
struct hlist_node { struct hlist_node *next, **pprev; };
struct hlist_head { struct hlist_node *first; };
struct my_item { int id; unsigned long flags; struct list_head node; struct hlist_node h; };
struct my_item g_item; struct hlist_head g_head;
int item_id(struct my_item *it) { return it->id; }
""",
    "mixed": r"""
typedef unsigned int u32;
typedef unsigned long long u64;
enum my_state { MY_IDLE, MY_BUSY = 5, MY_DEAD = -1 };
union my_val { int i; long l; void *p; };
struct my_bits { unsigned int a:3, b:5; int c:12; unsigned char d; };
struct my_ops { int (*open)(struct my_ops *, u32); void (*close)(void *); u64 (*size)(void); };
struct fwd_only;
struct my_dev {
    const char *name; volatile int refs; struct my_ops *ops; union my_val v;
    struct my_bits bits[4]; enum my_state st; struct fwd_only *priv;
    struct { int x, y; } pos; union { u32 u; float f; };
};
struct my_dev g_dev; struct my_ops g_ops; const struct my_dev *const g_cdev = 0;
int my_open(struct my_ops *o, u32 f) { return (int)f; }
""",
    "cycles": r"""
struct tree;
struct leaf { struct tree *owner; struct leaf *next; };
struct tree { struct leaf *leaves; struct tree *parent, *kids[2]; int depth; };
typedef struct tree tree_t;
typedef int (*visit_fn)(tree_t *, struct leaf *);
struct walker { visit_fn fn; tree_t *root; };
struct walker g_walker; tree_t g_tree;
enum { ANON_A = 1, ANON_B = 2 } g_anon;
""",
}


@pytest.fixture(scope="module")
def k61() -> corpus.Kernel:
    ks = [k for k in corpus.kernels() if k.series == "6.1"]
    assert ks, corpus.SKIP_REASON  # CI fetches the corpus: fail, never skip
    return ks[0]


@pytest.fixture(scope="module")
def v61(k61) -> Tuple[btfx.Btf, bytes]:
    data = k61.vmlinux_btf.read_bytes()
    return btfx.Btf.from_bytes(data), data


def pahole_btf(tmp: Path, name: str, src: str) -> bytes:
    c, obj, out = tmp / f"{name}.c", tmp / f"{name}.o", tmp / f"{name}.btf"
    c.write_text(src)
    subprocess.run(["gcc", "-g", "-c", str(c), "-o", str(obj)], check=True)
    subprocess.run(["pahole", "-J", str(obj)], check=True, capture_output=True)
    subprocess.run(
        ["objcopy", f"--dump-section=.BTF={out}", str(obj), str(tmp / "scratch.o")], check=True
    )
    return out.read_bytes()


@pytest.fixture(scope="module")
def pahole_modules(tmp_path_factory) -> Dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("pahole")
    return {name: pahole_btf(tmp, name, src) for name, src in C_SOURCES.items()}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(C_SOURCES))
def test_pahole_module_on_vmlinux(pahole_modules, v61, k61, name):
    """Shift: same bpftool dump as libbpf's add_btf; dedup: same as libbpf's dedup, and
    the module's ``struct list_head`` / ``int`` land on vmlinux's."""
    vm, vb = v61
    m = btfx.Btf.from_bytes(pahole_modules[name])
    m.validate("strict")
    shifted = btfx.rebase(m, vm, "shift")
    theirs, _ = libbpf.add_btf(m.to_bytes(), vb)
    assert bpftool_raw(shifted.to_bytes(), k61.vmlinux_btf) == bpftool_raw(theirs, k61.vmlinux_btf)
    assert assert_dedup_like_libbpf(m, vm, vb) == "exact"
    r = btfx.rebase(m, vm)
    r.btf.validate("strict")
    for t in m:
        if (t.kind, t.name) in (("STRUCT", "list_head"), ("INT", "int")):
            assert r.id_map[t.id] == vm.find(t.name, t.kind).id
    # the module's own types survive (they are not in vmlinux)
    kept = {t.name for t in r.btf}
    for own in {"lists": ["my_item"], "mixed": ["my_dev", "my_ops"], "cycles": ["tree"]}[name]:
        assert own in kept


# ---------------------------------------------------------------------------------- modules
LIBBPF_MODULES = ["tcp_bbr", "tcp_dctcp", "nf_nat", "nf_conntrack", "libnvdimm", "ext4"]


@pytest.mark.corpus
def test_detached_modules_match_libbpf(k61, v61):
    """Real modules made standalone (``detach``) and deduplicated back onto vmlinux: the
    same result as libbpf's add_btf + dedup of the same standalone BTF."""
    vm, vb = v61
    mods = {m.name: m for m in k61.modules()}
    chosen = [mods[n] for n in LIBBPF_MODULES if n in mods]
    chosen += [m for m in k61.modules()[::400] if m.name not in LIBBPF_MODULES]
    assert len(chosen) >= 12
    outcomes = {}
    for mod in chosen:
        split = btfx.Btf.from_bytes(mod.read_btf(), vm)
        d = btfx.detach(split, vm)
        outcomes[mod.name] = assert_dedup_like_libbpf(d.btf, vm, vb)
    assert list(outcomes.values()).count("exact") >= len(chosen) // 2, outcomes
