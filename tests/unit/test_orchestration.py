"""The orchestration of one grading run, against a fake engine and scripted sandboxes: needs and skips, early
checks, retries, interrupts, teardown and timings, in milliseconds and with no container engine."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.errors import EngineLostError, InfrastructureError
from grader.models import Report, Status
from grader.paths import project_paths
from grader.run.attempts import INTERRUPTED
from grader.run.orchestrate import GradeOptions, GradeOutcome, grade_submission
from grader.run.state import RunObserver
from grader.sandbox import RunSpec

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from fakes import CHECKS, STEPS, CallLog, FakeEngine, Script, exited, passing_script, write_lab  # noqa: E402

PATHS = project_paths()
ENGINE_LOST = "the Docker engine stopped answering (connection reset)"


class RecordingObserver(RunObserver):
    def __init__(self) -> None:
        self.logs: list[str] = []

    def log(self, message: str) -> None:
        self.logs.append(message)


@pytest.fixture
def grade(tmp_path: Path) -> Callable[..., GradeOutcome]:
    """Grades the unit lab's full-marks submission with a fake engine answering from ``scripts``."""

    def run(*scripts: Script, engine: FakeEngine | None = None, retries: int = 0,
            observer: RunObserver | None = None, clock: Callable[[], float] | None = None) -> GradeOutcome:
        lab, submission = write_lab(tmp_path / f"lab-{retries}", retries)
        options = GradeOptions(out_dir=tmp_path / "out", formats=("json",), store=False)
        extra = {"clock": clock} if clock else {}
        return grade_submission(str(submission), str(lab), PATHS, engine or FakeEngine(*scripts), options,
                                observer=observer, run_id="run1", **extra)

    return run


def written_report(tmp_path: Path) -> Report:
    return Report.model_validate_json((tmp_path / "out" / "report.json").read_text())


def statuses(report: Report) -> dict[str, str]:
    return {check.id: check.status.value for check in report.checks}


# --- a run that goes well -----------------------------------------------------------------------------


def test_the_reference_earns_full_marks_and_the_report_shows_what_ran(grade, tmp_path):
    engine = FakeEngine(passing_script())
    report = grade(engine=engine).report

    assert (report.outcome, report.error, report.score, report.max_score, report.passed) == ("graded", None, 10, 10,
                                                                                           True)
    assert [check.id for check in report.checks] == CHECKS
    assert [step.id for step in report.steps] == STEPS and all(step.succeeded for step in report.steps)
    assert [(s.id, s.ready, s.log_tail) for s in report.services] == [
        ("tracker", True, "log of tracker"), ("api", True, "log of api")]
    assert (report.run_id, report.backend, report.runtime, report.images) == (
        "run1", "fake", "fake-runc", {"runtime": "sha256:runtime"})
    assert report.manifest == {"path": None, "error": None}
    assert [(a.number, a.outcome, a.error) for a in report.attempts] == [(1, "graded", None)]
    assert written_report(tmp_path) == report
    assert engine.calls.entries[:5] == ["check_runtime", "prepare_image runtime", "sandbox run1", "open", "copy_in"]


def test_the_report_is_frozen_once_assembled(grade):
    report = grade(passing_script()).report
    with pytest.raises(ValidationError):
        report.score = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        report.checks.append(report.checks[0])  # type: ignore[attr-defined]


# --- needs and skips ---------------------------------------------------------------------------------


def test_a_failed_step_skips_dependent_steps_services_and_checks_with_the_reason(grade):
    engine = FakeEngine(passing_script(train=lambda spec: exited(spec, 1, stderr="boom")))
    report = grade(engine=engine).report

    steps = {step.id: step for step in report.steps}
    assert steps["train"].exit_code == 1
    assert steps["evaluate"].skipped_reason == "needs step 'train', which exited with code 1"
    services = {service.id: service for service in report.services}
    assert services["tracker"].ready
    assert not services["api"].ready
    assert services["api"].message == "not started: needs step 'train', which did not succeed"
    assert "run evaluate" not in engine.calls.entries and "start api" not in engine.calls.entries
    assert "logs api" not in engine.calls.entries  # a service never started has no log to keep
    checks = {check.id: check for check in report.checks}
    assert checks["training-runs"].status is Status.failed
    assert (checks["model-saved"].status, checks["model-saved"].message) == (
        Status.skipped, "skipped because 'training-runs' failed")
    assert checks["evaluation-runs"].status is Status.failed
    assert "did not run: needs step 'train', which exited with code 1" in checks["evaluation-runs"].message
    assert report.outcome == "graded" and report.score == 4 and not report.passed


def test_a_skip_propagates_down_a_chain_of_needs(grade):
    report = grade(passing_script(prepare=2)).report
    reasons = {step.id: step.skipped_reason for step in report.steps}
    assert reasons == {"prepare": None, "train": "needs step 'prepare', which exited with code 2",
                       "evaluate": "needs step 'train', which skipped: needs step 'prepare', which exited with code 2"}
    assert statuses(report)["model-saved"] == "skip"


# --- early checks --------------------------------------------------------------------------------------


def test_early_checks_run_while_the_services_before_the_steps_start(grade):
    """Each side waits for the other: the test suite cannot end before the tracker was started, and the tracker
    is not ready before the test suite ran. Only running both at once passes."""
    calls = CallLog()
    script = passing_script()

    def pytest_waits_for_the_tracker(spec: RunSpec):
        return exited(spec, 0 if calls.wait_for("start tracker") else 1)

    def tracker_waits_for_pytest(spec: RunSpec):
        return exited(spec, 0 if calls.wait_for("run pytest") else 1)

    script.replies = {**script.replies, "pytest": pytest_waits_for_the_tracker,
                      "probe-tracker": tracker_waits_for_pytest}
    report = grade(engine=FakeEngine(script, calls=calls)).report

    assert statuses(report)["unit-tests"] == "pass"
    assert report.services[0].id == "tracker" and report.services[0].ready
    assert calls.index("run pytest") < calls.index("run prepare")  # before the steps, though graded in rubric order
    assert "early-checks" in report.timing


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
    report = grade(engine=engine, retries=1).report

    assert (report.outcome, report.error, report.score, report.passed) == ("graded", None, 10, True)
    assert [(a.number, a.outcome, a.error) for a in report.attempts] == [(1, "error", ENGINE_LOST), (2, "graded", None)]
    assert [step.id for step in report.steps] == STEPS  # the second try's, not both tries'
    assert report.steps[0].stdout == "second try"
    assert [service.id for service in report.services] == ["tracker", "api"]
    assert [sandbox.run_id for sandbox in engine.sandboxes] == ["run1", "run1"]
    calls = engine.calls.entries
    first_close, recover, second_sandbox = calls.index("close"), calls.index("recover run1"), calls.index(
        "sandbox run1", calls.index("close"))
    assert first_close < recover < second_sandbox


def test_when_every_try_fails_the_report_is_the_last_ones(grade):
    engine = FakeEngine(passing_script(train=EngineLostError(ENGINE_LOST)))
    report = grade(engine=engine, retries=2).report
    assert [(a.number, a.outcome) for a in report.attempts] == [(1, "error"), (2, "error"), (3, "error")]
    assert report.outcome == "error" and {check.status for check in report.checks} == {Status.error}
    assert engine.calls.matching("recover") == ["recover run1", "recover run1"]
    assert [step.id for step in report.steps] == ["prepare"]  # the last try's, which ended in train


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
    "service never ready": passing_script(**{"probe-api": 1}),
    "interrupt in a service": passing_script(**{"probe-tracker": KeyboardInterrupt()}),
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
        return exited(spec, 0)

    def interrupt_once_pytest_runs(spec: RunSpec):
        calls.wait_for("run pytest")
        raise KeyboardInterrupt

    script = passing_script(pytest=pytest_outlives_teardown, **{"probe-tracker": interrupt_once_pytest_runs})
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


# --- timings -------------------------------------------------------------------------------------------


class SteppedClock:
    """A clock that only moves when a scripted container says it took time."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def taking(self, seconds: float, exit_code: int = 0, stdout: str = "") -> Callable[[RunSpec], object]:
        def reply(spec: RunSpec):
            self.now += seconds
            return exited(spec, exit_code, stdout=stdout)

        return reply


def test_each_phase_records_its_time(grade):
    clock = SteppedClock()
    script = passing_script(train=clock.taking(5, stdout="accuracy 0.9"), **{
        "probe-tracker": clock.taking(2), "probe-api": clock.taking(3)})
    report = grade(script, clock=clock).report

    assert report.timing["steps"] == 5 and report.timing["services"] == 5  # both start groups together
    assert report.timing["total"] == 10
    assert {"intake", "images", "sandbox", "dependencies", "early-checks", "early-checks-wait", "checks",
            "teardown"} <= set(report.timing)
    assert report.attempts[0].duration_s == 10
