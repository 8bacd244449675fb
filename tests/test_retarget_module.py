"""Module retargeting on real Debian modules: BTF, .BTF_ids, ELF bytes, signatures,
compression, batch and CLI (btfx.retarget_module / retarget_modules / `btfx retarget`)."""

from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import btfx
import pytest
import signing  # tests/signing.py
from btfx import _native
from btfx.btf_ids import BtfIds, Set, Slot
from btfx.cli import main as cli_main
from btfx.errors import BtfError
from btfx.retarget import make_target

import corpus

SIG_MAGIC = signing.MAGIC
OWN_SECTIONS = (".BTF", ".BTF_ids")


def _kernels() -> Tuple[corpus.Kernel, corpus.Kernel]:
    ks = corpus.require_corpus()
    if len(ks) < 2:
        pytest.skip("needs two corpus kernels (scripts/fetch-corpus.sh with 6.1 and 6.12)")
    return ks[0], ks[-1]


@pytest.fixture(scope="module")
def kernels():
    old, new = _kernels()
    bases = {k.name: btfx.Btf.from_file(k.vmlinux_btf) for k in (old, new)}
    index = {name: btfx.BaseIndex(b) for name, b in bases.items()}
    return old, new, bases, index


@pytest.fixture(scope="module")
def targets(kernels):
    """(from kernel, to kernel) -> prepared target (base index + old->new base map)."""
    old, new, bases, index = kernels
    return {
        (a.name, b.name): make_target(index[b.name], bases[a.name])
        for a, b in ((old, new), (new, old))
    }


def _elf(path_or_bytes) -> bytes:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return _native.module_open(data)[0]


def _decoded(ids: BtfIds, btf: btfx.Btf) -> Dict[str, List[Tuple[str, str, int]]]:
    """Every entry by symbol, as the (kind, name, flags) its ids name (sets sorted)."""
    out: Dict[str, List[Tuple[str, str, int]]] = {}
    for e in ids.entries:
        if isinstance(e, Slot):
            t = btf[e.id] if e.id else None
            out[f"{e.symbol}@{e.offset}"] = [(t.kind, t.name, 0) if t else ("", "", 0)]
            continue
        pairs = [(i, 0) for i in e.ids] if isinstance(e, Set) else e.pairs
        out[e.symbol] = sorted((btf[i].kind, btf[i].name, f) for i, f in pairs)
    return out


def _sections(elf: bytes) -> Dict[str, Tuple[int, int, int, bytes]]:
    """name -> (type, flags, align, data) of every section but the ones btfx rewrites."""
    from elftools.elf.elffile import ELFFile

    f = ELFFile(io.BytesIO(elf))
    out = {}
    for s in f.iter_sections():
        if s.name in OWN_SECTIONS or not s.name:
            continue
        data = b"" if s["sh_type"] == "SHT_NOBITS" else s.data()
        out[s.name] = (s["sh_type"], s["sh_flags"], s["sh_addralign"], data)
    return out


def _standalone_module(ko: Path, base: btfx.Btf) -> bytes:
    """A real module turned into the seed's case: standalone .BTF (detach) and
    .BTF_ids resolved against it, unsigned, uncompressed."""
    elf = _elf(ko)
    d = btfx.detach(btfx.Btf.from_bytes(elf, base))
    repl = {".BTF": d.to_bytes()}
    ids = BtfIds.from_bytes(elf)
    if ids is not None:
        repl[".BTF_ids"] = ids.fixup(d.id_map)[0]
    return _native.elf_replace_sections(elf, repl)


def _kfunc_modules(k: corpus.Kernel) -> List[corpus.Module]:
    mods = [m for m in k.modules() if m.has_btf_ids]
    assert mods, k.name
    return mods


def test_standalone_modules_retarget_to_their_kbuild_split_btf(kernels, tmp_path):
    """Seed case: standalone module -> split on its vmlinux, equivalent to what kbuild
    built, .BTF_ids naming the same types with the same flags, other sections intact."""
    for k in kernels[:2]:
        base, index = kernels[2][k.name], kernels[3][k.name]
        for mod in _kfunc_modules(k):
            orig_elf = _elf(mod.ko)
            orig = btfx.Btf.from_bytes(orig_elf, base)
            standalone = _standalone_module(mod.ko, base)
            assert btfx.Btf.from_bytes(standalone).start_id == 1
            out = tmp_path / f"{k.name}-{mod.name}.ko"
            rep = btfx.retarget_module(standalone, index, out=out)
            assert (rep.input_kind, rep.changed, rep.btf_ids_fixed) == ("standalone", True, True)
            assert rep.ids_changed > 0 and not rep.signed
            new_elf = out.read_bytes()
            new = btfx.Btf.from_bytes(new_elf, base)
            new.validate(level="module")
            assert btfx.equivalent(new, orig, exact=False), (mod.name, btfx.equivalent(new, orig))
            new_ids, orig_ids = BtfIds.from_bytes(new_elf), BtfIds.from_bytes(orig_elf)
            assert new_ids.check(new) == []
            assert _decoded(new_ids, new) == _decoded(orig_ids, orig), mod.name
            assert _sections(new_elf) == _sections(orig_elf), mod.name


def test_cross_kernel_split_modules_keep_every_btf_ids_entry(kernels, targets, tmp_path):
    """Split BTF built for one kernel, retargeted onto the other (both directions)."""
    old, new, bases, index = kernels
    for src, dst in ((old, new), (new, old)):
        for mod in _kfunc_modules(src):
            out = tmp_path / src.name / Path(mod.ko).name
            rep = btfx.retarget_module(mod.ko, targets[src.name, dst.name], out=out)
            assert rep.input_kind == "split" and rep.changed
            assert rep.signed and rep.signature_stripped
            assert any("signature" in w for w in rep.warnings)
            assert rep.compression_out == rep.compression_in
            out_bytes = out.read_bytes()
            assert out_bytes[:6] == Path(mod.ko).read_bytes()[:6]  # same container
            elf = _elf(out_bytes)
            assert not elf.endswith(SIG_MAGIC)
            moved = btfx.Btf.from_bytes(elf, bases[dst.name])
            moved.validate(level="module")
            before_elf = _elf(mod.ko)
            before = btfx.Btf.from_bytes(before_elf, bases[src.name])
            ids = BtfIds.from_bytes(elf)
            assert ids.check(moved) == []
            assert _decoded(ids, moved) == _decoded(BtfIds.from_bytes(before_elf), before)
            assert _sections(elf) == _sections(before_elf)


def test_module_already_on_base_is_left_alone(kernels, tmp_path):
    old, _, bases, index = kernels
    mod = _kfunc_modules(old)[0]
    out = tmp_path / "same.ko"
    rep = btfx.retarget_module(mod.ko, index[old.name], out=out)
    assert (rep.input_kind, rep.changed, rep.signature_stripped) == ("on-base", False, False)
    assert out.read_bytes() == Path(mod.ko).read_bytes()


def test_retargeting_twice_is_a_no_op(kernels, tmp_path):
    old, new, bases, index = kernels
    mod = _kfunc_modules(old)[0]
    first = tmp_path / "first.ko"
    btfx.retarget_module(mod.ko, index[new.name], old_base=bases[old.name], out=first)
    again = btfx.retarget_module(first, index[new.name])
    assert again.input_kind == "on-base" and not again.changed
    assert again.data == first.read_bytes()


def test_signature_keep_refuses_and_leaves_the_input(kernels, tmp_path):
    old, new, bases, index = kernels
    mod = _kfunc_modules(old)[0]
    copy = tmp_path / Path(mod.ko).name
    shutil.copy(mod.ko, copy)
    before = copy.read_bytes()
    with pytest.raises(BtfError, match="signed"):
        btfx.retarget_module(
            copy, index[new.name], old_base=bases[old.name], in_place=True, signature="keep"
        )
    assert copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [copy.name]  # no temp file left


def test_in_place_replaces_the_file_atomically(kernels, tmp_path):
    old, new, bases, index = kernels
    mod = _kfunc_modules(old)[0]
    copy = tmp_path / Path(mod.ko).name
    shutil.copy(mod.ko, copy)
    rep = btfx.retarget_module(copy, index[new.name], old_base=bases[old.name], in_place=True)
    assert rep.output == str(copy) and rep.changed
    assert btfx.Btf.from_file(copy, bases[new.name]).start_id == bases[new.name].start_id + len(
        bases[new.name]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [copy.name]


def test_shift_mode_keeps_sizes_and_patches_in_place(kernels):
    old, _, bases, index = kernels
    mod = _kfunc_modules(old)[0]
    standalone = _standalone_module(mod.ko, bases[old.name])
    rep = btfx.retarget_module(standalone, index[old.name], mode="shift")
    assert rep.patched_in_place and rep.btf_bytes_in == rep.btf_bytes_out
    assert rep.types_in == rep.types_out
    assert len(rep.data) == len(standalone)
    out = btfx.Btf.from_bytes(rep.data, bases[old.name])
    assert BtfIds.from_bytes(rep.data).check(out) == []
    # every id moved by the number of base types (void included in neither)
    src, dst = BtfIds.from_bytes(standalone), BtfIds.from_bytes(rep.data)
    last = len(bases[old.name])
    for a, b in zip(src.entries, dst.entries):
        assert [p[0] + last for p in a.pairs] == [p[0] for p in b.pairs]


def test_unfixed_btf_ids_on_request_differ(kernels):
    old, _, bases, index = kernels
    mod = _kfunc_modules(old)[0]
    standalone = _standalone_module(mod.ko, bases[old.name])
    rep = btfx.retarget_module(standalone, index[old.name], btf_ids="keep")
    assert not rep.btf_ids_fixed
    out = btfx.Btf.from_bytes(rep.data, bases[old.name])
    assert BtfIds.from_bytes(rep.data).check(out) != []


def test_compressed_output_is_valid_for_the_system_tools(kernels, targets, tmp_path):
    old, new, bases, index = kernels
    mod = next(m for m in _kfunc_modules(new) if str(m.ko).endswith(".xz"))
    for comp, tool in (("xz", "xz"), ("zstd", "zstd"), ("gzip", "gzip")):
        out = tmp_path / f"m.ko.{comp}"
        rep = btfx.retarget_module(mod.ko, targets[new.name, old.name], out=out, compression=comp)
        assert rep.compression_in == "xz" and rep.compression_out == comp
        assert _native.module_open(out.read_bytes())[1] == comp
        # xz-utils and zstd are test dependencies (make deps)
        subprocess.run([tool, "-t", str(out)], check=True, capture_output=True)


def test_batch_isolates_errors_reports_progress_and_pickles(kernels, tmp_path):
    old, new, bases, index = kernels
    src = tmp_path / "in"
    mods = [m for m in old.modules() if "/net/ipv4/" in m.path][:40]
    for m in mods:
        dest = src / m.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(m.ko, dest)
    (src / "bad.ko").write_bytes(b"\x7fELF" + b"\0" * 60)
    seen = []
    results = btfx.retarget_modules(
        [src],
        index[new.name],
        old_base=bases[old.name],
        out_dir=tmp_path / "out",
        jobs=2,
        progress=lambda done, total, r: seen.append((done, total, r.input)),
    )
    assert len(results) == len(mods) + 1
    assert [d for d, _, _ in seen] == list(range(1, len(results) + 1))
    assert {t for _, t, _ in seen} == {len(results)}
    bad = [r for r in results if not r.ok]
    assert [Path(r.input).name for r in bad] == ["bad.ko"]
    assert bad[0].error_type == "BtfElfError"
    for r in results:
        if r.ok:
            assert Path(r.output).relative_to(tmp_path / "out") == Path(r.input).relative_to(src)
            btfx.Btf.from_file(r.output, bases[new.name]).validate(level="module")
    assert pickle.loads(pickle.dumps(results)) == results


def test_batch_in_place_and_plan_errors(kernels, tmp_path):
    old, new, bases, index = kernels
    mod = _kfunc_modules(old)[0]
    with pytest.raises(ValueError):
        btfx.retarget_modules([mod.ko], index[new.name])  # neither out_dir nor in_place
    with pytest.raises(FileNotFoundError):
        btfx.retarget_modules([tmp_path / "missing.ko"], index[new.name], out_dir=tmp_path)
    copy = tmp_path / "m.ko"
    shutil.copy(mod.ko, copy)
    (r,) = btfx.retarget_modules([copy], index[new.name], old_base=bases[old.name], in_place=True)
    assert r.ok and r.output == str(copy)
    btfx.Btf.from_file(copy, bases[new.name]).validate(level="module")


def test_cli_retarget_and_ids(kernels, tmp_path, capsys):
    old, new, _, _ = kernels
    mod = _kfunc_modules(old)[0]
    out = tmp_path / "out"
    rc = cli_main(
        [
            "retarget",
            str(mod.ko),
            "--base",
            str(new.vmlinux_btf),
            "--old-base",
            str(old.vmlinux_btf),
            "-o",
            str(out),
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["ok"] and doc["modules"] == 1
    assert doc["results"][0]["report"]["input_kind"] == "split"
    written = out / Path(mod.ko).name
    assert written.exists()

    rc = cli_main(["ids", str(written), "--base", str(new.vmlinux_btf)])
    listing = capsys.readouterr().out
    assert rc == 0 and "set8" in listing and "FUNC" in listing and "!!" not in listing
    # the un-retargeted module checked against the wrong kernel: problems, exit 1
    rc = cli_main(["ids", str(mod.ko), "--base", str(new.vmlinux_btf)])
    assert rc == 1

    rc = cli_main(["retarget", str(tmp_path / "nothing.ko"), "-o", str(out)])
    assert rc == 2  # OSError: no such file
    bad = tmp_path / "bad.ko"
    bad.write_bytes(b"not a module")
    rc = cli_main(["retarget", str(bad), "--base", str(new.vmlinux_btf), "-o", str(out)])
    assert rc == 1
    assert "FAILED" in capsys.readouterr().out


def test_resign_with_the_kernels_sign_file(kernels, targets, tmp_path, fixture_kernels, capsys):
    """signature="resign": the retargeted module carries a new signature over its new
    bytes (openssl verifies it), compressed like the input."""
    sign_file = str(fixture_kernels["6.12"].sign_file)
    key, cert = signing.throwaway_key(tmp_path, "btfx resign test")
    old, new, bases, _ = kernels
    mod = next(m for m in _kfunc_modules(new) if str(m.ko).endswith(".xz"))
    out = tmp_path / "out" / Path(mod.ko).name
    command = [sign_file, "sha256", str(key), str(cert)]
    rep = btfx.retarget_module(
        mod.ko, targets[new.name, old.name], out=out, signature="resign", sign_command=command
    )
    assert rep.resigned and rep.signature_stripped and rep.compression_out == "xz"
    assert not any("stripped" in w for w in rep.warnings), rep.warnings
    assert any("re-signed" in w for w in rep.warnings), rep.warnings
    elf, comp, trailer = _native.module_open(out.read_bytes())
    assert comp == "xz" and trailer is not None and trailer.endswith(SIG_MAGIC)
    signing.verify(trailer, elf, cert, tmp_path)
    btfx.Btf.from_bytes(elf, bases[old.name]).validate(level="module")
    # the same through the CLI, for a batch
    rc = cli_main(
        ["retarget", str(mod.ko), "-B", str(old.vmlinux_btf), "--old-base",
         str(new.vmlinux_btf), "-o", str(tmp_path / "cli"), "--signature", "resign",
         "--sign-command", " ".join(command)]
    )  # fmt: skip
    assert rc == 0
    summary = capsys.readouterr().out
    assert re.search(r"signatures stripped +0\n", summary), summary
    assert re.search(r"signatures re-signed +1\n", summary), summary
    assert _native.module_open((tmp_path / "cli" / Path(mod.ko).name).read_bytes())[2]
    # a failing sign command is an error, and nothing is written
    with pytest.raises(BtfError, match="sign command failed"):
        btfx.retarget_module(
            mod.ko, targets[new.name, old.name], out=tmp_path / "x.ko.xz",
            signature="resign", sign_command=["false"],
        )  # fmt: skip
    assert not (tmp_path / "x.ko.xz").exists()
