"""Anchors the test generator to a real tool: ``bpftool btf dump file X format raw``
(libbpf's parser) must accept every generated valid blob, base and split. The backends'
``dump()`` mimics that output (bpftool 7.1), so it is compared too.

bpftool is a hard requirement here: without it these tests fail rather than skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import btfgen
from hypothesis import given, settings

BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"


def _bpftool_raw(data: bytes, base: bytes | None = None) -> str:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "btf")
        with open(path, "wb") as f:
            f.write(data)
        cmd = [BPFTOOL]
        if base is not None:
            base_path = os.path.join(d, "base")
            with open(base_path, "wb") as f:
                f.write(base)
            cmd += ["--base-btf", base_path]
        cmd += ["btf", "dump", "file", path, "format", "raw"]
        r = subprocess.run(cmd, capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stderr.decode(errors="replace"), data.hex())
    assert r.stdout, data.hex()
    return r.stdout.decode("utf-8", "surrogateescape")


def _type_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith("["))


@settings(max_examples=20)
@given(btfgen.valid_model(old_libbpf=True))
def test_bpftool_accepts_valid(model):
    data = btfgen.serialize(model)
    out = _bpftool_raw(data)
    assert _type_lines(out) == len(model.types)


@settings(max_examples=10)
@given(btfgen.valid_split(old_libbpf=True))
def test_bpftool_accepts_valid_split(blobs):
    base, split = blobs
    _bpftool_raw(split, base)


@settings(max_examples=15)
@given(btfgen.valid_btf(old_libbpf=True))
def test_dump_matches_bpftool(backend, data):
    assert backend.Btf.from_bytes(data).dump() == _bpftool_raw(data)


@settings(max_examples=10)
@given(btfgen.valid_split(old_libbpf=True))
def test_split_dump_matches_bpftool(backend, blobs):
    base, split = blobs
    btf = backend.Btf.from_bytes(split, backend.Btf.from_bytes(base))
    assert btf.dump() == _bpftool_raw(split, base)
