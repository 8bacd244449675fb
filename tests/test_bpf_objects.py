"""btfx on real clang-built BPF objects from Debian packages (``bpf-objects/`` of the
corpus: libxdp1's XDP programs, cilium/ebpf's test objects in both byte orders).

Checked against bpftool (raw dump), the pure-Python reference (dump, bytes, verdicts) and
libbpf (``bpf_object__open``'s finalized BTF must pass strict validation). As compiled,
every DATASEC of such an object has size 0 until libbpf fills it in; the running kernel
rejects that BTF at that DATASEC with "size == 0", which is what both implementations
must say (checked with ``scripts/kernel-verdicts.py``-style BPF_BTF_LOAD on 6.18).
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import btfx
import libbpf
import pytest
from btfx import reference as ref
from btfx.errors import BtfElfError, BtfError

import corpus

BPFTOOL = shutil.which("bpftool")
OBJECTS = corpus.bpf_object_params()


def _verdict(btf, level: str):
    try:
        btf.validate(level)
    except BtfError as e:
        return type(e).__name__, e.type_id, e.message
    return None


def _has_btf(path: Path) -> bool:
    try:
        ref.read_elf_btf(path.read_bytes())
    except BtfElfError:
        return False
    return True


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed (make deps)")
@pytest.mark.parametrize("path", OBJECTS)
def test_object_matches_bpftool_and_the_reference(path):
    path = corpus.object_or_skip(path)
    data = path.read_bytes()
    if not _has_btf(path):
        # clang 7 wrote no .BTF: both say so, as an ELF error.
        with pytest.raises(BtfElfError):
            btfx.Btf.from_bytes(data)
        return
    native = btfx.Btf.from_file(path)
    want = subprocess.run(
        [BPFTOOL, "btf", "dump", "file", str(path), "format", "raw"],
        check=True,
        capture_output=True,
    ).stdout
    assert native.dump_bytes() == want
    section, _ = ref.read_elf_btf(data)
    assert native.to_bytes() == section  # byte-exact, in the object's byte order
    r = ref.Btf.from_bytes(data)
    assert r.to_bytes() == section and r.dump() == native.dump()
    for level in ("module", "strict"):
        got = _verdict(native, level)
        assert got == _verdict(r, level), level
        if got is not None:  # as compiled: the kernel's "size == 0" at a DATASEC
            assert got[2] == "size == 0" and native[got[1]].kind == "DATASEC", got


@pytest.mark.skipif(not libbpf.available(), reason="libbpf1 is not installed (make deps)")
def test_objects_as_libbpf_loads_them_are_valid():
    """What libbpf hands to BPF_BTF_LOAD after opening an object passes strict validation
    in both implementations (the kernel accepted every one of them). libbpf opens objects
    of the host's byte order only, and refuses some of cilium's test objects for what is
    outside BTF (legacy map sections, invalid maps on purpose): those are listed, not
    checked; every libxdp1 object must open."""
    objects = [p for p in corpus.bpf_objects() if _has_btf(p)]
    if not objects:
        pytest.skip(corpus.SKIP_REASON)
    checked, refused = [], []
    for path in objects:
        if btfx.Btf.from_file(path).byteorder != sys.byteorder:
            continue
        try:
            data = libbpf.object_btf(str(path))
        except libbpf.LibbpfError as e:
            refused.append(f"{path.name}: {e}")
            continue
        for impl in (btfx, ref):
            impl.Btf.from_bytes(data).validate("strict")
        checked.append(path)
    libxdp = [p for p in objects if "libxdp1" in p.parts]
    assert set(libxdp) <= set(checked), refused
    assert len(checked) >= 20, (len(checked), refused)


def _split_pair():
    objs = corpus.bpf_objects()
    testdata = [
        p.parent for p in objs if p.parent.name == "testdata" and p.parent.parent.name == "btf"
    ]
    if not testdata:
        pytest.skip(corpus.SKIP_REASON)
    d = testdata[0]
    return gzip.decompress((d / "vmlinux.btf.gz").read_bytes()), (d / "btf_testmod.btf")


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed (make deps)")
def test_cilium_testmod_split_btf(tmp_path):
    """cilium/ebpf's bpf_testmod BTF, split on its vmlinux BTF: bpftool -B dump, both
    implementations' bytes, dumps and verdicts, standalone and split."""
    base_raw, mod_path = _split_pair()
    base_path = tmp_path / "vmlinux.btf"
    base_path.write_bytes(base_raw)
    base, rbase = btfx.Btf.from_bytes(base_raw), ref.Btf.from_bytes(base_raw)
    mod_raw = mod_path.read_bytes()
    mod, rmod = btfx.Btf.from_bytes(mod_raw, base), ref.Btf.from_bytes(mod_raw, rbase)
    assert mod.is_split and mod.start_id == len(base) + 1
    for path, native, args in ((base_path, base, []), (mod_path, mod, ["-B", str(base_path)])):
        want = subprocess.run(
            [BPFTOOL, *args, "btf", "dump", "file", str(path), "format", "raw"],
            check=True,
            capture_output=True,
        ).stdout
        assert native.dump_bytes() == want, path.name
    assert mod.to_bytes() == mod_raw == rmod.to_bytes() and rmod.dump() == mod.dump()
    for level in ("module", "strict"):
        for b in (base, mod, rmod):
            b.validate(level)
