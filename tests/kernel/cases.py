"""The module files each kernel boot tries, and what each must show.

Positive cases must pass every check. Controls are modules that must not work, each for a
known reason; a control that passes means the suite no longer proves anything.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from fixture_module import MODULE, PREVIOUS, SERIES, FixtureKernel
from guest import CHECKS, KFUNC_CHECKS

Results = Dict[str, Tuple[str, str]]  # check -> (pass|fail, detail)


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    #: (check results, the case's log) -> what is wrong with them, or None
    verdict: Callable[[Results, str], Optional[str]]
    #: needs an earlier Debian build of the booted kernel (fixture_module.PREVIOUS)
    rebuilt: bool = False


def _result(results: Results, check: str) -> str:
    return results.get(check, ("missing", ""))[0]


def _all_pass(results: Results, log: str) -> Optional[str]:
    bad = [
        f"{n}: {results.get(n, ('', 'missing'))[1]}"
        for n in CHECKS
        if _result(results, n) != "pass"
    ]
    if "rmmod" in results:
        bad.append(f"rmmod: {results['rmmod'][1]}")
    return "checks failed: " + "; ".join(bad) if bad else None


def _no_kfunc_works(results: Results) -> List[str]:
    passed = [n for n in KFUNC_CHECKS if _result(results, n) != "fail"]
    return [f"kfunc checks {passed} did not fail"] if passed else []


def _btf_rejected(results: Results, log: str) -> Optional[str]:
    """The module loads (Debian kernels have CONFIG_MODULE_ALLOW_BTF_MISMATCH) without BTF,
    so its kfuncs are not registered (btf_module_notify, check_btf_kconfigs)."""
    problems = _no_kfunc_works(results)
    if _result(results, "insmod") != "pass":
        problems.append(f"insmod failed: {results.get('insmod')}")
    if _result(results, "module_btf") != "fail":
        problems.append("the kernel accepted the module's BTF")
    return "; ".join(problems) or None


def _btf_ids_stale(results: Results, log: str) -> Optional[str]:
    """The BTF is accepted but the kfunc set names standalone ids: 6.1 registers them and
    finds none of the calls ("not allowed"); 6.12 checks each id's prototype when the set
    is registered (btf_check_kfunc_protos) and the module's init fails."""
    problems = _no_kfunc_works(results)
    if _result(results, "insmod") == "pass":
        if _result(results, "module_btf") != "pass":
            problems.append("module BTF rejected: the control no longer isolates .BTF_ids")
        if "is not allowed" not in log:
            problems.append("no 'calling kernel function ... is not allowed' from the verifier")
    elif "register_btf_kfunc_id_set: -22" not in log:
        problems.append("insmod failed for another reason than the kfunc set")
    return "; ".join(problems) or None


def _task_struct_copy(results: Results, log: str) -> Optional[str]:
    """Shifted, the module keeps its own copies of kernel types: scalar and module-struct
    kfuncs work, but the verifier rejects the kernel's task_struct for the module's copy
    (btf_struct_ids_match) and the BTF_ID_LIST names the copy."""
    problems = []
    for n in ("insmod", "module_btf", "add", "pair_sum"):
        if _result(results, n) != "pass":
            problems.append(f"{n} should pass: {results.get(n)}")
    for n in ("struct_id", "task_pid"):
        if _result(results, n) != "fail":
            problems.append(f"{n} passed: task_struct is not the module's copy")
    if "expected pointer to STRUCT task_struct" not in log:
        problems.append("no 'expected pointer to STRUCT task_struct' from the verifier")
    return "; ".join(problems) or None


POSITIVE = [
    Case("kbuild-split", "kbuild's split BTF on this kernel's vmlinux", _all_pass),
    Case("retarget-dedup", "standalone module, btfx retarget --base (dedup)", _all_pass),
    # Compiled for this kernel but split on the other one's vmlinux, so the module's own
    # part holds this kernel's task_struct (no match in the other base) and its
    # BTF_ID_LIST names the other kernel's task_struct: passing needs the other kernel's
    # unmatched structs replaced by the module's own definitions or declared
    # (docs/modules.md §3), and list slots resolved by name.
    Case(
        "cross-retarget",
        "split on the other kernel's vmlinux, btfx retarget --old-base OTHER --base THIS",
        _all_pass,
    ),
    Case(
        "rebuilt-retarget",
        "kbuild module of the previous Debian build of this kernel (same upstream release, "
        "other BTF ids), btfx retarget --old-base PREVIOUS --base THIS",
        _all_pass,
        rebuilt=True,
    ),
]
CONTROLS = [
    Case(
        "retarget-shift",
        "standalone, btfx retarget --mode shift: kernel types stay module copies",
        _task_struct_copy,
    ),
    Case(
        "btf-ids-keep",
        "standalone, btfx retarget --btf-ids keep: .BTF_ids holds standalone ids",
        _btf_ids_stale,
    ),
    Case("standalone-raw", "standalone BTF as built (ids from 1)", _btf_rejected),
    Case("cross-raw", "split on the other kernel's vmlinux, not retargeted", _btf_rejected),
    Case(
        "rebuilt-raw",
        "kbuild module of the previous build of this kernel, not retargeted",
        _btf_rejected,
        rebuilt=True,
    ),
]
#: Boot order: positives first, so a control cannot disturb them.
CASES = POSITIVE + CONTROLS


def for_kernel(series: str) -> List[Case]:
    """The cases a boot of that series runs."""
    return [c for c in CASES if not c.rebuilt or series in PREVIOUS]


@dataclass
class Prepared:
    modules: Dict[str, Path]  # case -> module file, in boot order
    errors: Dict[str, str]  # case -> why its module could not be made


def _retarget(src: Path, out: Path, base: Path, *args: str) -> None:
    """``btfx retarget`` (the CLI, as users run it) into ``out``."""
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "btfx", "retarget", str(src), "--base", str(base)]
    cmd += [*args, "-o", str(out)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or not (out / src.name).is_file():
        raise RuntimeError(f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}")


def prepare(this: FixtureKernel, kernels: Dict[str, FixtureKernel], work: Path) -> Prepared:
    """Makes every case's module for booting ``this`` kernel (``kernels``: every fixture
    build, by the name fixture_module.build was given)."""
    (other,) = [kernels[s] for s in SERIES if s != this.series]
    previous = kernels.get(PREVIOUS.get(this.series, ""))
    standalone = this.module("standalone")
    cross = this.cross(other)
    base = this.vmlinux_btf
    makers: Dict[str, Callable[[Path], None]] = {
        "kbuild-split": lambda d: _copy(this.module("split"), d),
        "retarget-dedup": lambda d: _retarget(standalone, d, base),
        "cross-retarget": lambda d: _retarget(cross, d, base, "--old-base", str(other.vmlinux_btf)),
        "retarget-shift": lambda d: _retarget(standalone, d, base, "--mode", "shift"),
        "btf-ids-keep": lambda d: _retarget(standalone, d, base, "--btf-ids", "keep"),
        "standalone-raw": lambda d: _copy(standalone, d),
        "cross-raw": lambda d: _copy(cross, d),
    }
    if previous is not None:
        rebuilt = previous.module("split")
        makers["rebuilt-retarget"] = lambda d: _retarget(
            rebuilt, d, base, "--old-base", str(previous.vmlinux_btf)
        )
        makers["rebuilt-raw"] = lambda d: _copy(rebuilt, d)
    prepared = Prepared({}, {})
    for case in for_kernel(this.series):
        d = work / "cases" / case.name
        try:
            makers[case.name](d)
        except (RuntimeError, OSError) as e:
            prepared.errors[case.name] = str(e)
            continue
        prepared.modules[case.name] = d / f"{MODULE}.ko"
    return prepared


def _copy(src: Path, out: Path) -> None:
    out.mkdir(parents=True)
    shutil.copy(src, out / src.name)
