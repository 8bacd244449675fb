"""The guest log parser and the case verdicts, on synthetic logs (no qemu): a control whose
checks all pass, or a positive case with one failing check, must be reported."""

from __future__ import annotations

import cases
import guest
import pytest


def _log(case: str, results: dict, extra: str = "") -> str:
    lines = ["BTFX-BOOT release=test", f"BTFX-CASE {case}"]
    lines += [
        f"BTFX-CHECK case={case} name={n} result={r} detail=d {n}" for n, r in results.items()
    ]
    return "\n".join(lines + [extra, "BTFX-DONE"]) + "\n"


ALL_PASS = {n: "pass" for n in guest.CHECKS}


def test_parse_collects_checks_and_case_logs():
    text = _log("a", ALL_PASS, "  | dmesg: hello")
    boot = guest.parse(text)
    assert boot.done
    assert boot.checks["a"]["add"] == ("pass", "d add")
    assert "  | dmesg: hello" in boot.describe("a")
    assert "never ran" in boot.describe("b")


@pytest.mark.parametrize("case", cases.CONTROLS, ids=lambda c: c.name)
def test_a_control_that_passes_is_reported(case):
    boot = guest.parse(_log(case.name, ALL_PASS))
    assert case.verdict(boot.checks[case.name], boot.describe(case.name)) is not None


@pytest.mark.parametrize("case", cases.POSITIVE, ids=lambda c: c.name)
@pytest.mark.parametrize("failing", guest.CHECKS)
def test_a_positive_case_with_a_failure_is_reported(case, failing):
    results = dict(ALL_PASS, **{failing: "fail"})
    boot = guest.parse(_log(case.name, results))
    assert case.verdict(boot.checks[case.name], boot.describe(case.name)) is not None
    boot = guest.parse(_log(case.name, ALL_PASS))
    assert case.verdict(boot.checks[case.name], boot.describe(case.name)) is None


def test_shift_control_expects_the_type_identity_rejection():
    case = next(c for c in cases.CONTROLS if c.name == "retarget-shift")
    results = dict(ALL_PASS, struct_id="fail", task_pid="fail")
    msg = "  | kernel function btfx_task_pid args#0 expected pointer to STRUCT task_struct but"
    boot = guest.parse(_log(case.name, results, msg))
    assert case.verdict(boot.checks[case.name], boot.describe(case.name)) is None
    boot = guest.parse(_log(case.name, results, "  | some other verifier error"))
    assert case.verdict(boot.checks[case.name], boot.describe(case.name)) is not None
