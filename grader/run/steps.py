"""The lab's steps: one-shot commands run in order in the sandbox; a step whose needed step did not succeed is
skipped with the reason, and the files a step declares as artifacts are copied out after it."""

from __future__ import annotations

import shlex
from pathlib import Path

from grader.evidence.local_store_reader import read_local_stores
from grader.labs.templating import render
from grader.models import StepResult
from grader.models.safe_text import escape_surrogates
from grader.run.addresses import FORWARDER_MOUNT, loopback_routes, with_relays
from grader.run.pipeline import ARTIFACT_LIMIT, candidate_env, data_mounts, dependency_mounts, step_data_mounts
from grader.run.state import RunState
from grader.sandbox import RunSpec, Sandbox


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
        elif not render(step.run, run.manifest).strip():
            result = StepResult(id=step.id, command=step.run, exit_code=None, duration_s=0,
                                skipped_reason=f"nothing to run: {step.run.strip()} is not set")
        else:
            command = render(step.run, run.manifest)
            routes = loopback_routes(lab) if step.network else []
            mounts = (*data_mounts(run.lab), *step_data_mounts(run.lab, step), *dependency_mounts(run),
                      *((FORWARDER_MOUNT,) if routes else ()))
            spec = RunSpec(name=step.id, command=with_relays(_after_removing(step.artifacts, command), routes),
                           image=sandbox.image, limits=lab.limits.merged(step.limits), env=candidate_env(run, step.env),
                           network=step.network, mounts=mounts)
            result = sandbox.run(spec).model_copy(update={"command": escape_surrogates(command)})
            _copy_artifacts(run, sandbox, step.artifacts)
            if run.watch_local_stores:
                _read_local_stores(run, sandbox, step.id)
        run.record_step(result)


def _read_local_stores(run: RunState, sandbox: Sandbox, step: str) -> None:
    """What MLflow stores the step left in the work area (``grader.evidence.local_store``), timed on its own."""
    started = run.clock()
    run.local_stores = run.local_stores.merged(read_local_stores(sandbox, step))
    run.add_timing("local-stores", run.clock() - started)


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
