"""The parts of a run that touch the sandbox: state of one run, steps, services, and the grader's probe.

Only the runner uses this module; checks see its results through ``CheckContext`` and ``Facts``.
"""

from __future__ import annotations

import itertools
import json
import shlex
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import probe
from grader.errors import InfrastructureError, LabError
from grader.evidence import parse_probe_output, tracking_url
from grader.labs.loading import LoadedLab
from grader.labs.manifest import SubmissionManifest, default_manifest, load_manifest
from grader.labs.templating import render, render_number
from grader.models import CheckResult, Limits, Report, ServiceResult, ServiceSpec, StepResult, StepSpec
from grader.sandbox import Mount, RunSpec, Sandbox

ARTIFACT_LIMIT = 64 * 1024**2
PROBE_LIMITS = Limits(memory="1g", cpus=1, timeout=300, output="32m")


class RunObserver:
    """Progress callbacks, so the CLI can show what happens without the library printing.

    Every callback does nothing here: an observer overrides only what it shows.
    """

    def phase_started(self, phase: str) -> None: ...
    def phase_finished(self, phase: str, seconds: float) -> None: ...
    def log(self, message: str) -> None: ...
    def step_finished(self, result: StepResult) -> None: ...
    def service_started(self, result: ServiceResult) -> None: ...
    def check_finished(self, result: CheckResult) -> None: ...


QuietObserver = RunObserver


@dataclass
class RunState:
    """Mutable state of one grading run."""

    lab: LoadedLab
    report: Report
    observer: RunObserver
    clock: Callable[[], float]
    scratch: Path
    manifest: SubmissionManifest = field(default_factory=SubmissionManifest)
    started_at_ms: int = 0
    steps: dict[str, StepResult] = field(default_factory=dict)
    services: dict[str, ServiceResult] = field(default_factory=dict)
    candidate_env: dict[str, str] = field(default_factory=dict)  # e.g. PYTHONPATH of installed requirements
    dependencies: Any = None  # grader.run.dependencies.DependencyOutcome
    blocked_reason: str | None = None  # set when no step may run (dependencies failed with on_failure: stop)
    built_image: str | None = None  # id of the image built from the submission (lab ``build``), when it built
    _timing_lock: threading.Lock = field(default_factory=threading.Lock)

    def add_timing(self, name: str, seconds: float) -> None:
        with self._timing_lock:
            self.report.timing[name] = round(self.report.timing.get(name, 0) + seconds, 3)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.observer.phase_started(name)
        started = self.clock()
        try:
            yield
        finally:
            elapsed = round(self.clock() - started, 3)
            self.add_timing(name, elapsed)
            self.observer.phase_finished(name, elapsed)


def read_manifest(run: RunState, workspace: Path) -> SubmissionManifest:
    """The submission's manifest over the lab's defaults; a broken one is reported and the defaults used."""
    try:
        manifest, path = load_manifest(workspace, run.lab.lab.manifest)
        run.report.manifest = {"path": path.name if path else None, "error": None}
    except LabError as exc:
        manifest = default_manifest(run.lab.lab.manifest)
        run.report.manifest = {"path": None, "error": f"capstone manifest ignored: {exc}"}
        run.observer.log(run.report.manifest["error"] or "")
    return manifest


def data_mounts(lab: LoadedLab) -> tuple[Mount, ...]:
    return tuple(Mount(source=lab.data_path(m.source), target=m.target) for m in lab.lab.data)


def step_data_mounts(lab: LoadedLab, step: StepSpec) -> tuple[Mount, ...]:
    """Data only this step sees (e.g. the retraining set of the drift lab)."""
    return tuple(Mount(source=lab.data_path(m.source), target=m.target) for m in step.data)


def render_env(env: dict[str, str], manifest: SubmissionManifest) -> dict[str, str]:
    return {name: render(value, manifest) for name, value in env.items()}


def candidate_env(run: RunState, env: dict[str, str]) -> dict[str, str]:
    """A candidate container's environment: the lab's (rendered) plus the installed requirements' path."""
    rendered = render_env(env, run.manifest)
    merged = {**run.candidate_env, **rendered}
    if "PYTHONPATH" in run.candidate_env and "PYTHONPATH" in rendered:
        merged["PYTHONPATH"] = f"{run.candidate_env['PYTHONPATH']}:{rendered['PYTHONPATH']}"
    return merged


def install_dependencies(run: RunState, sandbox: Sandbox, workspace: Path, cache: Path, sandboxes: Path) -> None:
    """The submission's own requirements, per the lab's policy (see grader.run.dependencies)."""
    from dataclasses import asdict

    from grader.run.dependencies import DEPENDENCY_LIMITS, prepare_dependencies

    policy = run.lab.lab.dependencies
    if not policy.install:
        return
    outcome = prepare_dependencies(sandbox, workspace, cache, image=sandbox.image, limits=DEPENDENCY_LIMITS,
                                   skip=policy.skip,
                                   runtime_requirements=sandboxes / run.lab.lab.image / "requirements.txt")
    run.dependencies = outcome
    run.candidate_env = dict(outcome.env)
    run.report.dependencies = {k: v for k, v in asdict(outcome).items() if k != "env"}
    run.observer.log(f"dependencies: {outcome.status}: {outcome.message[:200]}")
    if outcome.status == "failed" and policy.on_failure == "stop":
        run.blocked_reason = f"the submission's requirements could not be installed: {outcome.message[:300]}"


def run_steps(run: RunState, sandbox: Sandbox, *, after_services: bool = False) -> None:
    """The lab's steps of one group (``after_services`` or not) in order; a step whose needed step did not
    succeed is skipped with the reason."""
    lab = run.lab.lab
    for step in (s for s in lab.steps if s.after_services == after_services):
        failed_needs = [n for n in step.needs if not run.steps[n].succeeded]
        if run.blocked_reason:
            result = StepResult(id=step.id, command=step.run, exit_code=None, duration_s=0,
                                skipped_reason=run.blocked_reason)
        elif failed_needs:
            result = StepResult(id=step.id, command=step.run, exit_code=None, duration_s=0,
                                skipped_reason=f"needs step {failed_needs[0]!r}, which "
                                f"{run.steps[failed_needs[0]].failure_reason}")
        else:
            command = render(step.run, run.manifest)
            spec = RunSpec(name=step.id, command=_after_removing(step.artifacts, command), image=sandbox.image,
                           limits=lab.limits.merged(step.limits), env=candidate_env(run, step.env),
                           network=step.network, mounts=data_mounts(run.lab) + step_data_mounts(run.lab, step))
            result = sandbox.run(spec).model_copy(update={"command": command})
            _copy_artifacts(run, sandbox, step.artifacts)
        run.steps[step.id] = result
        run.report.steps.append(result)
        run.observer.step_finished(result)


def _after_removing(artifacts: list[str], command: str) -> str:
    """``command``, run once the step's artifacts are gone: a file committed at an artifact's path must not pass
    for what the step produced (the submission as committed stays in the workspace for the other checks)."""
    if not artifacts:
        return command
    return f"rm -rf -- {shlex.join(artifacts)} && {command}"


def _copy_artifacts(run: RunState, sandbox: Sandbox, artifacts: list[str]) -> None:
    for artifact in artifacts:
        destination = run.scratch / "artifacts" / Path(artifact).parent
        destination.mkdir(parents=True, exist_ok=True)
        if sandbox.copy_out(artifact, destination, ARTIFACT_LIMIT) is None and artifact in sandbox.copy_refusals:
            run.observer.log(f"artifact {artifact} not copied: {sandbox.copy_refusals[artifact]}")


def start_services(run: RunState, sandbox: Sandbox, when: str) -> None:
    """Start the lab's services of one start group and wait for each one's port (declared deadline)."""
    for service in (s for s in run.lab.lab.services if s.start == when):
        failed_needs = [n for n in service.needs if not run.steps[n].succeeded]
        if failed_needs:
            result = ServiceResult(id=service.id, ready=False,
                                   message=f"not started: needs step {failed_needs[0]!r}, which did not succeed")
        elif service.image == "built" and run.built_image is None:
            result = ServiceResult(id=service.id, ready=False, message="not started: the submission's image was "
                                   "not built")
        else:
            port = int(render_number(service.port, run.manifest))
            timeout = render_number(service.ready_timeout, run.manifest)
            result = sandbox.start_service(service_spec(run, service, sandbox.image), port, timeout)
        run.services[service.id] = result
        run.report.services.append(result)
        run.observer.service_started(result)


def service_spec(run: RunState, service: ServiceSpec, image: str) -> RunSpec:
    limits = run.lab.lab.limits.merged(service.limits)
    if service.image == "built":
        # The submission's own image, as its Dockerfile says to run it: no work area, no lab data.
        return RunSpec(name=service.id, command=render(service.run, run.manifest), image=run.built_image or "",
                       limits=limits, env=render_env(service.env, run.manifest), network=True, mount_work=False,
                       image_command=True)
    if service.trusted:
        # The grader's own service: no work area, none of the lab data, no submission.
        return RunSpec(name=service.id, command=service.run, image=image, limits=limits, env=service.env,
                       network=True, mount_work=False)
    return RunSpec(name=service.id, command=render(service.run, run.manifest), image=image, limits=limits,
                   env=candidate_env(run, service.env), network=True, mounts=data_mounts(run.lab))


def collect_service_logs(run: RunState, sandbox: Sandbox) -> None:
    """Log tails of every started service for the reviewer, taken before teardown removes them."""
    for index, result in enumerate(run.report.services):
        if result.message.startswith("not started"):
            continue
        try:
            run.report.services[index] = result.model_copy(update={"log_tail": sandbox.service_logs(result.id)})
        except InfrastructureError:
            continue


def tracking_uri(lab: LoadedLab) -> str:
    """The run's MLflow server for the probe's environment ("" when the lab runs none)."""
    return tracking_url(lab) or ""


def probe_runner(run: RunState, sandbox: Sandbox) -> Callable[..., list[dict[str, Any]]]:
    """Runs grader code from ``grader/probe`` in a sandbox container on the run network."""
    counter = itertools.count()

    def run_probe(script: str, plan: dict[str, Any] | None, arguments: list[str],
                  files: Path | None) -> list[dict[str, Any]]:
        folder = files or run.scratch / "probe" / f"plan-{next(counter)}"
        folder.mkdir(parents=True, exist_ok=True)
        if plan is not None:
            (folder / "plan.json").write_text(json.dumps(plan))
            arguments = [f"{probe.PLAN_MOUNT}/plan.json", *arguments]
        command = shlex.join(["python3", f"{probe.MOUNT_POINT}/{script}.py", *arguments])
        spec = RunSpec(name=f"probe-{script.replace('_', '-')}", command=command, image=sandbox.image,
                       limits=PROBE_LIMITS, env={"MLFLOW_TRACKING_URI": tracking_uri(run.lab)}, network=True,
                       mount_work=False, mounts=(Mount(probe.PROBE_DIR, probe.MOUNT_POINT),
                                                 Mount(folder, probe.PLAN_MOUNT)))
        result = sandbox.run(spec)
        lines = parse_probe_output(result.stdout, probe.RESULT_MARKER)
        if not lines:
            raise InfrastructureError(f"the grader's {script} produced no result "
                                      f"({result.failure_reason or 'exit 0'}): {result.stderr[-500:]}")
        return lines

    return run_probe
