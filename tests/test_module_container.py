"""Module containers: section replacement (native vs reference, byte for byte), the
signature trailer, compression; on generated ELF files and on real modules."""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Callable, Dict, List

import elfgen  # tests/elfgen.py
import pytest
import signing  # tests/signing.py
from btfx import _native as N
from btfx.errors import BtfElfError, BtfError
from btfx.reference import module as R
from btfx.reference.elf import decompress
from elftools.elf.elffile import ELFFile
from hypothesis import given, settings
from hypothesis import strategies as st

import corpus  # tests/corpus.py

MAGIC = b"~Module signature appended~\n"

# --------------------------------------------------------------------------- helpers


def outcome(fn: Callable[[], bytes]) -> object:
    """The bytes ``fn`` returns, or the class of the btfx error it raises."""
    try:
        return fn()
    except BtfError as exc:
        return type(exc)


def both_replace(elf: bytes, repl: Dict[str, bytes]) -> object:
    """Native and reference agree (bytes or error class); return that outcome."""
    native = outcome(lambda: N.elf_replace_sections(elf, repl))
    ref = outcome(lambda: R.replace_sections(elf, repl))
    if isinstance(native, bytes) and isinstance(ref, bytes):
        assert native == ref, first_difference(native, ref)
    else:
        assert native == ref, (native, ref)
    return native


def first_difference(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"lengths {len(a)} / {len(b)}, first difference at {n:#x}"


def sections(data: bytes) -> List[dict]:
    """Every section header (pyelftools) with its bytes (b'' for NOBITS)."""
    elf = ELFFile(io.BytesIO(data))
    out = []
    for sec in elf.iter_sections():
        row = dict(sec.header)
        row["name"] = sec.name
        row["bytes"] = b"" if sec["sh_type"] == "SHT_NOBITS" else sec.data()
        out.append(row)
    return out


def header(data: bytes) -> dict:
    return dict(ELFFile(io.BytesIO(data)).header)


def check_relayout(before: bytes, after: bytes, repl: Dict[str, bytes]) -> None:
    """Replaced sections hold the new bytes; every other section's bytes and every header
    field except offsets and sizes are unchanged; alignment holds; nothing overlaps."""
    hb, ha = header(before), header(after)
    for key in ("e_shoff", "e_phoff"):
        hb.pop(key)
        ha.pop(key)
    assert hb == ha
    word = 8 if ELFFile(io.BytesIO(after)).elfclass == 64 else 4
    assert (
        header(after)["e_shoff"] % word == 0
        or header(after)["e_shoff"] == header(before)["e_shoff"]
    )
    sb, sa = sections(before), sections(after)
    assert len(sb) == len(sa)
    for b, a in zip(sb, sa):
        name = b["name"]
        assert a["bytes"] == repl.get(name, b["bytes"]), name
        for key in b:
            if key not in ("sh_offset", "sh_size", "bytes"):
                assert a[key] == b[key], (name, key)
        if name not in repl:
            assert a["sh_size"] == b["sh_size"], name
        has_bytes = a["sh_type"] != "SHT_NOBITS"
        if a["sh_offset"] != b["sh_offset"] and has_bytes and a["sh_size"]:
            assert a["sh_offset"] % max(a["sh_addralign"], 1) == 0, name
        # Inside the file, as the module loader's elf_validity_check requires.
        assert a["sh_offset"] + (a["sh_size"] if has_bytes else 0) <= len(after), name
    spans = sorted(
        (a["sh_offset"], a["sh_offset"] + a["sh_size"])
        for a in sa[1:]
        if a["sh_type"] != "SHT_NOBITS" and a["sh_size"]
    )
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start


# ------------------------------------------------------------------ generated ELF files

REPLACEABLE = [".BTF", ".BTF_ids", ".text", ".data", ".empty", ".extra0"]


@st.composite
def replacements(draw, data: bytes) -> Dict[str, bytes]:
    present = {s["name"]: s["sh_size"] for s in sections(data)}
    names = draw(st.lists(st.sampled_from(REPLACEABLE), unique=True, max_size=3))
    out = {}
    for name in names:
        if name not in present:
            continue
        old = present[name]
        size = draw(st.sampled_from([old, old, max(old - 1, 0), old + 1, old + 100, 0, 7]))
        out[name] = draw(st.binary(min_size=size, max_size=size))
    return out


@settings(max_examples=300)
@given(data=st.data(), spec=elfgen.elf_specs())
def test_generated_native_equals_reference(data, spec):
    elf = elfgen.build(spec)
    assert sections(elf)  # pyelftools reads what we generated
    repl = data.draw(replacements(elf))
    got = both_replace(elf, repl)
    if not isinstance(got, bytes):
        # Only a relocation past a shrunk .text's end may refuse a well-formed file.
        assert got is BtfElfError
        new_text = repl.get(".text")
        assert new_text is not None and any(o >= len(new_text) for o in spec.entries)
        return
    old = {s["name"]: s for s in sections(elf)}
    if all(len(v) == old[k]["sh_size"] for k, v in repl.items()):
        # In-place patch: only the replaced bytes differ.
        expected = bytearray(elf)
        for k, v in repl.items():
            expected[old[k]["sh_offset"] : old[k]["sh_offset"] + len(v)] = v
        assert got == bytes(expected)
    else:
        check_relayout(elf, got, repl)
    # Replacing again with the old contents gives a file with the original sections.
    back = {k: old[k]["bytes"] for k in repl}
    again = both_replace(got, back)
    assert isinstance(again, bytes)
    assert [s["bytes"] for s in sections(again)] == [s["bytes"] for s in sections(elf)]


@settings(max_examples=100)
@given(data=st.data(), spec=elfgen.elf_specs(e_type=elfgen.ET_EXEC))
def test_linked_image_only_same_size(data, spec):
    elf = elfgen.build(spec)
    repl = data.draw(replacements(elf))
    got = both_replace(elf, repl)
    old = {s["name"]: s["sh_size"] for s in sections(elf)}
    if all(len(v) == old[k] for k, v in repl.items()):
        assert isinstance(got, bytes)
    else:
        assert got is BtfElfError


def _mutations(elf: bytes, rnd: random.Random) -> List[bytes]:
    """Corruptions of a generated file: truncation, bad e_shoff / e_shstrndx / e_shnum /
    e_shentsize, sections out of range or overlapping, random byte flips."""
    is64 = elf[4] == 2
    en = ">" if elf[5] == 2 else "<"
    w = "Q" if is64 else "I"
    shoff = struct.unpack_from(en + w, elf, 0x28 if is64 else 0x20)[0]
    shentsize = 64 if is64 else 40
    shnum = struct.unpack_from(en + "H", elf, 60 if is64 else 48)[0]
    off_field, size_field = (24, 32) if is64 else (16, 20)
    out = [elf[: rnd.randrange(len(elf))], elf[:60], elf[:5]]

    def patched(at: int, fmt: str, value: int) -> bytes:
        b = bytearray(elf)
        struct.pack_into(en + fmt, b, at, value)
        return bytes(b)

    out.append(patched(0x28 if is64 else 0x20, w, len(elf) - 8))  # table past the end
    out.append(patched(0x28 if is64 else 0x20, w, 0))  # no table
    out.append(patched(62 if is64 else 50, "H", shnum + 5))  # e_shstrndx out of range
    out.append(patched(62 if is64 else 50, "H", 0))
    out.append(patched(62 if is64 else 50, "H", 0xFFFF))  # SHN_XINDEX, sh_link of 0 is 0
    out.append(patched(58 if is64 else 46, "H", shentsize + 4))
    out.append(patched(60 if is64 else 48, "H", 0))  # extended numbering, section 0 says 0
    out.append(patched(60 if is64 else 48, "H", shnum + 1))
    for i in range(1, shnum):
        sh = shoff + i * shentsize
        out.append(patched(sh + off_field, w, len(elf) - 2))  # out of range
        out.append(patched(sh + size_field, w, (1 << (64 if is64 else 32)) - 1))
        out.append(patched(sh + off_field, w, rnd.randrange(len(elf))))  # likely overlapping
        out.append(patched(sh, "I", 1 << 20))  # unreadable name
        out.append(patched(sh + 4, "I", rnd.choice([0, 8, 1, 9])))  # type change
        if is64:
            out.append(patched(sh + 48, "Q", rnd.choice([3, 1 << 21, 1 << 63])))  # sh_addralign
        else:
            out.append(patched(sh + 32, "I", rnd.choice([3, 1 << 21, 1 << 31])))
    for _ in range(20):
        b = bytearray(elf)
        for _ in range(rnd.randrange(1, 4)):
            b[rnd.randrange(len(b))] ^= rnd.randrange(1, 256)
        out.append(bytes(b))
    return out


@settings(max_examples=60)
@given(data=st.data(), spec=elfgen.elf_specs(), seed=st.integers(0, 2**32))
def test_corrupted_native_equals_reference(data, spec, seed):
    elf = elfgen.build(spec)
    rnd = random.Random(seed)
    for bad in _mutations(elf, rnd):
        name = rnd.choice(REPLACEABLE[:4])
        for size in (0, 5, 300):
            both_replace(bad, {name: bytes(size)})


def test_corrupted_inputs_are_elf_errors():
    spec = elfgen.simple_spec()
    elf = elfgen.build(spec)
    grow = {".BTF": b"x" * 1000}
    for bad in (b"", b"\x7fELF", elf[:64], elf[:-1], b"\x7fELF\x03" + elf[5:]):
        assert both_replace(bad, grow) is BtfElfError
    assert both_replace(elf, {".nope": b""}) is BtfElfError
    assert both_replace(elf, {".bss": b""}) is BtfElfError
    assert both_replace(elf, {".symtab": b""}) is BtfElfError


def test_nonzero_padding_is_not_copied():
    """Bytes between sections after the first resized one come out as zeros."""
    spec = elfgen.simple_spec()
    for s in spec.sections:
        s.gap = 11
    elf = elfgen.build(spec)
    sb = {s["name"]: s for s in sections(elf)}
    out = both_replace(elf, {".BTF": sb[".BTF"]["bytes"] + b"!" * 40})
    assert isinstance(out, bytes)
    btf = next(s for s in sections(out) if s["name"] == ".BTF")
    start = btf["sh_offset"] + btf["sh_size"]
    spans = sorted(
        (s["sh_offset"], s["sh_offset"] + s["sh_size"])
        for s in sections(out)[1:]
        if s["sh_type"] != "SHT_NOBITS" and s["sh_size"] and s["sh_offset"] >= start
    )
    shoff = header(out)["e_shoff"]
    shend = shoff + header(out)["e_shnum"] * header(out)["e_shentsize"]
    spans = sorted(spans + ([(shoff, shend)] if shoff >= start else []))
    pos = start
    for s, e in spans:
        assert out[pos:s] == bytes(s - pos)
        pos = e
    assert pos == len(out)


# ------------------------------------------------------------------------- signatures


def trailer(sig: bytes, signer: bytes = b"", key_id: bytes = b"", id_type: int = 2) -> bytes:
    ms = bytes([0, 0, id_type, len(signer), len(key_id), 0, 0, 0]) + struct.pack(">I", len(sig))
    return signer + key_id + sig + ms + MAGIC


def both_split(data: bytes) -> object:
    def native() -> bytes:
        elf, _, tr = N.module_open(data)
        return elf + b"|" + (tr or b"")

    def ref() -> bytes:
        elf, _, tr = R.module_open(data)
        return elf + b"|" + (tr or b"")

    got, want = outcome(native), outcome(ref)
    assert got == want
    return got


def test_signature_split_constructed():
    elf = elfgen.build(elfgen.simple_spec())
    for extra in (trailer(b"S" * 300), trailer(b"SIG", b"signer", b"\x01\x02", 1), b""):
        data = elf + extra
        assert both_split(data) == elf + b"|" + extra
        ref_elf, sig = R.split_signature(data)
        assert ref_elf == elf and (sig is None) == (extra == b"")
    assert R.split_signature(elf + trailer(b"SIG", b"signer", b"k", 1))[1].signer == "signer"
    # Malformed trailers: same error class from both.
    good = elf + trailer(b"SIG")
    ms_at = len(good) - len(MAGIC) - 12
    for sig_len in (0, ms_at, 1 << 31):
        bad = bytearray(good)
        struct.pack_into(">I", bad, ms_at + 8, sig_len)
        assert both_split(bytes(bad)) is BtfElfError, sig_len
    assert both_split(b"\x7fELF" + MAGIC) is BtfElfError
    assert both_split(bytes(12) + MAGIC) is BtfElfError
    assert both_split(b"\0" * 40 + trailer(b"SIG")) is BtfElfError  # not ELF


@given(st.binary(max_size=64), st.integers(0, 255), st.integers(0, 255), st.integers(0, 2**32 - 1))
def test_signature_split_random(prefix, signer_len, key_len, sig_len):
    data = b"\x7fELF" + prefix + bytes([0, 0, 2, signer_len, key_len, 0, 0, 0])
    data += struct.pack(">I", sig_len) + MAGIC
    native = outcome(lambda: N.module_open(data)[0])
    ref = outcome(lambda: R.module_open(data)[0])
    assert native == ref


def test_sign_file_module(tmp_path: Path, fixture_kernels):
    """Sign with the kernel's scripts/sign-file and a throwaway key: the split gives back
    the exact ELF, and openssl verifies the PKCS#7 signature over it."""
    sign_file = fixture_kernels["6.1"].sign_file
    key, cert = signing.throwaway_key(tmp_path, "btfx throwaway key")
    elf = elfgen.build(elfgen.simple_spec())
    mod = tmp_path / "m.ko"
    mod.write_bytes(elf)
    subprocess.run([sign_file, "sha256", str(key), str(cert), str(mod)], check=True)
    signed = mod.read_bytes()
    assert signed.endswith(MAGIC) and signed.startswith(elf)
    for c in ("none", "xz", "zstd", "gzip"):
        blob = N.compress(signed, c)
        got_elf, comp, tr = N.module_open(blob)
        assert (got_elf, comp, tr) == R.module_open(blob)
        assert got_elf == elf and comp == c and tr == signed[len(elf) :]
    _, sig = R.split_signature(signed)
    assert sig is not None and sig.id_type == 2 and sig.signer == "btfx throwaway key"
    assert sig.sig_len == signing.signature_length(tr)
    signing.verify(tr, got_elf, cert, tmp_path)


# ------------------------------------------------------------------------ compression


@pytest.mark.parametrize("c", ["xz", "zstd", "gzip"])
def test_compress_round_trip_and_tools(c, tmp_path: Path):
    rnd = random.Random(7)
    for data in (b"", b"x", bytes(rnd.randrange(40) for _ in range(200_000))):
        blob = N.compress(data, c)
        assert R.compress(data, c)  # the reference writes the same container kind
        assert decompress(blob) == data
        assert decompress(R.compress(data, c)) == data
        tool = {"xz": "xz", "zstd": "zstd", "gzip": "gzip"}[c]
        if shutil.which(tool):
            f = tmp_path / f"blob.{c}"
            f.write_bytes(blob)
            subprocess.run([tool, "-t", str(f)], check=True, capture_output=True)
            out = subprocess.run([tool, "-dc", str(f)], check=True, capture_output=True).stdout
            assert out == data
    if c == "xz":
        # CRC32 check, as kbuild's `xz --check=crc32` (the kernel's xz_dec has no SHA-256).
        assert N.compress(b"abc", c)[6:8] == b"\x00\x01"
    with pytest.raises(ValueError):
        N.compress(b"abc", "lz4")


# -------------------------------------------------------------------------- real data


def _modules(kernel: corpus.Kernel) -> List[Path]:
    root = kernel.dir / kernel.manifest["modules_root"]
    return sorted(p for p in root.rglob("*.ko*") if p.is_file())


@pytest.mark.corpus
@pytest.mark.parametrize("kernel", corpus.kernel_params())
def test_corpus_every_module(kernel):
    """Every module: open (decompress, split the signature), replace .BTF with itself
    (identity), and native == reference for .BTF + 100 bytes."""
    k = corpus.kernel_or_skip(kernel)
    files = _modules(k)
    assert files
    rnd = random.Random(1)
    checked = 0
    for path in files:
        raw = path.read_bytes()
        elf, comp, tr = N.module_open(raw)
        assert tr is not None and tr.endswith(MAGIC), path
        assert comp == ("xz" if path.name.endswith(".xz") else "none")
        btf = next((s for s in sections(elf) if s["name"] == ".BTF"), None)
        if btf is None:
            continue
        assert N.elf_replace_sections(elf, {".BTF": btf["bytes"]}) == elf
        grown = btf["bytes"] + bytes(rnd.randrange(256) for _ in range(100))
        out = N.elf_replace_sections(elf, {".BTF": grown})
        # The reference is slower: compare it on a sample (and every small module).
        if len(elf) < 60_000 or rnd.random() < 0.05:
            assert R.replace_sections(elf, {".BTF": grown}) == out, path
            check_relayout(elf, out, {".BTF": grown})
            assert R.module_open(raw) == (elf, comp, tr)
        checked += 1
    assert checked > 1000


@pytest.mark.corpus
@pytest.mark.parametrize("kernel", corpus.kernel_params())
def test_corpus_readelf_and_compress(kernel, tmp_path: Path):
    k = corpus.kernel_or_skip(kernel)
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) not installed")
    files = _modules(k)
    rnd = random.Random(2)
    for path in rnd.sample(files, 25):
        elf, comp, tr = N.module_open(path.read_bytes())
        btf = next(s for s in sections(elf) if s["name"] == ".BTF")
        out = N.elf_replace_sections(elf, {".BTF": btf["bytes"] + b"\0" * 100})
        f = tmp_path / "m.ko"
        f.write_bytes(out)
        for flag in ("-S", "-r", "-s"):
            r = subprocess.run(["readelf", "-W", flag, str(f)], capture_output=True, text=True)
            assert r.returncode == 0 and "Warning" not in r.stderr and "Error" not in r.stderr, (
                path,
                flag,
                r.stderr,
            )
        # Reassembled like kbuild (ELF + signature, then compressed): opens to the same.
        for c in ("xz", "zstd", "gzip"):
            blob = N.compress(out + tr, c)
            assert N.module_open(blob) == (out, c, tr)
