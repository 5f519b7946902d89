"""Orchestrates one grading run: load → intake → images → sandbox → services → steps → checks → report.

Data flows one way. Whatever happens after the lab and submission were accepted, a report is
written: an infrastructure failure or an interrupt ends the run with ``outcome: error`` and the
reason, and the sandbox is torn down on every path out.

Work that does not depend on the pipeline overlaps with it: early checks (the candidate's test
suite) run while the grader's services start, the model evaluator starts (and imports its libraries)
while training runs, and the registry snapshot and model evaluation are gathered while the
candidate's server starts. Two helper threads are enough on the 2-core machines this targets.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from grader import __version__
from grader.errors import GraderError
from grader.grading import RubricEvaluator
from grader.intake import open_submission
from grader.labs import LoadedLab, load_lab
from grader.models import CheckResult, Report
from grader.paths import ProjectPaths
from grader.pipeline import (
    QuietObserver,
    RunObserver,
    RunState,
    collect_service_logs,
    install_dependencies,
    read_manifest,
    run_steps,
    start_services,
)
from grader.report import write_reports
from grader.sandbox import Sandbox
from grader.scoring import score_report
from grader.store import ResultStore


class Engine(Protocol):
    """Builds images and opens sandboxes for one backend."""

    name: str

    def prepare_image(self, image_name: str, log: Callable[[str], None]) -> tuple[str, str]:
        """Make the named sandbox image available; returns (tag to run, content digest for the report)."""

    def sandbox(self, run_id: str, image: str, lab: LoadedLab) -> Sandbox: ...


@dataclass(frozen=True)
class GradeOptions:
    out_dir: Path | None = None
    ref: str | None = None
    formats: tuple[str, ...] = ("json", "md", "html")
    store: bool = True


@dataclass
class GradeOutcome:
    report: Report
    files: dict[str, Path] = field(default_factory=dict)


def new_run_id() -> str:
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
    is recorded in the returned report as ``outcome: error``.
    """
    started = clock()
    lab = load_lab(lab_reference, paths)
    report = _new_report(lab, run_id or new_run_id(), engine.name)
    with tempfile.TemporaryDirectory(prefix="grader-run-") as scratch:
        run = RunState(lab=lab, report=report, observer=observer or QuietObserver(), clock=clock,
                       scratch=Path(scratch))
        with run.phase("intake"):
            workspace = open_submission(submission, run.scratch / "submission", ref=options.ref)
        report.submission = workspace.info
        run.manifest = read_manifest(run, workspace.path)
        try:
            _execute(run, engine, workspace.path, paths)
        except GraderError as exc:
            report.outcome, report.error = "error", str(exc)
        except KeyboardInterrupt:
            report.outcome, report.error = "error", "interrupted before grading finished"
            _finish(run, options, paths, started)
            raise
        return _finish(run, options, paths, started)


def _new_report(lab: LoadedLab, run_id: str, backend: str) -> Report:
    rubric = lab.rubric
    return Report(
        grader_version=__version__,
        run_id=run_id,
        backend=backend,
        lab={"id": lab.lab.id, "version": lab.lab.version, "title": lab.lab.title},
        rubric={"id": rubric.rubric.id, "version": rubric.rubric.version, "digest": rubric.digest},
        max_score=rubric.rubric.max_score,
        sections={section.id: section.title for section in rubric.rubric.sections},
        pass_mark=rubric.rubric.pass_mark,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _execute(run: RunState, engine: Engine, workspace: Path, paths: ProjectPaths) -> None:
    with run.phase("images"):
        tag, digest = engine.prepare_image(run.lab.lab.image, run.observer.log)
        run.report.images[run.lab.lab.image] = digest
    sandbox = engine.sandbox(run.report.run_id, tag, run.lab)
    background = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"grader-{run.report.run_id}")
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
        if facts.applies():
            facts.start_evaluator(background.submit)
        with run.phase("steps"):
            run_steps(run, sandbox)
        prefetch = background.submit(_timed, run, "evidence-prefetch", facts.prefetch) if facts.applies() else None
        with run.phase("services"):
            start_services(run, sandbox, "after-steps")
        if prefetch is not None:
            prefetch.result()
        with run.phase("checks"):
            _grade_rubric(run, evaluator, early_results)
        collect_service_logs(run, sandbox)
    finally:
        # Teardown first: it stops what a background thread may still wait on, so the join is quick.
        with run.phase("teardown"):
            background.shutdown(wait=False, cancel_futures=True)
            sandbox.close()
        background.shutdown(wait=True)


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
            run.report.checks.append(result)
            run.observer.check_finished(result)


def _finish(run: RunState, options: GradeOptions, paths: ProjectPaths, started: float) -> GradeOutcome:
    report = run.report
    score_report(report)
    report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    report.timing["total"] = round(run.clock() - started, 3)
    out_dir = options.out_dir or Path("grader-reports") / f"{report.lab['id']}-{report.run_id}"
    files = write_reports(report, out_dir, options.formats)
    if options.store:
        with ResultStore(paths.results_db) as store:
            store.save(report)
    return GradeOutcome(report=report, files=files)


__all__ = ["Engine", "GradeOptions", "GradeOutcome", "QuietObserver", "RunObserver", "grade_submission"]
