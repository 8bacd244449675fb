"""The guest log parser and the case verdicts, on synthetic logs (no qemu): a control whose
checks all pass, or a positive case with one failing check, must be reported, and a
module's /sys/kernel/btf copy that arrives damaged or not at all must not pass."""

from __future__ import annotations

import base64
import hashlib

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


def _sysfs_lines(case: str, data: bytes) -> list:
    text = base64.encodebytes(data).decode()
    lines = [f"BTFX-B64 case={case} {line}" for line in text.splitlines()]
    sha = hashlib.sha256(data).hexdigest()
    return lines + [f"BTFX-SYSFS case={case} bytes={len(data)} sha256={sha}"]


DATA = bytes(range(256)) * 3


def test_parse_collects_the_sysfs_copy_outside_the_case_log():
    boot = guest.parse(_log("a", ALL_PASS, "\n".join(_sysfs_lines("a", DATA))))
    assert boot.sysfs_btf("a") == DATA
    assert "BTFX-B64" not in boot.describe("a")


@pytest.mark.parametrize(
    "damage",
    [
        lambda ls: ls[:1] + ls[2:],  # a line lost
        lambda ls: [ls[0][:20] + "<6>kernel says" + ls[0][20:]] + ls[1:],  # a message inside
        lambda ls: [ls[0][:-2] + ("A" if ls[0][-2] != "A" else "B") + ls[0][-1]] + ls[1:],
        lambda ls: [ls[0][:-1]] + ls[1:],  # a character lost
        lambda ls: ls[:-1],  # no summary line
        lambda ls: ls[:-1] + [ls[-1].split(" sha256=")[0] + " not shown"],
    ],
    ids=["line-lost", "message-inside", "char-changed", "char-lost", "no-summary", "not-shown"],
)
def test_a_damaged_or_missing_sysfs_copy_is_an_error(damage):
    lines = damage(_sysfs_lines("a", DATA))
    boot = guest.parse(_log("a", ALL_PASS, "\n".join(lines)))
    with pytest.raises(ValueError, match="^a: "):
        boot.sysfs_btf("a")
