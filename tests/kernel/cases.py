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

from fixture_module import MODULE, FixtureKernel
from guest import CHECKS, KFUNC_CHECKS

Results = Dict[str, Tuple[str, str]]  # check -> (pass|fail, detail)


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    #: returns what is wrong with the case's results, or None
    verdict: Callable[[Results], Optional[str]]


def _all_pass(results: Results) -> Optional[str]:
    bad = [f"{n}: {results[n][1]}" for n in CHECKS if results.get(n, ("fail",))[0] != "pass"]
    if "rmmod" in results:
        bad.append(f"rmmod: {results['rmmod'][1]}")
    return "checks failed: " + "; ".join(bad) if bad else None


def _kfuncs_unusable(results: Results) -> Optional[str]:
    passed = [n for n in KFUNC_CHECKS if results.get(n, ("fail",))[0] == "pass"]
    return f"control passed kfunc checks {passed}" if passed else None


def _only_task_struct_rejected(results: Results) -> Optional[str]:
    problems = []
    if results.get("add", ("fail",))[0] != "pass":
        problems.append(f"add should work (module BTF accepted): {results.get('add')}")
    if results.get("task_pid", ("pass",))[0] != "fail":
        problems.append("task_pid loaded: the verifier accepted the module's task_struct copy")
    return "; ".join(problems) or None


POSITIVE = [
    Case("kbuild-split", "kbuild's split BTF on this kernel's vmlinux", _all_pass),
    Case("retarget-dedup", "standalone module, btfx retarget --base (dedup)", _all_pass),
    Case(
        "cross-retarget",
        "split on the other kernel's vmlinux, btfx retarget --old-base OTHER --base THIS",
        _all_pass,
    ),
]
CONTROLS = [
    Case(
        "retarget-shift",
        "standalone, btfx retarget --mode shift: kernel types stay module copies",
        _only_task_struct_rejected,
    ),
    Case(
        "btf-ids-keep",
        "standalone, btfx retarget --btf-ids keep: .BTF_ids holds standalone ids",
        _kfuncs_unusable,
    ),
    Case("standalone-raw", "standalone BTF as built (ids from 1)", _kfuncs_unusable),
    Case("cross-raw", "split on the other kernel's vmlinux, not retargeted", _kfuncs_unusable),
]
#: Boot order: positives first, so a control cannot disturb them.
CASES = POSITIVE + CONTROLS


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


def prepare(this: FixtureKernel, other: FixtureKernel, work: Path) -> Prepared:
    """Makes every case's module for booting ``this`` kernel."""
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
    prepared = Prepared({}, {})
    for case in CASES:
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


def names() -> List[str]:
    return [c.name for c in CASES]
