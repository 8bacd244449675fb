"""``.BTF_ids`` reference (``btfx.reference.btf_ids``): hand-built ELF files, real
modules from the corpus, and byte equality with the Rust core's fix-up."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import btfx
import pytest
from btfx.errors import BtfElfError, BtfError, BtfRebaseError
from btfx.reference import Btf as RefBtf
from btfx.reference import btf_ids as R

import corpus  # tests/corpus.py

REPO = Path(__file__).resolve().parent.parent
IDS_SHNDX = 2

Sym = Tuple[str, int, int, int]  # name, st_value, st_size, st_shndx


def words(be: bool, ws: Sequence[int]) -> bytes:
    return b"".join(struct.pack(">I" if be else "<I", w) for w in ws)


def make_elf(
    is_64: bool,
    be: bool,
    ids: bytes,
    syms: Optional[List[Sym]],
    section_size: Optional[int] = None,
) -> bytes:
    """ET_REL with null, .text, .BTF_ids (flags A, align 1, odd offset), [.symtab,
    .strtab], .shstrtab."""
    e = ">" if be else "<"
    w = "Q" if is_64 else "I"
    ehsize, shentsize, symentsize = (64, 64, 24) if is_64 else (52, 40, 16)
    strtab = b"\0"
    symtab = b"\0" * symentsize
    for name, value, size, shndx in syms or []:
        off = len(strtab)
        strtab += name.encode() + b"\0"
        if is_64:
            symtab += struct.pack(e + "IBBHQQ", off, 1, 0, shndx, value, size)
        else:
            symtab += struct.pack(e + "IIIBBH", off, value, size, 1, 0, shndx)
    secs = [(".text", 1, b"\xc3", 0, 0), (".BTF_ids", 1, ids, 0, 0)]
    if syms is not None:
        secs += [(".symtab", 2, symtab, 4, symentsize), (".strtab", 3, strtab, 0, 0)]
    shstrtab = b"\0"
    names = []
    for n in [s[0] for s in secs] + [".shstrtab"]:
        names.append(len(shstrtab))
        shstrtab += n.encode() + b"\0"
    secs.append((".shstrtab", 3, shstrtab, 0, 0))
    out = bytearray(ehsize)
    offs = []
    for s in secs:
        out += b"\0"
        offs.append(len(out))
        out += s[2]
    while len(out) % 8:
        out += b"\0"
    shoff = len(out)
    out += b"\0" * shentsize
    for i, (name, sh_type, data, link, entsize) in enumerate(secs):
        size = len(data)
        if name == ".BTF_ids" and section_size is not None:
            size = section_size
        flags = 2 if name == ".BTF_ids" else 0
        info = 1 if name == ".symtab" else 0
        out += struct.pack(
            e + "II" + w + w + w + w + "II" + w + w,
            names[i], sh_type, flags, 0, offs[i], size, link, info, 1, entsize,
        )  # fmt: skip
    ident = b"\x7fELF" + bytes([2 if is_64 else 1, 2 if be else 1, 1]) + b"\0" * 9
    hdr = ident + struct.pack(
        e + "HHI" + w + w + w + "IHHHHHH",
        1, 62, 1, 0, 0, shoff, 0, ehsize, 0, 0, shentsize, len(secs) + 1, len(secs),
    )  # fmt: skip
    out[:ehsize] = hdr
    return bytes(out)


def tiny_btf_bytes() -> bytes:
    """1 int, 2 proto, 3..5 func fa fb fc, 6 struct s, 7 typedef t, 8 union u,
    9 func nf_conn___init."""
    strs = b"\0int\0fa\0fb\0fc\0s\0t\0u\0nf_conn___init\0"

    def off(s: str) -> int:
        return strs.index(b"\0" + s.encode() + b"\0") + 1

    def k(kind: int, vlen: int = 0) -> int:
        return (kind << 24) | vlen

    types = [
        [off("int"), k(1), 4, 32],
        [0, k(13), 1],
        [off("fa"), k(12), 2],
        [off("fb"), k(12), 2],
        [off("fc"), k(12), 2],
        [off("s"), k(4), 0],
        [off("t"), k(8), 6],
        [off("u"), k(5), 0],
        [off("nf_conn___init"), k(12), 2],
    ]
    tb = words(False, [x for t in types for x in t])
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(tb), len(tb), len(strs)) + tb + strs


def sample(be: bool) -> Tuple[bytes, List[Sym]]:
    section = words(be, [6, 7, 3, 1, 3, 0x11, 4, 0x22, 5, 0x33, 2, 8, 9, 0xDEAD])
    syms = [
        ("nf_ct_list", 0, 0, IDS_SHNDX),
        ("__BTF_ID__struct__s__101", 0, 4, IDS_SHNDX),
        ("__BTF_ID__typedef__t__102", 4, 4, IDS_SHNDX),
        ("__BTF_ID__set8__kf", 8, 32, IDS_SHNDX),
        ("__BTF_ID__func__fc__103", 16, 4, IDS_SHNDX),
        ("__BTF_ID__func__fa__104", 24, 4, IDS_SHNDX),
        ("__BTF_ID__func__fb__105", 32, 4, IDS_SHNDX),
        ("__BTF_ID__set__st", 40, 12, IDS_SHNDX),
        ("__BTF_ID__func__nf_conn___init__106", 44, 4, IDS_SHNDX),
        ("__BTF_ID__union__u__107", 48, 4, IDS_SHNDX),
        ("__BTF_ID__func__elsewhere__1", 0, 4, 1),
        ("undefined", 0, 0, 0),
    ]
    return section, syms


KINDS = [(True, False), (True, True), (False, False), (False, True)]


@pytest.fixture(params=["reference", "native"])
def tiny_btf(request):
    data = tiny_btf_bytes()
    return RefBtf.from_bytes(data) if request.param == "reference" else btfx.Btf.from_bytes(data)


@pytest.mark.parametrize("is_64,be", KINDS)
def test_parse_sample(is_64: bool, be: bool, tiny_btf) -> None:
    section, syms = sample(be)
    elf = make_elf(is_64, be, section, syms)
    ids = R.parse_btf_ids(elf)
    assert ids is not None and ids.big_endian == be
    assert R.section_bytes(elf, ids) == section
    assert ids.counts() == (2, 1, 1)
    M = R.Member
    assert ids.entries == [
        R.Slot(0, "struct", "s", 6),
        R.Slot(4, "typedef", "t", 7),
        R.Set8(
            8, "kf", 3, 1, [(3, 0x11), (4, 0x22), (5, 0x33)],
            [M(16, "func", "fc"), M(24, "func", "fa"), M(32, "func", "fb")],
        ),
        R.Set(40, "st", 2, [8, 9], [M(44, "func", "nf_conn___init"), M(48, "union", "u")]),
    ]  # fmt: skip
    assert ids.entries[2].symbol == "__BTF_ID__set8__kf"
    assert R.check(ids, tiny_btf) == []


def test_no_section_and_empty_section() -> None:
    elf = bytearray(make_elf(True, False, b"", []))
    pos = elf.index(b".BTF_ids")
    elf[pos + 7] = ord("z")
    assert R.parse_btf_ids(bytes(elf)) is None
    ids = R.parse_btf_ids(make_elf(True, False, b"", []))
    assert ids is not None and ids.entries == []


def test_check_reports_mismatches(tiny_btf) -> None:
    section, syms = sample(False)
    s = bytearray(section)
    s[0:4] = words(False, [3])
    s[32:36] = words(False, [0])
    s[44:48] = words(False, [1])
    ids = R.parse_btf_ids(make_elf(True, False, bytes(s), syms))
    msgs = [str(p) for p in R.check(ids, tiny_btf)]
    assert len(msgs) == 4, msgs
    assert "__BTF_ID__struct__s" in msgs[0] and "names func fa" in msgs[0]
    assert "__BTF_ID__set8__kf" in msgs[1] and "not sorted" in msgs[1]
    assert "INT" in msgs[2]
    assert "members without an id" in msgs[3] and "union u" in msgs[3]
    s[4:8] = words(False, [99])
    ids = R.parse_btf_ids(make_elf(True, False, bytes(s), syms))
    assert any("id 99 is not a type" in p.message for p in R.check(ids, tiny_btf))


@pytest.mark.parametrize("is_64,be", KINDS)
def test_fixup_maps_and_resorts(is_64: bool, be: bool) -> None:
    section, syms = sample(be)
    ids = R.parse_btf_ids(make_elf(is_64, be, section, syms))
    identity = list(range(32))
    same, r = R.fixup(ids, section, identity)
    assert same == section and r == R.FixupReport(7, 0, 0)
    m = [0, 1, 2, 25, 24, 23, 16, 17, 31, 30]
    out, r = R.fixup(ids, section, m)
    assert r == R.FixupReport(7, 7, 2)
    assert out == words(be, [16, 17, 3, 1, 23, 0x33, 24, 0x22, 25, 0x11, 2, 30, 31, 0xDEAD])
    inverse = [0] * 32
    for old, new in enumerate(m):
        if old:
            inverse[new] = old
    ids2 = R.parse_btf_ids(make_elf(is_64, be, out, syms))
    assert R.fixup(ids2, out, inverse)[0] == section
    assert R.fixup(ids2, out, identity)[0] == out


def test_fixup_signed_sort_and_errors() -> None:
    syms = [("__BTF_ID__set__x", 0, 16, IDS_SHNDX)]
    section = words(False, [3, 0, 5, 4, 0])
    ids = R.parse_btf_ids(make_elf(True, False, section, syms))
    out, r = R.fixup(ids, section, [0, 0, 0, 0, 1, 0x8000_0000])
    assert out == words(False, [3, 0x8000_0000, 0, 1, 0])
    assert r == R.FixupReport(3, 2, 1)
    with pytest.raises(BtfRebaseError, match="element 1: id 5 is outside the id map") as ei:
        R.fixup(ids, section, [0, 1, 2])
    assert ei.value.type_id == 5
    section, syms2 = sample(False)
    ids = R.parse_btf_ids(make_elf(True, False, section, syms2))
    m = list(range(10))
    m[7] = 0
    with pytest.raises(BtfRebaseError, match=r"__BTF_ID__typedef__t: id 7 has no new id"):
        R.fixup(ids, section, m)
    with pytest.raises(BtfError):
        R.fixup(ids, section[:8], m)


MALFORMED = [
    (lambda s: s.append(("__BTF_ID__func__fa__9", 56, 4, IDS_SHNDX)), "outside the section"),
    (lambda s: s.append(("__BTF_ID__set__st", 0, 4, IDS_SHNDX)), "used twice"),
    (lambda s: s.__setitem__(7, ("__BTF_ID__set__st", 40, 10, IDS_SHNDX)), "not 4 x"),
    (lambda s: s.__setitem__(3, ("__BTF_ID__set8__kf", 8, 28, IDS_SHNDX)), "not 8 x"),
    (lambda s: s.__setitem__(3, ("__BTF_ID__set8__kf", 8, 24, IDS_SHNDX)), "count word is 3"),
    (lambda s: s.__setitem__(7, ("__BTF_ID__set__st", 40, 40, IDS_SHNDX)), "outside the section"),
    (lambda s: s.__setitem__(4, ("__BTF_ID__func__fc__103", 20, 4, IDS_SHNDX)), "header or flags"),
    (lambda s: s.__setitem__(4, ("__BTF_ID__func__fc__103", 8, 4, IDS_SHNDX)), "header or flags"),
    (lambda s: s.__setitem__(2, ("__BTF_ID__typedef__t__102", 2, 4, IDS_SHNDX)), "overlap"),
    (lambda s: s.__setitem__(2, ("__BTF_ID__typedef__t__102", 6, 4, IDS_SHNDX)), "header of set"),
    (lambda s: s.__setitem__(5, ("__BTF_ID__func__fa__104", 16, 4, IDS_SHNDX)), "share"),
    (lambda s: s.append(("__BTF_ID__enum__e__1", 52, 4, IDS_SHNDX)), "unsupported prefix"),
    (lambda s: s.append(("__BTF_ID__func", 52, 4, IDS_SHNDX)), "unsupported prefix"),
    (lambda s: s.append(("__BTF_ID__func__fa", 52, 4, IDS_SHNDX)), "__<digits>"),
    (lambda s: s.append(("__BTF_ID__func__fa__", 52, 4, IDS_SHNDX)), "__<digits>"),
    (lambda s: s.append(("__BTF_ID__func__fa__1x", 52, 4, IDS_SHNDX)), "__<digits>"),
    (lambda s: s.append(("__BTF_ID__func____1", 52, 4, IDS_SHNDX)), "__<digits>"),
    (lambda s: s.append(("__BTF_ID__set8__", 52, 0, IDS_SHNDX)), "no set name"),
]


@pytest.mark.parametrize("is_64,be", KINDS)
@pytest.mark.parametrize("edit,message", MALFORMED)
def test_malformed_symbols(is_64: bool, be: bool, edit, message: str) -> None:
    section, syms = sample(be)
    edit(syms)
    with pytest.raises(BtfElfError, match=message):
        R.parse_btf_ids(make_elf(is_64, be, section, syms))


@pytest.mark.parametrize("is_64,be", KINDS)
def test_malformed_files(is_64: bool, be: bool) -> None:
    section, syms = sample(be)
    with pytest.raises(BtfElfError, match="module has .BTF_ids but no symbol table"):
        R.parse_btf_ids(make_elf(is_64, be, section, None))
    with pytest.raises(BtfElfError, match="past the end of the file"):
        R.parse_btf_ids(make_elf(is_64, be, section, syms, section_size=1 << 20))
    with pytest.raises(BtfElfError, match="outside the section"):
        R.parse_btf_ids(make_elf(is_64, be, section[:40], syms))


def test_truncation_and_corruption_raise_typed_errors() -> None:
    section, syms = sample(False)
    elf = make_elf(True, False, section, syms)
    for n in range(0, len(elf), 3):
        try:
            R.parse_btf_ids(elf[:n])
        except BtfError:
            pass
    btf = RefBtf.from_bytes(tiny_btf_bytes())
    for i in range(0, len(elf)):
        for v in (0, 0xFF):
            f = bytearray(elf)
            f[i] = v
            try:
                ids = R.parse_btf_ids(bytes(f))
            except BtfError:
                continue
            if ids is not None:
                try:
                    R.fixup(ids, R.section_bytes(f, ids), list(range(64)))
                except BtfError:
                    pass
                R.check(ids, btf)


# ---------------------------------------------------------------------------- corpus


def _modules(kernel: corpus.Kernel) -> List[corpus.Module]:
    mods = [m for m in kernel.modules() if m.has_btf_ids]
    assert mods, f"{kernel.name}: no module with .BTF_ids"
    return mods


def _elf(mod: corpus.Module) -> bytes:
    from btfx.reference.elf import decompress, is_compressed

    data = mod.ko.read_bytes()
    return decompress(data) if is_compressed(data) else data


def _decoded_sets(ids: R.BtfIds, btf, remap=None) -> Dict[str, List[Tuple[str, str, int]]]:
    out = {}
    for e in ids.entries:
        if isinstance(e, R.Slot):
            continue
        pairs = [(i, 0) for i in e.ids] if isinstance(e, R.Set) else e.pairs
        v = []
        for i, f in pairs:
            t = btf[remap[i] if remap else i]
            v.append((t.kind, t.name, f))
        out[e.symbol] = sorted(v)
    return out


def _sorted(ids: R.BtfIds) -> bool:
    for e in ids.entries:
        vals = e.ids if isinstance(e, R.Set) else [p[0] for p in getattr(e, "pairs", [])]
        signed = [R._s32(v) for v in vals]
        if signed != sorted(signed):
            return False
    return True


def _with_section(elf: bytes, ids: R.BtfIds, new: bytes) -> bytes:
    o = ids.section_offset
    return elf[:o] + new + elf[o + len(new) :]


def _fixed_sections(kernels: List[corpus.Kernel]) -> Dict[Tuple[str, str, str], bytes]:
    """(kernel, module, target) -> reference-fixed section, checking everything on the way.

    Targets: "identity", "reverse" (module ids reversed) and every other kernel's name
    (retargeted with btfx.retarget_btf, id map from the result)."""
    bases = {k.name: btfx.Btf.from_file(k.vmlinux_btf) for k in kernels}
    out = {}
    for k in kernels:
        for mod in _modules(k):
            elf = _elf(mod)
            ids = R.parse_btf_ids(elf)
            assert ids is not None, mod.name
            assert sum(ids.counts()) > 0
            own = btfx.Btf.from_bytes(elf, bases[k.name])
            assert R.check(ids, own) == [], (k.name, mod.name)
            assert _sorted(ids)
            sec = R.section_bytes(elf, ids)
            same, rep = R.fixup(ids, sec, list(range(own.last_id + 1)))
            assert same == sec and (rep.ids_changed, rep.sets_resorted) == (0, 0)
            out[(k.name, mod.name, "identity")] = same

            start, last = own.start_id, own.last_id
            perm = [i if i < start else start + last - i for i in range(last + 1)]
            permuted, rep = R.fixup(ids, sec, perm)
            pids = R.parse_btf_ids(_with_section(elf, ids, permuted))
            assert _sorted(pids)
            assert _decoded_sets(ids, own) == _decoded_sets(pids, own, remap=perm)
            out[(k.name, mod.name, "reverse")] = permuted

            for t in kernels:
                if t.name == k.name:
                    continue
                r = btfx.retarget_btf(own, None, bases[t.name])
                fixed, rep = R.fixup(ids, sec, r.id_map)
                assert rep.ids_changed > 0
                new_ids = R.parse_btf_ids(_with_section(elf, ids, fixed))
                assert R.check(new_ids, r.btf) == [], (k.name, mod.name, t.name)
                assert _sorted(new_ids)
                assert _decoded_sets(ids, own) == _decoded_sets(new_ids, r.btf)
                out[(k.name, mod.name, t.name)] = fixed
    return out


@pytest.mark.corpus
def test_corpus_reference() -> None:
    kernels = corpus.require_corpus()
    fixed = _fixed_sections(kernels)
    assert len({(k, m) for k, m, _ in fixed}) == sum(len(_modules(k)) for k in kernels)


@pytest.mark.corpus
def test_corpus_reference_check_with_reference_btf() -> None:
    """check() on the pure-Python Btf too (module BTF split on the reference vmlinux)."""
    kernels = corpus.require_corpus()
    k = kernels[0]
    base = RefBtf.from_file(k.vmlinux_btf)
    for mod in _modules(k):
        elf = _elf(mod)
        ids = R.parse_btf_ids(elf)
        assert R.check(ids, RefBtf.from_bytes(elf, base)) == [], mod.name


def _rust_dump(tmp: Path) -> Optional[Path]:
    """Fixed sections written by the Rust integration test (BTFX_BTF_IDS_DUMP)."""
    given = os.environ.get("BTFX_BTF_IDS_DUMP")
    if given and Path(given).is_dir() and any(Path(given).iterdir()):
        return Path(given)
    cargo = shutil.which("cargo")
    if cargo is None:
        return None
    env = dict(os.environ, BTFX_BTF_IDS_DUMP=str(tmp))
    subprocess.run(
        [cargo, "test", "-q", "-p", "btfx-core", "--test", "btf_ids_corpus"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return tmp


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_reference_matches_rust(tmp_path: Path) -> None:
    kernels = corpus.require_corpus()
    dump = _rust_dump(tmp_path)
    if dump is None:
        pytest.skip("cargo not found and BTFX_BTF_IDS_DUMP not set")
    fixed = _fixed_sections(kernels)
    for (kname, mname, target), ref in fixed.items():
        rust = (dump / kname / f"{mname}.{target}.bin").read_bytes()
        assert rust == ref, (kname, mname, target)


def test_fixup_of_a_hand_made_model_raises_typed_errors() -> None:
    section = words(False, [1, 2, 3])
    for e in [
        R.Slot(1 << 40, "func", "f", 1),
        R.Set((1 << 64) - 2, "s", 0xFFFF_FFFF, []),
        R.Set8(4, "s8", 0xFFFF_FFFF, 0, []),
    ]:
        ids = R.BtfIds(False, 0, 12, [e])
        with pytest.raises(BtfError):
            R.fixup(ids, section, list(range(8)))
