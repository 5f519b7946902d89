"""What the run's containers get (environment, data mounts), the submission's manifest and requirements, and
the grader's probe. Steps and services are run by ``grader.run.steps`` and ``grader.run.services``.

Only the runner uses this module; checks see its results through ``CheckContext`` and ``Facts``.
"""

from __future__ import annotations

import itertools
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader import probe
from grader.errors import InfrastructureError, LabError
from grader.evidence import parse_probe_output, tracking_url
from grader.labs.loading import LoadedLab
from grader.labs.manifest import SubmissionManifest, default_manifest, load_manifest
from grader.labs.templating import render
from grader.models import Limits, StepSpec
from grader.run.state import RunObserver, RunState
from grader.sandbox import Mount, RunSpec, Sandbox

ARTIFACT_LIMIT = 64 * 1024**2
PROBE_LIMITS = Limits(memory="1g", cpus=1, timeout=300, output="32m")


def read_manifest(lab: LoadedLab, workspace: Path,
                  observer: RunObserver) -> tuple[SubmissionManifest, dict[str, str | None]]:
    """The submission's manifest over the lab's defaults, and which file it came from; a broken one is
    reported (the second value says why) and the defaults used."""
    try:
        manifest, path = load_manifest(workspace, lab.lab.manifest)
    except LabError as exc:
        error = f"capstone manifest ignored: {exc}"
        observer.log(error)
        return default_manifest(lab.lab.manifest), {"path": None, "error": error}
    return manifest, {"path": path.name if path else None, "error": None}


def data_mounts(lab: LoadedLab) -> tuple[Mount, ...]:
    """The lab's data, as every candidate container of the run sees it."""
    return tuple(Mount(source=lab.data_path(m.source), target=m.target) for m in lab.lab.data)


def step_data_mounts(lab: LoadedLab, step: StepSpec) -> tuple[Mount, ...]:
    """Data only this step sees (e.g. the retraining set of the drift lab)."""
    return tuple(Mount(source=lab.data_path(m.source), target=m.target) for m in step.data)


def render_env(env: dict[str, str], manifest: SubmissionManifest) -> dict[str, str]:
    """An environment with its manifest templates filled in."""
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
    from grader.run.dependencies import DEPENDENCY_LIMITS, DependencyWish, prepare_dependencies, resolution_cutoff

    policy = run.lab.lab.dependencies
    if not policy.install:
        return
    committed_at = run.submission.committed_at if run.submission else None
    manifest = run.manifest
    wish = DependencyWish(files=tuple(manifest.dependencies.files), extra=tuple(manifest.dependencies.extra),
                          python=manifest.dependencies.python)
    commands = [command for command in (manifest.prepare.command, manifest.train.command, manifest.serve.command,
                                        manifest.tests.command, manifest.retrain.command) if command]
    outcome = prepare_dependencies(sandbox, workspace, cache, image=sandbox.image, limits=DEPENDENCY_LIMITS,
                                   skip=policy.skip, as_of=resolution_cutoff(policy.resolve_as_of, committed_at),
                                   commands=commands, wish=wish)
    run.dependencies = outcome
    run.candidate_env = dict(outcome.env)
    run.observer.log(f"dependencies: {outcome.status}: {outcome.message[:200]}")
    if outcome.status == "failed" and policy.on_failure == "stop":
        run.blocked_reason = f"the submission's requirements could not be installed: {outcome.message[:300]}"


def dependency_mounts(run: RunState) -> tuple[Mount, ...]:
    """The candidate's own environment, read-only, for every container that runs the candidate's code."""
    return run.dependencies.mounts() if run.dependencies is not None else ()


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
        # The model evaluator unpickles the candidate's model with the candidate's own library versions.
        python = run.dependencies.evaluator_python() if script == "evaluate_model" and run.dependencies else None
        command = shlex.join([python or "python3", f"{probe.MOUNT_POINT}/{script}.py", *arguments])
        spec = RunSpec(name=f"client-{next(counter)}", command=command, image=sandbox.image,
                       limits=PROBE_LIMITS, env={"MLFLOW_TRACKING_URI": tracking_uri(run.lab)}, network=True,
                       mount_work=False, mounts=(Mount(probe.PROBE_DIR, probe.MOUNT_POINT),
                                                 Mount(folder, probe.PLAN_MOUNT),
                                                 *(dependency_mounts(run) if python else ())))
        result = sandbox.run(spec)
        lines = parse_probe_output(result.stdout, probe.RESULT_MARKER)
        if not lines:
            raise InfrastructureError(f"the grader's {script} produced no result "
                                      f"({result.failure_reason or 'exit 0'}): {result.stderr[-500:]}")
        return lines

    return run_probe
