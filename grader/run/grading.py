"""Evaluating the rubric: contexts for check types, ``needs`` → skip, points, and early evaluation.

Checks of a type marked ``early`` (they look only at the submission as submitted, e.g. the candidate's
own test suite) may be evaluated while the pipeline is still starting, to use the idle core; their
results are reported in rubric order like every other.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from grader.checks import get_check_type, rubric_evidence_request
from grader.checks.base import CheckContext
from grader.errors import EngineLostError, InfrastructureError
from grader.evidence import MODEL_SERVER, Facts
from grader.labs.templating import render
from grader.models import CheckOutcome, CheckResult, CheckSpec, Limits, ServiceResult, StepResult
from grader.results.scoring import result_from_outcome, skip_reason
from grader.run.pipeline import (
    ARTIFACT_LIMIT,
    RunState,
    candidate_env,
    data_mounts,
    dependency_mounts,
    probe_runner,
)
from grader.sandbox import Mount, RunSpec, Sandbox
from grader.sandbox.tools import INPUT_MOUNT, tool_path

TOOL_LIMITS = Limits(memory="512m", cpus=1, timeout=60, output="256k")


class RubricEvaluator:
    """Grades the checks of one run against its sandbox."""

    def __init__(self, run: RunState, sandbox: Sandbox, workspace: Path) -> None:
        self.run = run
        self.sandbox = sandbox
        self.workspace = workspace
        self.facts: Facts | None = None
        (run.scratch / "artifacts").mkdir(parents=True, exist_ok=True)

    def make_facts(self) -> Facts:
        """The lazily gathered run evidence, available once the steps have run."""
        self.facts = Facts(lab=self.run.lab, manifest=self.run.manifest, started_at_ms=self.run.started_at_ms,
                           services=self.run.services, run_probe=probe_runner(self.run, self.sandbox),
                           scratch=self.run.scratch / "evidence", request=rubric_evidence_request(self.run.lab),
                           restart_model_server=self._restart_model_server, submission_root=self.workspace,
                           local_stores=lambda: self.run.local_stores)
        return self.facts

    def _restart_model_server(self) -> ServiceResult:
        serve = self.run.manifest.serve
        spec = next((s for s in self.run.lab.lab.services if s.id == MODEL_SERVER), None)
        http_path = render(spec.ready_http, self.run.manifest) if spec is not None and spec.ready_http else None
        return self.sandbox.restart_service(MODEL_SERVER, serve.port, serve.ready_timeout, http_path)

    def early_checks(self) -> list[tuple[str, CheckSpec]]:
        """Checks that may be evaluated before the pipeline ran: early types with no ``needs``."""
        return [
            (section.id, check)
            for section in self.run.lab.rubric.rubric.sections
            for check in section.checks
            if not check.needs and get_check_type(check.type).is_early_for(self.run.manifest)
        ]

    def grade(self, section: str, check: CheckSpec, done: Mapping[str, CheckResult]) -> CheckResult:
        started = self.run.clock()
        reason = skip_reason(check, done)
        outcome = CheckOutcome.skipped(reason) if reason else self._evaluate(check)
        return result_from_outcome(check, section, outcome, round(self.run.clock() - started, 3))

    def _evaluate(self, check: CheckSpec) -> CheckOutcome:
        check_type = get_check_type(check.type)
        params = self.run.lab.rubric.params[check.id]
        try:
            return check_type.evaluate(params, self._context(check))
        except EngineLostError:
            raise  # nothing observed any more can be trusted: the whole run ends in error, not this check
        except InfrastructureError as exc:
            return CheckOutcome.errored(f"the grader could not decide: {exc}")
        except Exception as exc:  # a check-type bug must not lose the other results
            return CheckOutcome.errored(f"check type {check.type!r} crashed: {type(exc).__name__}: {exc}")

    def _context(self, check: CheckSpec) -> CheckContext:
        scratch = self.run.scratch / "checks" / check.id
        scratch.mkdir(parents=True, exist_ok=True)
        return CheckContext(
            submission_dir=self.workspace, artifacts_dir=self.run.scratch / "artifacts", scratch_dir=scratch,
            steps=self.run.steps, services=self.run.services, run_in_sandbox=self._run_in_sandbox,
            copy_from_sandbox=self._copy_from_sandbox, facts=self.facts, manifest=self.run.manifest,
            dependencies=self.run.dependencies, run_tool=self._run_tool,
        )

    def _run_in_sandbox(self, name: str, command: str, env: Mapping[str, str] | None = None) -> StepResult:
        lab = self.run.lab
        spec = RunSpec(name=name, command=command, image=self.sandbox.image, limits=lab.lab.limits,
                       env=candidate_env(self.run, dict(env or {})), network=False,
                       mounts=data_mounts(lab) + dependency_mounts(self.run))
        return self.sandbox.run(spec)

    def _run_tool(self, name: str, command: str, tools: Mapping[str, Path], inputs: Path) -> StepResult:
        # Inputs are candidate files: the tool reads them in a container with no network, no work area, none
        # of the lab's data, and the tool binaries and inputs mounted read-only.
        mounts = (*(Mount(path, tool_path(tool)) for tool, path in tools.items()), Mount(inputs, INPUT_MOUNT))
        spec = RunSpec(name=name, command=command, image=self.sandbox.image, limits=TOOL_LIMITS, network=False,
                       mount_work=False, mounts=mounts)
        return self.sandbox.run(spec)

    def _copy_from_sandbox(self, path: str, dest: Path) -> Path | None:
        return self.sandbox.copy_out(path, dest, ARTIFACT_LIMIT)
