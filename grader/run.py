"""Orchestrates one grading run: load → intake → images → sandbox → steps → services → checks → report.

Data flows one way. Whatever happens after the lab and submission were accepted, a report is
written: an infrastructure failure or an interrupt ends the run with ``outcome: error`` and the
reason, and the sandbox is torn down on every path out.
"""

from __future__ import annotations

import json
import shlex
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
from grader import probe
from grader.checks import get_check_type
from grader.checks.base import CheckContext
from grader.errors import GraderError, InfrastructureError, LabError
from grader.evidence import Facts, parse_probe_output
from grader.intake import open_submission
from grader.labs import LoadedLab, load_lab
from grader.manifest import SubmissionManifest, default_manifest, load_manifest
from grader.models import (
    CheckOutcome, CheckResult, CheckSpec, Limits, Report, ServiceResult, ServiceSpec, Status, StepResult,
    SubmissionInfo,
)
from grader.paths import ProjectPaths
from grader.report import write_reports
from grader.sandbox import Mount, RunSpec, Sandbox
from grader.templating import render, render_number
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
    manifest: SubmissionManifest = field(default_factory=SubmissionManifest)
    started_at_ms: int = 0
    steps: dict[str, StepResult] = field(default_factory=dict)
    services: dict[str, ServiceResult] = field(default_factory=dict)

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
        run.manifest = _read_manifest(run, workspace.path)
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
        sections={section.id: section.title for section in rubric.rubric.sections},
        pass_mark=rubric.rubric.pass_mark,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _read_manifest(run: _Run, workspace: Path) -> SubmissionManifest:
    """The submission's manifest over the lab's defaults; a broken one is reported and the defaults used."""
    try:
        manifest, path = load_manifest(workspace, run.lab.lab.manifest)
        run.report.manifest = {"path": path.name if path else None, "error": None}
    except LabError as exc:
        manifest = default_manifest(run.lab.lab.manifest)
        run.report.manifest = {"path": None, "error": f"capstone manifest ignored: {exc}"}
        run.observer.log(run.report.manifest["error"])
    return manifest


def _execute(run: _Run, engine: Engine, workspace: Path) -> None:
    with run.phase("images"):
        tag, digest = engine.prepare_image(run.lab.lab.image, run.observer.log)
        run.report.images[run.lab.lab.image] = digest
    sandbox = engine.sandbox(run.report.run_id, tag, run.lab)
    try:
        with run.phase("sandbox"):
            sandbox.open()
            run.started_at_ms = int(time.time() * 1000)
            sandbox.copy_in(workspace)
        with run.phase("services"):
            _start_services(run, sandbox, "before-steps")
        with run.phase("steps"):
            _run_steps(run, sandbox)
        with run.phase("services"):
            _start_services(run, sandbox, "after-steps")
        with run.phase("checks"):
            _run_checks(run, sandbox, workspace)
        _collect_service_logs(run, sandbox)
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
            spec = RunSpec(name=step.id, command=render(step.run, run.manifest), image=sandbox.image,
                           limits=lab.limits.merged(step.limits), env=_render_env(step.env, run.manifest),
                           network=step.network, mounts=_mounts(run.lab))
            result = sandbox.run(spec)
            for artifact in step.artifacts:
                destination = run.scratch / "artifacts" / Path(artifact).parent
                destination.mkdir(parents=True, exist_ok=True)
                sandbox.copy_out(artifact, destination, ARTIFACT_LIMIT)
        run.steps[step.id] = result
        run.report.steps.append(result)
        run.observer.step_finished(result)


def _render_env(env: dict[str, str], manifest: SubmissionManifest) -> dict[str, str]:
    return {name: render(value, manifest) for name, value in env.items()}


def _start_services(run: _Run, sandbox: Sandbox, when: str) -> None:
    lab = run.lab.lab
    for service in (s for s in lab.services if s.start == when):
        failed_needs = [n for n in service.needs if not run.steps[n].succeeded]
        if failed_needs:
            result = ServiceResult(id=service.id, ready=False,
                                   message=f"not started: needs step {failed_needs[0]!r}, which did not succeed")
        else:
            result = sandbox.start_service(_service_spec(run, service, sandbox.image), int(
                render_number(service.port, run.manifest)), render_number(service.ready_timeout, run.manifest))
        run.services[service.id] = result
        run.report.services.append(result)
        run.observer.service_started(result)


def _service_spec(run: _Run, service: ServiceSpec, image: str) -> RunSpec:
    limits = run.lab.lab.limits.merged(service.limits)
    if service.trusted:
        # The grader's own service: no work area, none of the lab data, no submission.
        return RunSpec(name=service.id, command=service.run, image=image, limits=limits, env=service.env,
                       network=True, mount_work=False)
    return RunSpec(name=service.id, command=render(service.run, run.manifest), image=image, limits=limits,
                   env=_render_env(service.env, run.manifest), network=True, mounts=_mounts(run.lab))


def _collect_service_logs(run: _Run, sandbox: Sandbox) -> None:
    """Log tails of every service for the reviewer, taken before teardown removes them."""
    for index, result in enumerate(run.report.services):
        if result.message.startswith("not started"):
            continue
        try:
            run.report.services[index] = result.model_copy(update={"log_tail": sandbox.service_logs(result.id)})
        except InfrastructureError:
            continue


def _probe_runner(run: _Run, sandbox: Sandbox) -> Callable[..., list[dict[str, object]]]:
    """Runs grader code from ``grader/probe`` in a sandbox container on the run network."""
    counter = iter(range(1_000_000))

    def run_probe(script: str, plan: dict | None, arguments: list[str], files: Path | None) -> list[dict[str, object]]:
        folder = files or run.scratch / "probe" / f"plan-{next(counter)}"
        folder.mkdir(parents=True, exist_ok=True)
        if plan is not None:
            (folder / "plan.json").write_text(json.dumps(plan))
            arguments = [f"{probe.PLAN_MOUNT}/plan.json", *arguments]
        command = " ".join(shlex.quote(a) for a in ["python3", f"{probe.MOUNT_POINT}/{script}.py", *arguments])
        limits = Limits(memory="1g", cpus=1, timeout=300, output="32m")
        spec = RunSpec(name=f"probe-{script.replace('_', '-')}", command=command, image=sandbox.image, limits=limits,
                       env={"MLFLOW_TRACKING_URI": _tracking_uri(run)}, network=True, mount_work=False,
                       mounts=(Mount(probe.PROBE_DIR, probe.MOUNT_POINT), Mount(folder, probe.PLAN_MOUNT)))
        result = sandbox.run(spec)
        lines = parse_probe_output(result.stdout, probe.RESULT_MARKER)
        if not lines:
            raise InfrastructureError(f"the grader's {script} produced no result ({result.failure_reason or 'exit 0'}): "
                                      f"{result.stderr[-500:]}")
        return lines

    return run_probe


def _tracking_uri(run: _Run) -> str:
    service = next((s for s in run.lab.lab.services if s.id == "mlflow"), None)
    return f"http://mlflow:{service.port}" if service else ""


def _run_checks(run: _Run, sandbox: Sandbox, workspace: Path) -> None:
    lab = run.lab
    (run.scratch / "artifacts").mkdir(exist_ok=True)

    def run_in_sandbox(name: str, command: str, env: dict[str, str] | None = None) -> StepResult:
        spec = RunSpec(name=name, command=command, image=sandbox.image, limits=lab.lab.limits,
                       env=dict(env or {}), network=False, mounts=_mounts(lab))
        return sandbox.run(spec)

    def copy_from_sandbox(path: str, dest: Path) -> Path | None:
        return sandbox.copy_out(path, dest, ARTIFACT_LIMIT)

    facts = Facts(lab=lab, manifest=run.manifest, started_at_ms=run.started_at_ms, services=run.services,
                  run_probe=_probe_runner(run, sandbox), scratch=run.scratch / "evidence")
    results: dict[str, CheckResult] = {}
    for section in lab.rubric.rubric.sections:
        for check in section.checks:
            scratch = run.scratch / "checks" / check.id
            scratch.mkdir(parents=True, exist_ok=True)
            context = CheckContext(
                submission_dir=workspace, artifacts_dir=run.scratch / "artifacts", scratch_dir=scratch,
                steps=run.steps, services=run.services,
                run_in_sandbox=run_in_sandbox, copy_from_sandbox=copy_from_sandbox, facts=facts,
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
