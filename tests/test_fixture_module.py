"""The fixture kernel module's variants are what the retarget tests assume.

* standalone: BTF numbered from 1 that validates on its own, ``.BTF_ids`` resolved to
  those ids (its own copies of kernel structs included);
* split (kbuild): BTF on top of the kernel's vmlinux that validates there, kernel structs
  deduplicated into vmlinux's ids, ``.BTF_ids`` resolved against vmlinux first;
* cross: compiled for one kernel, BTF split on the other kernel's vmlinux.
"""

from __future__ import annotations

from pathlib import Path

import btfx
import pytest
from btfx.reference import btf_ids as R
from fixture_module import KFUNCS, LIST_STRUCTS, SERIES, FixtureKernel


@pytest.fixture(params=SERIES)
def kernel(request, fixture_kernels) -> FixtureKernel:
    return fixture_kernels[request.param]


def _btf_ids(path: Path) -> R.BtfIds:
    ids = R.parse_btf_ids(path.read_bytes())
    assert ids is not None, f"{path} has no .BTF_ids"
    return ids


def _check_btf_ids(ids: R.BtfIds, btf: btfx.Btf, flags: int) -> None:
    """The set8 holds the kfuncs' FUNC ids, sorted; the list holds the structs' first ids."""
    set8s = [e for e in ids.entries if isinstance(e, R.Set8)]
    assert [s.name for s in set8s] == ["btfx_kfunc_ids"]
    (set8,) = set8s
    assert set8.flags == flags
    want = sorted(btf.find(name, "FUNC").id for name in KFUNCS)
    assert [pid for pid, _ in set8.pairs] == want
    slots = {(e.kind, e.name): e.id for e in ids.entries if isinstance(e, R.Slot)}
    for name in LIST_STRUCTS:
        # resolve_btfids: the first STRUCT of that name, base before split
        assert slots[("struct", name)] == btf.find(name, "STRUCT").id


def test_standalone_btf_starts_at_one(kernel):
    btf = btfx.Btf.from_file(kernel.module("standalone"))
    assert not btf.is_split
    assert btf.start_id == 1
    btf.validate()
    # its own copies of the kernel types it uses
    assert btf.find("task_struct", "STRUCT") is not None
    assert btf.find("btfx_pair", "STRUCT") is not None
    _check_btf_ids(_btf_ids(kernel.module("standalone")), btf, kernel.set8_flags)


def test_split_btf_validates_against_vmlinux(kernel):
    base = btfx.Btf.from_file(kernel.vmlinux_btf)
    btf = btfx.Btf.from_file(kernel.module("split"), base)
    assert btf.is_split
    assert btf.start_id == base.last_id + 1
    assert btf.start_str_off == base.header["str_len"]
    btf.validate(level="module")
    btf.validate()
    own = {t.name for t in btf}
    assert set(KFUNCS) <= own and "btfx_pair" in own
    # pahole --btf_base: kernel structs are vmlinux's, not copies
    assert "task_struct" not in own
    _check_btf_ids(_btf_ids(kernel.module("split")), btf, kernel.set8_flags)


def test_split_btf_is_not_standalone(kernel):
    """The kbuild variant cannot be read without its base (string offsets point into it)."""
    with pytest.raises(btfx.BtfError):
        btfx.Btf.from_file(kernel.module("split")).validate()


def test_cross_variant_validates_against_the_other_vmlinux(fixture_kernels):
    for this in fixture_kernels.values():
        for other in fixture_kernels.values():
            if other is this:
                continue
            base = btfx.Btf.from_file(other.vmlinux_btf)
            btf = btfx.Btf.from_file(this.cross(other), base)
            assert btf.start_id == base.last_id + 1
            btf.validate()
            _check_btf_ids(_btf_ids(this.cross(other)), btf, this.set8_flags)


def test_nobtf_variant_has_no_btf(kernel):
    with pytest.raises(btfx.BtfElfError):
        btfx.Btf.from_file(kernel.module("nobtf"))


def test_bundled_example_module():
    """python/btfx/data/example-standalone.ko (make example-module): the standalone variant,
    no DWARF, .BTF_ids resolved to its own ids."""
    path = Path(btfx.__file__).parent / "data" / "example-standalone.ko"
    data = path.read_bytes()
    assert len(data) < 200_000
    assert b".debug_info" not in data
    btf = btfx.Btf.from_file(path)
    assert not btf.is_split and btf.start_id == 1
    btf.validate()
    _check_btf_ids(_btf_ids(path), btf, flags=1)
