"""The orchestration of one grading run, against a fake engine and scripted sandboxes: what a good run reports,
needs and skips, early checks, the manifest, timings; in milliseconds and with no container engine. Failures,
retries, interrupts and teardown: test_orchestration_failures.py."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.labs.loading import load_lab
from grader.models import Status
from grader.paths import project_paths
from grader.run.assemble import assemble_report
from grader.run.dependencies import DependencyOutcome
from grader.run.orchestrate import GradeOutcome
from grader.run.state import QuietObserver, RunState
from grader.sandbox import RunSpec

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from fakes import (  # noqa: E402
    CHECKS,
    STEPS,
    CallLog,
    FakeEngine,
    exited,
    grade_unit_lab,
    passing_script,
    statuses,
    witness_output,
    write_lab,
    written_report,
)


@pytest.fixture
def grade(tmp_path: Path) -> Callable[..., GradeOutcome]:
    """Grades the unit lab's full-marks submission on a fake engine (see ``fakes.grade_unit_lab``)."""
    return functools.partial(grade_unit_lab, tmp_path)


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
        return exited(spec, 0, stdout=witness_output(passed=2)) if calls.wait_for("start tracker") else 1

    def tracker_waits_for_pytest(spec: RunSpec):
        return exited(spec, 0 if calls.wait_for("run pytest") else 1)

    script.replies = {**script.replies, "pytest": pytest_waits_for_the_tracker,
                      "client-tracker": tracker_waits_for_pytest}
    report = grade(engine=FakeEngine(script, calls=calls)).report

    assert statuses(report)["unit-tests"] == "pass"
    assert report.services[0].id == "tracker" and report.services[0].ready
    assert calls.index("run pytest") < calls.index("run prepare")  # before the steps, though graded in rubric order
    assert "early-checks" in report.timing


# --- the manifest ---------------------------------------------------------------------------------------


def test_the_submissions_manifest_reaches_the_checks_and_the_report(grade):
    engine = FakeEngine(passing_script())
    report = grade(engine=engine, manifest="tests:\n  command: pytest tests/unit -q\n").report
    pytest_run = next(spec for spec in engine.sandboxes[0].specs if spec.name == "pytest")
    assert pytest_run.command.startswith("python -c ")  # the grader's witness, given the manifest's arguments
    assert " tests/unit -q -p no:cacheprovider --junitxml=.grader-junit-" in pytest_run.command
    assert report.manifest == {"path": "capstone.yaml", "error": None}


def test_a_broken_manifest_is_reported_and_the_defaults_used(grade):
    report = grade(passing_script(), manifest="tests: [unclosed\n").report
    assert report.manifest["path"] is None
    assert (report.manifest["error"] or "").startswith("capstone manifest ignored: ")
    assert report.outcome == "graded" and report.passed


def test_the_report_shows_the_dependency_outcome_but_not_the_environment_it_sets(tmp_path):
    lab_dir, _ = write_lab(tmp_path)
    run = RunState(run_id="r", lab=load_lab(str(lab_dir), project_paths()), backend="fake", observer=QuietObserver(),
                   clock=lambda: 0.0, scratch=tmp_path, started_at="2026-01-01T00:00:00+00:00")
    run.dependencies = DependencyOutcome(status="installed", message="2 wheels", env={"PYTHONPATH": "/work/.deps"})
    report = assemble_report(run, finished_at="2026-01-01T00:01:00+00:00", total_seconds=60)
    assert report.dependencies is not None and report.dependencies["status"] == "installed"
    assert "env" not in report.dependencies
    assert (report.lab["id"], report.rubric["id"], report.max_score, report.timing) == (
        "unit-lab", "unit-lab", 10, {"total": 60})


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
        "client-tracker": clock.taking(2), "client-api": clock.taking(3)})
    report = grade(script, clock=clock).report

    assert report.timing["steps"] == 5 and report.timing["services"] == 5  # both start groups together
    assert report.timing["total"] == 10
    assert {"intake", "images", "sandbox", "dependencies", "early-checks", "early-checks-wait", "checks",
            "teardown"} <= set(report.timing)
    assert report.attempts[0].duration_s == 10
