"""Retargeting the fixture module: the standalone build (pahole -J without a base, then
resolve_btfids) retargeted onto its vmlinux is what kbuild's split build is — equivalent
BTF and a .BTF_ids naming the same types with the same flags, sorted — and the cross
build (split on the other kernel's vmlinux) retargeted with --old-base is too."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import btfx
import pytest
from btfx.btf_ids import BtfIds, Set8, Slot
from btfx.retarget import make_target
from fixture_module import KFUNCS, LIST_STRUCTS, SERIES, FixtureKernel


@pytest.fixture(params=SERIES)
def kernel(request, fixture_kernels) -> FixtureKernel:
    return fixture_kernels[request.param]


def _decoded(ids: BtfIds, btf: btfx.Btf) -> Dict[str, List[Tuple[str, str, int]]]:
    """Entry by symbol -> (kind, name, flags) of what its ids name, in section order."""
    out: Dict[str, List[Tuple[str, str, int]]] = {}
    for e in ids.entries:
        if isinstance(e, Slot):
            t = btf[e.id]
            out[f"{e.symbol}@{e.offset}"] = [(t.kind, t.name, 0)]
        else:
            pairs = e.pairs if isinstance(e, Set8) else [(i, 0) for i in e.ids]
            out[e.symbol] = [(btf[i].kind, btf[i].name, f) for i, f in pairs]
    return out


def _set8(ids: BtfIds) -> Set8:
    (s,) = [e for e in ids.entries if isinstance(e, Set8)]
    return s


def _same_as_kbuild(out: bytes, kernel: FixtureKernel, base: btfx.Btf) -> None:
    new = btfx.Btf.from_bytes(out, base)
    new.validate(level="module")
    kbuild_path = kernel.module("split")
    kbuild = btfx.Btf.from_file(kbuild_path, base)
    eq = btfx.equivalent(new, kbuild, exact=False)
    assert eq, eq.difference
    new_ids, kbuild_ids = BtfIds.from_bytes(out), BtfIds.from_file(kbuild_path)
    assert new_ids.check(new) == []
    assert _decoded(new_ids, new) == _decoded(kbuild_ids, kbuild)
    s = _set8(new_ids)
    assert [i for i, _ in s.pairs] == sorted(i for i, _ in s.pairs)
    assert s.flags == kernel.set8_flags
    assert sorted(new[i].name for i, _ in s.pairs) == sorted(KFUNCS)
    for e in new_ids.entries:
        if isinstance(e, Slot):
            assert e.name in LIST_STRUCTS
            # the kernel's own struct (a vmlinux id), as resolve_btfids gives kbuild
            assert e.id == base.find(e.name, "STRUCT").id


def test_standalone_retargets_to_the_kbuild_build(kernel: FixtureKernel) -> None:
    base = btfx.Btf.from_file(kernel.vmlinux_btf)
    rep = btfx.retarget_module(kernel.module("standalone"), base)
    assert rep.input_kind == "standalone" and rep.btf_ids_fixed and rep.data is not None
    _same_as_kbuild(rep.data, kernel, base)


def test_cross_build_retargets_to_the_kbuild_build(kernel, fixture_kernels) -> None:
    other = next(k for name, k in fixture_kernels.items() if name in SERIES and k != kernel)
    base = btfx.Btf.from_file(kernel.vmlinux_btf)
    target = make_target(base, old_base=other.vmlinux_btf)
    rep = btfx.retarget_module(kernel.cross(other), target)
    assert rep.input_kind == "split" and rep.data is not None
    _same_as_kbuild(rep.data, kernel, base)


def test_retargeted_twice_is_unchanged(kernel: FixtureKernel, tmp_path: Path) -> None:
    base = btfx.Btf.from_file(kernel.vmlinux_btf)
    out = tmp_path / "m.ko"
    btfx.retarget_module(kernel.module("standalone"), base, out=out)
    again = btfx.retarget_module(out, base)
    assert again.input_kind == "on-base" and not again.changed
