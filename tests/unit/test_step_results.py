"""How a step's end is put into words: signals behind exit codes, and the limit a step timed out at."""

from __future__ import annotations

import pytest

from grader.checks.command_check import Params, evaluate
from grader.models import Status, StepResult, describe_exit_code
from tests.unit.check_contract import make_context


@pytest.mark.parametrize(("code", "described"), [
    (0, "exited with code 0"),
    (1, "exited with code 1"),
    (128, "exited with code 128"),
    (137, "exited with code 137 (SIGKILL: killed)"),
    (139, "exited with code 139 (SIGSEGV: segmentation fault)"),
    (153, "exited with code 153 (SIGXFSZ: file size limit exceeded)"),
    (130, "exited with code 130 (SIGINT)"),
    (255, "exited with code 255"),
    (None, "exited with code None"),
])
def test_exit_codes_above_128_name_the_signal(code, described):
    assert describe_exit_code(code) == described


def _step(**fields) -> StepResult:
    return StepResult(**{"id": "train", "command": "python train.py", "exit_code": 0, "duration_s": 1.0, **fields})


def test_a_timeout_names_the_limit_not_the_measured_time():
    assert _step(exit_code=137, timed_out=True, duration_s=3.79, time_limit_s=3).failure_reason == \
        "timed out after 3s"
    assert _step(exit_code=137, timed_out=True, duration_s=2.9, time_limit_s=2.5).failure_reason == \
        "timed out after 2.5s"
    assert _step(exit_code=137, timed_out=True, duration_s=30.4).failure_reason == "timed out after 30s"


def test_command_check_explains_a_signal_exit(tmp_path):
    context = make_context(tmp_path, steps={"train": _step(exit_code=153, stderr="File size limit exceeded\n")})
    outcome = evaluate(Params(step="train"), context)
    assert (outcome.status, outcome.message) == (
        Status.failed, "step 'train' exited with code 153 (SIGXFSZ: file size limit exceeded), expected [0]")
