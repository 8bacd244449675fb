"""Native module retargeting against the pure-Python reference (reference.retarget), on
real Debian modules: same ELF bytes for standalone, split (cross-kernel) and shift."""

from __future__ import annotations

from pathlib import Path

import btfx
import pytest
from btfx import _native
from btfx.btf_ids import BtfIds
from btfx.reference import Btf as RefBtf
from btfx.reference.retarget import retarget_elf

import corpus


@pytest.fixture(scope="module")
def pair():
    ks = corpus.require_corpus()
    if len(ks) < 2:
        pytest.skip("needs two corpus kernels")
    old, new = ks[0], ks[-1]
    return {
        "old": old,
        "new": new,
        "native": {k.name: btfx.Btf.from_file(k.vmlinux_btf) for k in (old, new)},
        "ref": {k.name: RefBtf.from_file(k.vmlinux_btf) for k in (old, new)},
    }


def _elf(path: Path) -> bytes:
    return _native.module_open(path.read_bytes())[0]


def _native_elf(elf: bytes, base, old_base=None, mode="dedup", btf_ids="fix") -> bytes:
    target = btfx.retarget.make_target(base, old_base)
    out, _ = _native.retarget_module_bytes(elf, target, mode, btf_ids, "strip", "none")
    return out


def _modules(k: corpus.Kernel, n: int = 3):
    mods = [m for m in k.modules() if m.has_btf_ids]
    small = sorted(
        (m for m in k.modules() if not m.has_btf_ids), key=lambda m: m.btf.stat().st_size
    )
    return mods[:n] + small[:: max(1, len(small) // 3)][:3]


def test_split_cross_kernel_matches_reference(pair):
    old, new = pair["old"], pair["new"]
    for m in _modules(old):
        elf = _elf(m.ko)
        want, facts = retarget_elf(elf, pair["ref"][new.name], pair["ref"][old.name])
        got = _native_elf(elf, pair["native"][new.name], pair["native"][old.name])
        assert got == want, m.name
        assert facts["input_kind"] == "split"


def test_standalone_dedup_and_shift_match_reference(pair):
    old = pair["old"]
    base_n, base_r = pair["native"][old.name], pair["ref"][old.name]
    for m in _modules(old):
        elf = _elf(m.ko)
        d = btfx.detach(btfx.Btf.from_bytes(elf, base_n))
        repl = {".BTF": d.to_bytes()}
        ids = BtfIds.from_bytes(elf)
        if ids is not None:
            repl[".BTF_ids"] = ids.fixup(d.id_map)[0]
        standalone = _native.elf_replace_sections(elf, repl)
        for mode in ("dedup", "shift"):
            want, facts = retarget_elf(standalone, base_r, None, mode)
            assert facts["input_kind"] == "standalone"
            assert _native_elf(standalone, base_n, None, mode) == want, (m.name, mode)


def test_on_base_is_unchanged_in_both(pair):
    old = pair["old"]
    m = _modules(old)[0]
    elf = _elf(m.ko)
    want, facts = retarget_elf(elf, pair["ref"][old.name])
    assert facts["input_kind"] == "on-base" and want == elf
    assert _native_elf(elf, pair["native"][old.name]) == elf
