"""Failures on the grader's side, against a fake engine and scripted sandboxes: the run ends in error without
blaming a check, retries start from a fresh state, an interrupt still writes the report, and the sandbox is torn
down last on every path."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.errors import EngineLostError, InfrastructureError
from grader.models import Status
from grader.run.attempts import INTERRUPTED
from grader.run.orchestrate import GradeOutcome
from grader.sandbox import RunSpec

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from fakes import (  # noqa: E402
    CHECKS,
    STEPS,
    CallLog,
    FakeEngine,
    RecordingObserver,
    exited,
    grade_unit_lab,
    passing_script,
    statuses,
    witness_output,
    written_report,
)

ENGINE_LOST = "the Docker engine stopped answering (connection reset)"


@pytest.fixture
def grade(tmp_path: Path) -> Callable[..., GradeOutcome]:
    """Grades the unit lab's full-marks submission on a fake engine (see ``fakes.grade_unit_lab``)."""
    return functools.partial(grade_unit_lab, tmp_path)


# --- failures on the grader's side ----------------------------------------------------------------------


def test_an_infrastructure_error_ends_the_run_in_error_and_blames_no_check(grade):
    engine = FakeEngine(passing_script(train=EngineLostError(ENGINE_LOST)))
    report = grade(engine=engine).report

    assert (report.outcome, report.error, report.score, report.passed) == ("error", ENGINE_LOST, 0, False)
    assert [check.id for check in report.checks] == CHECKS
    assert {check.status for check in report.checks} == {Status.error}
    assert all("not the submission's fault" in c.message and ENGINE_LOST in c.message for c in report.checks)
    assert [(a.number, a.outcome, a.error) for a in report.attempts] == [(1, "error", ENGINE_LOST)]
    assert not engine.calls.matching("recover")  # the lab allows no retry


def test_a_retry_starts_from_a_fresh_state_and_every_try_is_recorded(grade):
    first = passing_script(prepare=lambda spec: exited(spec, 0, stdout="first try"), train=EngineLostError(ENGINE_LOST))
    second = passing_script(prepare=lambda spec: exited(spec, 0, stdout="second try"))
    engine = FakeEngine(first, second)
    report = grade(engine=engine, retries=1, manifest="tests:\n  command: pytest tests/unit -q\n").report

    assert (report.outcome, report.error, report.score, report.passed) == ("graded", None, 10, True)
    assert [(a.number, a.outcome, a.error) for a in report.attempts] == [(1, "error", ENGINE_LOST), (2, "graded", None)]
    assert [step.id for step in report.steps] == STEPS  # the second try's, not both tries'
    assert report.steps[0].stdout == "second try"
    assert [service.id for service in report.services] == ["tracker", "api"]
    assert [sandbox.run_id for sandbox in engine.sandboxes] == ["run1", "run1"]
    assert report.manifest["path"] == "capstone.yaml"  # taken in once, kept by the retry
    assert any(spec.name == "pytest" and "tests/unit -q" in spec.command for spec in engine.sandboxes[1].specs)
    calls = engine.calls.entries
    first_close, recover, second_sandbox = calls.index("close"), calls.index("recover run1"), calls.index(
        "sandbox run1", calls.index("close"))
    assert first_close < recover < second_sandbox


def test_when_every_try_fails_the_report_is_the_last_ones(grade):
    after_the_steps = passing_script(**{"client-api": EngineLostError(ENGINE_LOST)})
    in_the_steps = passing_script(train=EngineLostError("engine gone again"))
    engine = FakeEngine(after_the_steps, in_the_steps)
    report = grade(engine=engine, retries=2).report
    assert [(a.number, a.outcome) for a in report.attempts] == [(1, "error"), (2, "error"), (3, "error")]
    assert report.outcome == "error" and report.error == "engine gone again"
    assert {check.status for check in report.checks} == {Status.error}
    assert engine.calls.matching("recover") == ["recover run1", "recover run1"]
    # The last try's results only: it ended in train, where the first had run every step and the tracker.
    assert [step.id for step in report.steps] == ["prepare"]
    assert [service.id for service in report.services] == ["tracker"]


def test_a_failure_that_is_not_the_infrastructures_is_not_retried(grade):
    engine = FakeEngine(passing_script(), image_error=InfrastructureError("image build failed"))
    report = grade(engine=engine, retries=1).report
    assert [(a.number, a.outcome) for a in report.attempts] == [(1, "error"), (2, "error")]
    assert report.error == "image build failed" and not engine.sandboxes  # no sandbox, so nothing to tear down


def test_an_interrupt_writes_the_report_tears_down_and_propagates(grade, tmp_path):
    engine = FakeEngine(passing_script(train=KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        grade(engine=engine, retries=1)

    report = written_report(tmp_path)
    assert (report.outcome, report.error, report.passed) == ("error", INTERRUPTED, False)
    assert {check.status for check in report.checks} == {Status.error}
    assert all(INTERRUPTED in check.message for check in report.checks)
    assert [(a.number, a.outcome, a.error) for a in report.attempts] == [(1, "error", INTERRUPTED)]  # never retried
    assert engine.calls.entries[-1] == "close" and "run evaluate" not in engine.calls.entries


# --- teardown ------------------------------------------------------------------------------------------


TEARDOWN_PATHS = {
    "success": passing_script(),
    "failed step": passing_script(train=1),
    "infrastructure error": passing_script(train=EngineLostError(ENGINE_LOST)),
    "service never ready": passing_script(**{"client-api": 1}),
    "interrupt in a service": passing_script(**{"client-tracker": KeyboardInterrupt()}),
}


@pytest.mark.parametrize("path", TEARDOWN_PATHS)
def test_the_sandbox_is_torn_down_last_and_once_on_every_path(grade, path):
    engine = FakeEngine(TEARDOWN_PATHS[path])
    try:
        grade(engine=engine)
    except KeyboardInterrupt:
        assert path.startswith("interrupt")
    calls = engine.calls.entries
    assert calls[-1] == "close" and calls.index("open") < calls.index("close")
    if not path.startswith("interrupt"):  # then no helper thread can still be at work when teardown starts
        assert calls.count("close") == 1


def test_work_still_running_at_teardown_is_torn_down_again_once_it_ended(grade):
    """An interrupt while the early checks run: teardown does not wait for them, and what they did after it
    (here: copying out the test report) is followed by a second teardown."""
    calls = CallLog()

    def pytest_outlives_teardown(spec: RunSpec):
        calls.wait_for("close")
        return exited(spec, 0, stdout=witness_output(passed=2))

    def interrupt_once_pytest_runs(spec: RunSpec):
        calls.wait_for("run pytest")
        raise KeyboardInterrupt

    script = passing_script(pytest=pytest_outlives_teardown, **{"client-tracker": interrupt_once_pytest_runs})
    with pytest.raises(KeyboardInterrupt):
        grade(engine=FakeEngine(script, calls=calls))
    entries = calls.entries
    first_close = entries.index("close")
    assert entries[first_close + 1].startswith("copy_out .grader-junit-")
    assert entries[first_close + 1:].count("close") == 1 and entries[-1] == "close"


def test_service_logs_are_kept_before_teardown(grade):
    engine = FakeEngine(passing_script())
    grade(engine=engine)
    calls = engine.calls.entries
    assert calls[-3:] == ["logs tracker", "logs api", "close"]


def test_a_teardown_failure_does_not_replace_the_first_reason(grade):
    observer = RecordingObserver()
    script = passing_script(train=EngineLostError(ENGINE_LOST))
    script.close_error = InfrastructureError("cannot remove the network")
    report = grade(script, observer=observer).report
    assert report.error == ENGINE_LOST
    assert "teardown could not finish: cannot remove the network" in observer.logs


def test_a_teardown_failure_after_a_good_run_ends_it_in_error(grade):
    script = passing_script()
    script.close_error = InfrastructureError("cannot remove the network")
    report = grade(script).report
    assert (report.outcome, report.error, report.passed) == ("error", "cannot remove the network", False)
    assert statuses(report)["training-runs"] == "pass"  # what was graded before teardown keeps its result


