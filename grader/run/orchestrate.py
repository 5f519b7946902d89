"""Orchestrates one grading run: load → intake → images → sandbox → services → steps → checks → report.

Data flows one way. Whatever happens after the lab and submission were accepted, a report is
written: an infrastructure failure or an interrupt ends the run with ``outcome: error`` and the
reason, and the sandbox is torn down on every path out.

Work that does not depend on the pipeline overlaps with it: early checks (the candidate's test
suite) run while the grader's services start, the model evaluator starts (and imports its libraries)
while training runs, and the registry snapshot and model evaluation are gathered while the
candidate's server starts, on the run's helper threads (``grader.run.background``).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.errors import GraderError, InfrastructureError
from grader.evidence import Facts
from grader.intake.submission import open_submission
from grader.labs.loading import load_lab
from grader.models import CheckResult, Report
from grader.paths import ProjectPaths
from grader.results.report import write_reports
from grader.results.store import ResultStore
from grader.run.assemble import assemble_report
from grader.run.attempts import INTERRUPTED
from grader.run.background import BackgroundWork
from grader.run.grading import RubricEvaluator
from grader.run.pipeline import install_dependencies, read_manifest
from grader.run.services import collect_service_logs, start_services
from grader.run.state import QuietObserver, RunObserver, RunState
from grader.run.steps import run_steps
from grader.run.submission_image import build_submission_image
from grader.sandbox import Sandbox
from grader.sandbox.engine import Engine


@dataclass(frozen=True)
class GradeOptions:
    """Where the reports go and in which formats, the git ref to grade, and whether the result is stored."""

    out_dir: Path | None = None
    ref: str | None = None
    formats: tuple[str, ...] = ("json", "md", "html")
    store: bool = True


@dataclass
class GradeOutcome:
    """The report of a graded run and the files it was written to, by format."""

    report: Report
    files: dict[str, Path] = field(default_factory=dict)


def new_run_id() -> str:
    """A fresh, short, random run id."""
    return uuid.uuid4().hex[:12]


def grade_submission(
    submission: str,
    lab_reference: str,
    paths: ProjectPaths,
    engine: Engine,
    options: GradeOptions = GradeOptions(),
    observer: RunObserver | None = None,
    clock: Callable[[], float] = time.monotonic,
    run_id: str | None = None,
) -> GradeOutcome:
    """Grade one submission against one lab and write its reports.

    Raises BadInputError for an unusable lab or submission (nothing is graded then); any later failure
    is recorded in the returned report as ``outcome: error``. An interrupt still writes the report, then
    propagates.
    """
    started = clock()
    lab = load_lab(lab_reference, paths)
    engine.check_runtime(lab)
    with tempfile.TemporaryDirectory(prefix="grader-run-") as scratch:
        run = RunState(run_id=run_id or new_run_id(), lab=lab, backend=engine.name,
                       observer=observer or QuietObserver(), clock=clock, scratch=Path(scratch), started_at=_now())
        with run.phase("intake"):
            workspace = open_submission(submission, run.scratch / "submission", ref=options.ref)
        run.submission = workspace.info
        run.manifest, run.manifest_file = read_manifest(lab, workspace.path, run.observer)
        retries = lab.lab.retry_on_infrastructure_error
        for number in range(1, retries + 2):
            if number > 1:
                run.observer.log(f"attempt {number - 1} ended in an infrastructure error; retrying: {run.error}")
                run = run.next_attempt(number)
            try:
                failure = _attempt(run, engine, workspace.path, paths, number)
            except KeyboardInterrupt:
                _finish(run, options, paths, started)
                raise
            if not isinstance(failure, InfrastructureError):
                break
        return _finish(run, options, paths, started)


def _attempt(run: RunState, engine: Engine, workspace: Path, paths: ProjectPaths, number: int) -> GraderError | None:
    """One try; its failure (if any) is recorded in the run state (and returned), never raised, but an interrupt."""
    started = run.clock()
    failure: GraderError | None = None
    try:
        if number > 1:
            engine.recover(run.run_id, run.observer.log)
        _execute(run, engine, workspace, paths)
    except GraderError as exc:
        failure = exc
        run.error = str(exc)
    except KeyboardInterrupt:
        run.error = INTERRUPTED
        raise
    finally:
        run.record_attempt(number, run.clock() - started)
    return failure


def _execute(run: RunState, engine: Engine, workspace: Path, paths: ProjectPaths) -> None:
    with run.phase("images"):
        tag, digest = engine.prepare_image(run.lab.lab.image, run.observer.log)
        run.images[run.lab.lab.image] = digest
    sandbox = engine.sandbox(run.run_id, tag, run.lab)
    run.runtime = sandbox.runtime or ""
    background = BackgroundWork(f"grader-{run.run_id}")
    failing = True
    try:
        with run.phase("sandbox"):
            sandbox.open()
            run.started_at_ms = int(time.time() * 1000)
            sandbox.copy_in(workspace)
        with run.phase("dependencies"):
            install_dependencies(run, sandbox, workspace, paths.cache, paths.sandboxes)
        evaluator = RubricEvaluator(run, sandbox, workspace)
        early = {check.id: background.submit(_timed, run, "early-checks", evaluator.grade, section, check, {})
                 for section, check in evaluator.early_checks()}
        with run.phase("services"):
            start_services(run, sandbox, "before-steps")
        with run.phase("early-checks-wait"):
            early_results = {check_id: _check_result(future) for check_id, future in early.items()}
        facts = evaluator.make_facts()
        run.watch_local_stores = facts.request.local_stores
        if facts.applies():
            facts.start_evaluator(background.submit)
        with run.phase("steps"):
            run_steps(run, sandbox)
        if run.lab.lab.build is not None:
            with run.phase("build"):
                build_submission_image(run, sandbox, workspace)
        prefetch = background.submit(_timed, run, "evidence-prefetch", facts.prefetch) if facts.applies() else None
        with run.phase("services"):
            start_services(run, sandbox, "after-steps")
        if prefetch is not None:
            prefetch.result()
        if any(step.after_services for step in run.lab.lab.steps):
            with run.phase("late-steps"):
                _run_late_steps(run, sandbox, facts, background.submit)
        with run.phase("checks"):
            _grade_rubric(run, evaluator, early_results)
        collect_service_logs(run, sandbox)
        failing = False
    finally:
        # Teardown first: it stops what a helper thread may still wait on, so the join is quick. Work that was
        # still running may have started containers meanwhile: a second (idempotent) teardown removes them.
        with run.phase("teardown"):
            still_running = background.cancel_pending()
            _tear_down(run, sandbox, failing=failing)
        background.join()
        if still_running:
            with run.phase("teardown"):
                _tear_down(run, sandbox, failing=True)


def _tear_down(run: RunState, sandbox: Sandbox, *, failing: bool) -> None:
    """Remove the sandbox. When the run is already failing (most likely the engine is gone, the same cause), a
    teardown failure must not replace the first reason: it is logged, and what is left is removed by a retry's
    recovery, the next grader start (its owner is gone by then) or `grader cleanup`."""
    try:
        sandbox.close()
    except InfrastructureError as exc:
        if not failing:
            raise
        run.observer.log(f"teardown could not finish: {exc}")


def _run_late_steps(run: RunState, sandbox: Sandbox, facts: Facts, submit: Callable[..., Future[Any]]) -> None:
    """Steps that run against the live pipeline (e.g. retraining after drift): the grader first observes
    what they may change, and scores what they registered right after."""
    if facts.applies():
        facts.observe_before_late_steps(submit)
    run_steps(run, sandbox, after_services=True)
    if facts.applies():
        facts.observe_after_late_steps()


def _timed(run: RunState, name: str, work: Callable[..., object], *args: object) -> object:
    started = run.clock()
    try:
        return work(*args)
    finally:
        run.add_timing(name, run.clock() - started)


def _check_result(future: Future[object]) -> CheckResult:
    result = future.result()
    assert isinstance(result, CheckResult)
    return result


def _grade_rubric(run: RunState, evaluator: RubricEvaluator, early: dict[str, CheckResult]) -> None:
    done: dict[str, CheckResult] = {}
    for section in run.lab.rubric.rubric.sections:
        for check in section.checks:
            result = early.get(check.id) or evaluator.grade(section.id, check, done)
            done[check.id] = result
            run.record_check(result)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _finish(run: RunState, options: GradeOptions, paths: ProjectPaths, started: float) -> GradeOutcome:
    """Assemble the report of the run's last try, write its files and store it."""
    report = assemble_report(run, finished_at=_now(), total_seconds=run.clock() - started)
    out_dir = options.out_dir or Path("grader-reports") / f"{report.lab['id']}-{report.run_id}"
    files = write_reports(report, out_dir, options.formats)
    if options.store:
        with ResultStore(paths.results_db) as store:
            store.save(report)
    return GradeOutcome(report=report, files=files)


__all__ = ["Engine", "GradeOptions", "GradeOutcome", "QuietObserver", "RunObserver", "grade_submission"]
