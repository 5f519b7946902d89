"""Orchestrates one grading run: load → intake → images → sandbox → steps → services → checks → report.

Data flows one way. Whatever happens after the lab and submission were accepted, a report is
written: an infrastructure failure or an interrupt ends the run with ``outcome: error`` and the
reason, and the sandbox is torn down on every path out.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from grader import __version__
from grader.checks import get_check_type
from grader.checks.base import CheckContext
from grader.errors import GraderError, InfrastructureError
from grader.intake import open_submission
from grader.labs import LoadedLab, load_lab
from grader.models import (
    CheckOutcome, CheckResult, CheckSpec, Report, ServiceResult, Status, StepResult, SubmissionInfo,
)
from grader.paths import ProjectPaths
from grader.report import write_reports
from grader.sandbox import Mount, RunSpec, Sandbox
from grader.scoring import score_report, skip_reason
from grader.store import ResultStore

ARTIFACT_LIMIT = 64 * 1024**2


class Engine(Protocol):
    """Builds images and opens sandboxes for one backend."""

    name: str

    def prepare_image(self, image_name: str, log: Callable[[str], None]) -> tuple[str, str]:
        """Make the named sandbox image available; returns (tag to run, content digest for the report)."""

    def sandbox(self, run_id: str, image: str, lab: LoadedLab) -> Sandbox: ...


class RunObserver(Protocol):
    """Progress callbacks, so the CLI can show what happens without the library printing."""

    def phase_started(self, phase: str) -> None: ...
    def phase_finished(self, phase: str, seconds: float) -> None: ...
    def log(self, message: str) -> None: ...
    def step_finished(self, result: StepResult) -> None: ...
    def service_started(self, result: ServiceResult) -> None: ...
    def check_finished(self, result: CheckResult) -> None: ...


class QuietObserver:
    def phase_started(self, phase: str) -> None: ...
    def phase_finished(self, phase: str, seconds: float) -> None: ...
    def log(self, message: str) -> None: ...
    def step_finished(self, result: StepResult) -> None: ...
    def service_started(self, result: ServiceResult) -> None: ...
    def check_finished(self, result: CheckResult) -> None: ...


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


@dataclass
class _Run:
    """Mutable state of one run, private to this module."""

    lab: LoadedLab
    report: Report
    observer: RunObserver
    clock: Callable[[], float]
    scratch: Path
    steps: dict[str, StepResult] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.observer.phase_started(name)
        started = self.clock()
        try:
            yield
        finally:
            elapsed = round(self.clock() - started, 3)
            self.report.timing[name] = round(self.report.timing.get(name, 0) + elapsed, 3)
            self.observer.phase_finished(name, elapsed)


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
    observer = observer or QuietObserver()
    started = clock()
    lab = load_lab(lab_reference, paths)
    report = _new_report(lab, run_id or new_run_id(), engine.name)
    with tempfile.TemporaryDirectory(prefix="grader-run-") as scratch:
        run = _Run(lab=lab, report=report, observer=observer, clock=clock, scratch=Path(scratch))
        with run.phase("intake"):
            workspace = open_submission(submission, run.scratch / "submission", ref=options.ref)
        report.submission = workspace.info
        try:
            _execute(run, engine, workspace.path)
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
        pass_mark=rubric.rubric.pass_mark,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _execute(run: _Run, engine: Engine, workspace: Path) -> None:
    with run.phase("images"):
        tag, digest = engine.prepare_image(run.lab.lab.image, run.observer.log)
        run.report.images[run.lab.lab.image] = digest
    with run.phase("sandbox"):
        sandbox = engine.sandbox(run.report.run_id, tag, run.lab)
        sandbox.__enter__()
    try:
        with run.phase("sandbox"):
            sandbox.copy_in(workspace)
        with run.phase("steps"):
            _run_steps(run, sandbox)
        with run.phase("services"):
            _start_services(run, sandbox)
        with run.phase("checks"):
            _run_checks(run, sandbox, workspace)
    finally:
        with run.phase("teardown"):
            sandbox.close()


def _mounts(lab: LoadedLab) -> tuple[Mount, ...]:
    return tuple(Mount(source=lab.data_path(m.source), target=m.target) for m in lab.lab.data)


def _run_steps(run: _Run, sandbox: Sandbox) -> None:
    lab = run.lab.lab
    for step in lab.steps:
        failed_needs = [n for n in step.needs if not run.steps[n].succeeded]
        if failed_needs:
            result = StepResult(id=step.id, command=step.run, exit_code=None, duration_s=0,
                                skipped_reason=f"needs step {failed_needs[0]!r}, which "
                                f"{run.steps[failed_needs[0]].failure_reason}")
        else:
            spec = RunSpec(name=step.id, command=step.run, image=sandbox.image, limits=lab.limits.merged(step.limits),
                           env=step.env, network=step.network, mounts=_mounts(run.lab))
            result = sandbox.run(spec)
            for artifact in step.artifacts:
                destination = run.scratch / "artifacts" / Path(artifact).parent
                destination.mkdir(parents=True, exist_ok=True)
                sandbox.copy_out(artifact, destination, ARTIFACT_LIMIT)
        run.steps[step.id] = result
        run.report.steps.append(result)
        run.observer.step_finished(result)


def _start_services(run: _Run, sandbox: Sandbox) -> None:
    lab = run.lab.lab
    for service in lab.services:
        failed_needs = [n for n in service.needs if not run.steps[n].succeeded]
        if failed_needs:
            result = ServiceResult(id=service.id, ready=False,
                                   message=f"not started: needs step {failed_needs[0]!r}, which did not succeed")
        else:
            spec = RunSpec(name=service.id, command=service.run, image=sandbox.image,
                           limits=lab.limits.merged(service.limits), env=service.env, network=True,
                           mounts=_mounts(run.lab))
            result = sandbox.start_service(spec, service.port, service.ready_timeout)
        run.report.services.append(result)
        run.observer.service_started(result)


def _run_checks(run: _Run, sandbox: Sandbox, workspace: Path) -> None:
    lab = run.lab
    (run.scratch / "artifacts").mkdir(exist_ok=True)

    def run_in_sandbox(name: str, command: str, env: dict[str, str] | None = None) -> StepResult:
        spec = RunSpec(name=name, command=command, image=sandbox.image, limits=lab.lab.limits,
                       env=dict(env or {}), network=False, mounts=_mounts(lab))
        return sandbox.run(spec)

    def copy_from_sandbox(path: str, dest: Path) -> Path | None:
        return sandbox.copy_out(path, dest, ARTIFACT_LIMIT)

    results: dict[str, CheckResult] = {}
    for section in lab.rubric.rubric.sections:
        for check in section.checks:
            scratch = run.scratch / "checks" / check.id
            scratch.mkdir(parents=True, exist_ok=True)
            context = CheckContext(
                submission_dir=workspace, artifacts_dir=run.scratch / "artifacts", scratch_dir=scratch,
                steps=run.steps, services={s.id: s for s in run.report.services},
                run_in_sandbox=run_in_sandbox, copy_from_sandbox=copy_from_sandbox,
            )
            result = _grade_check(run, check, section.id, results, context)
            results[check.id] = result
            run.report.checks.append(result)
            run.observer.check_finished(result)


def _grade_check(
    run: _Run, check: CheckSpec, section: str, done: dict[str, CheckResult], context: CheckContext
) -> CheckResult:
    started = run.clock()
    reason = skip_reason(check, done)
    if reason:
        outcome = CheckOutcome(status=Status.skipped, message=reason, score_fraction=0)
    else:
        outcome = _evaluate(run, check, context)
    fraction = outcome.score_fraction if outcome.status in (Status.passed, Status.failed) else 0.0
    return CheckResult(
        id=check.id, title=check.title, section=section, type=check.type, status=outcome.status,
        points=round(check.points * fraction, 4), max_points=check.points, message=outcome.message,
        evidence=outcome.evidence, visibility=check.visibility, hint=check.hint,
        duration_s=round(run.clock() - started, 3),
    )


def _evaluate(run: _Run, check: CheckSpec, context: CheckContext) -> CheckOutcome:
    check_type = get_check_type(check.type)
    params = run.lab.rubric.params[check.id]
    try:
        return check_type.evaluate(params, context)
    except InfrastructureError as exc:
        return CheckOutcome.errored(f"the grader could not decide: {exc}")
    except Exception as exc:  # a check-type bug must not lose the other results
        return CheckOutcome.errored(f"check type {check.type!r} crashed: {type(exc).__name__}: {exc}")


def _finish(run: _Run, options: GradeOptions, paths: ProjectPaths, started: float) -> GradeOutcome:
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


__all__ = ["Engine", "GradeOptions", "GradeOutcome", "QuietObserver", "RunObserver", "SubmissionInfo",
           "grade_submission"]
