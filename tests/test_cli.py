"""The ``btfx`` command line on the bundled data: outputs, exit codes, written files."""

from __future__ import annotations

import json
import os
import stat
from importlib import resources
from pathlib import Path

import btfx
import pytest
from btfx.cli import main

DATA = resources.files("btfx") / "data"
SAMPLE = str(DATA / "sample.btf")
EXAMPLE = str(DATA / "example-standalone.ko")


def test_dump_json_is_the_api_dump(capfdbinary):
    """``dump --format json`` prints exactly ``Btf.dump("json")`` (bpftool's bytes)."""
    assert main(["dump", "--format", "json", SAMPLE]) == 0
    out = capfdbinary.readouterr().out
    want = btfx.Btf.from_file(SAMPLE).dump("json")
    assert want.endswith("\n") and not want.endswith("\n\n")
    assert out == want.encode()


@pytest.fixture
def rebased(tmp_path):
    """The example module's standalone BTF rebased onto the sample, with its id map."""
    out, ids = tmp_path / "rebased.btf", tmp_path / "ids.json"
    rc = main(["rebase", EXAMPLE, "-B", SAMPLE, "-o", str(out), "--id-map", str(ids)])
    assert rc == 0
    return out, ids


def test_equiv_with_the_id_map_a_rebase_wrote(rebased, tmp_path, capsys):
    out, ids = rebased
    capsys.readouterr()
    args = ["equiv", EXAMPLE, str(out), "--b-base", SAMPLE, "--id-map"]
    assert main(args + [str(ids)]) == 0
    assert capsys.readouterr().out == "equivalent\n"
    # A map that pairs two of the module's types the other way round is refused.
    m = json.loads(ids.read_text())
    own = [i for i, x in enumerate(m) if i > 0 and x >= btfx.Btf.from_file(SAMPLE).last_id + 1]
    a, b = next(
        (a, b)
        for a in own
        for b in own
        if btfx.Btf.from_file(EXAMPLE)[a].kind != btfx.Btf.from_file(EXAMPLE)[b].kind
    )
    m[a], m[b] = m[b], m[a]
    swapped = tmp_path / "swapped.json"
    swapped.write_text(json.dumps(m))
    assert main(args + [str(swapped), "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["equivalent"] is False


@pytest.mark.parametrize("text", ["[1, 2", '{"1": 2}', "[1, -2]", "[true]"])
def test_equiv_rejects_what_is_not_an_id_map(rebased, tmp_path, capsys, text):
    out, _ = rebased
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    rc = main(["equiv", EXAMPLE, str(out), "--b-base", SAMPLE, "--id-map", str(bad)])
    assert rc == 1
    assert "bad.json" in capsys.readouterr().err


def test_outputs_get_the_usual_permissions(rebased, tmp_path):
    """New output files are created as ``open()`` would (0666 less the umask), not with
    the temporary file's 0600."""
    out, ids = rebased
    umask = os.umask(0o022)
    os.umask(umask)
    for path in (out, ids):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask, path
    old = os.umask(0o027)
    try:
        again = tmp_path / "again.btf"
        assert main(["rebase", EXAMPLE, "-B", SAMPLE, "-o", str(again)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(again).st_mode) == 0o640
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(".btfx-")]
