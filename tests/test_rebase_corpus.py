"""rebase / detach / retarget on the real Debian kernels of the corpus (6.1 and 6.12).

* every 6.1 module (about 4,000; native): ``detach`` then dedup-``rebase`` onto the same
  vmlinux (one ``BaseIndex``) validates strictly and is equivalent to the original
  (:func:`test_rebase.check_roundtrip`); the type count never grows except where a
  vmlinux FWD reached by the module names a struct/union the module defines (the detached
  FWD copy then resolves to the module's struct, as in libbpf, so vmlinux types that
  reference the FWD are kept as module copies — libnvdimm's ``ndctl_fn``);
* a small sample also through the reference (about 1 s per rebase on vmlinux): identical
  bytes and maps;
* about 200 6.1 modules retargeted onto 6.12: valid there (module and strict) and
  ``equivalent`` through the returned id map; ``struct nf_conn`` of nf_conntrack maps to
  6.12's; ``BaseMap(6.1, 6.12)`` maps more than 25,000 types.

Work runs on two threads (the native calls release the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple

import btfx
import pytest
from btfx import reference as R
from test_rebase import check_roundtrip

import corpus

pytestmark = pytest.mark.corpus

RETARGET_MUST = ["tcp_bbr", "tcp_dctcp", "nf_conntrack", "nf_nat"]


def kernel(series: str) -> corpus.Kernel:
    ks = [k for k in corpus.kernels() if k.series == series]
    assert ks, corpus.SKIP_REASON  # CI fetches the corpus: fail, never skip
    return ks[0]


@pytest.fixture(scope="module")
def k61() -> corpus.Kernel:
    return kernel("6.1")


@pytest.fixture(scope="module")
def k612() -> corpus.Kernel:
    return kernel("6.12")


@pytest.fixture(scope="module")
def v61(k61) -> btfx.Btf:
    return btfx.Btf.from_file(k61.vmlinux_btf)


@pytest.fixture(scope="module")
def v612(k612) -> btfx.Btf:
    return btfx.Btf.from_file(k612.vmlinux_btf)


@pytest.fixture(scope="module")
def base_map(v61, v612) -> btfx.BaseMap:
    return btfx.BaseMap(v61, v612)


def base_fwd_named_by_module(split: btfx.Btf, d) -> bool:
    """Whether a vmlinux FWD the module reaches names a struct/union the module defines."""
    own = {(t.name, t.kind) for t in split if t.kind in ("STRUCT", "UNION") and t.name}
    base = split.base
    assert base is not None
    dmap = d.id_map
    for old in range(1, split.start_id):
        if dmap[old]:
            t = base[old]
            if t.kind == "FWD" and (t.name, "UNION" if t.fwd_kind == "union" else "STRUCT") in own:
                return True
    return False


def test_every_module_detach_rebase(k61, v61):
    index = btfx.BaseIndex(v61)
    mods = k61.modules()
    assert len(mods) > 4000

    def one(mod: corpus.Module) -> Tuple[str, str, int, int, bool]:
        split = btfx.Btf.from_bytes(mod.read_btf(), v61)
        d = btfx.detach(split, v61)
        r = btfx.rebase(d.btf, index)
        r.btf.validate("strict")
        how = check_roundtrip(split, d, r)
        grew = r.btf.nr_types > split.nr_types
        return (
            mod.name,
            how,
            split.nr_types,
            r.btf.nr_types,
            grew and base_fwd_named_by_module(split, d),
        )

    with ThreadPoolExecutor(2) as ex:
        results = list(ex.map(one, mods))
    unexplained = [(n, a, b) for n, _, a, b, why in results if b > a and not why]
    assert not unexplained
    grown = [n for n, _, a, b, _ in results if b > a]
    assert len(grown) <= 5, grown
    exact = sum(1 for _, how, *_ in results if how == "exact")
    assert exact > 0.9 * len(mods), exact


REFERENCE_SAMPLE = ["tcp_bbr", "nf_nat", "libnvdimm"]


def test_reference_agrees_on_modules(k61, v61):
    """Native and reference detach/rebase are byte-identical on a few real modules (the
    reference needs about a second per rebase onto vmlinux)."""
    rv = R.Btf.from_bytes(v61.to_bytes())
    mods = {m.name: m for m in k61.modules()}
    chosen = [mods[n] for n in REFERENCE_SAMPLE] + k61.modules()[1000::1500][:2]
    for mod in chosen:
        data = mod.read_btf()
        split = btfx.Btf.from_bytes(data, v61)
        d = btfx.detach(split, v61)
        rd = R.detach(R.Btf.from_bytes(data, rv), rv)
        assert d.to_bytes() == rd.to_bytes() and d.id_map == rd.id_map, mod.name
        assert d.str_map == rd.str_map, mod.name
        r = btfx.rebase(d.btf, v61)
        rr = R.rebase(rd.btf, rv)
        assert r.to_bytes() == rr.to_bytes() and r.id_map == rr.id_map, mod.name
        assert r.str_map == rr.str_map, mod.name


def retarget_sample(k61) -> List[corpus.Module]:
    mods = k61.modules()
    must = [m for m in mods if m.name in RETARGET_MUST]
    assert len(must) == len(RETARGET_MUST)
    rest = [m for m in mods[::20] if m.name not in RETARGET_MUST]
    return must + rest[: 200 - len(must)]


def test_retarget_61_modules_onto_612(k61, v61, v612, base_map):
    index = btfx.BaseIndex(v612)
    sample = retarget_sample(k61)
    assert len(sample) == 200

    def one(mod: corpus.Module):
        split = btfx.Btf.from_bytes(mod.read_btf(), v61)
        r = btfx.retarget_btf(split, v61, index, base_map=base_map)
        assert r.btf.base is v612 and r.btf.start_id == v612.last_id + 1
        r.btf.validate("module")
        r.btf.validate("strict")
        assert len(r.id_map) == split.last_id + 1
        e = btfx.equivalent(split, r.btf, id_map=r.id_map)
        assert e, (mod.name, e.difference)
        return mod.name, split, r

    with ThreadPoolExecutor(2) as ex:
        results = {name: (split, r) for name, split, r in ex.map(one, sample)}

    split, r = results["nf_conntrack"]
    old = v61.find("nf_conn", "STRUCT")
    assert old is not None
    new = r.id_map[old.id]
    assert new, "struct nf_conn has no image"
    t = r.btf[new]
    assert (t.kind, t.name) == ("STRUCT", "nf_conn")
    # 6.1's nf_conn differs from 6.12's, so the retargeted module carries its own copy
    assert new == v612.find("nf_conn", "STRUCT").id or new > v612.last_id
    # every module type lands on a type of the same kind and name
    for name in ("tcp_bbr", "tcp_dctcp", "nf_nat"):
        split, r = results[name]
        rmap = r.id_map
        for t in split:
            img = r.btf[rmap[t.id]]
            assert img.name == t.name and (img.kind == t.kind or t.kind == "FWD"), (name, t)


def test_base_map_61_to_612(v61, v612, base_map):
    assert len(base_map) == v61.last_id + 1
    assert base_map.mapped > 25_000
    lst = base_map.to_list()
    assert len(lst) == len(base_map) and lst[0] == 0
    assert base_map.mapped == sum(1 for x in lst[1:] if x)
    for name, kind in [("list_head", "STRUCT"), ("int", "INT"), ("callback_head", "STRUCT")]:
        old, new = v61.find(name, kind), v612.find(name, kind)
        assert base_map[old.id] == new.id, name
    # mapped types keep kind and name
    for old in range(1, v61.last_id + 1, 97):
        if lst[old]:
            a, b = v61[old], v612[lst[old]]
            assert (a.kind, a.name) == (b.kind, b.name)
