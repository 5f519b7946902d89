"""What a check type is, and what it may look at.

A check type is a small module exposing ``CHECK = CheckType(...)``: a name, a pydantic model of its
parameters (the rubric keys beside id/title/points/...), an ``evaluate(params, ctx)`` function that
returns a ``CheckOutcome``, and — when it judges run evidence (the registry, the model server's answers,
...) — a ``plan(params)`` function that says which evidence it needs, as an ``EvidenceRequest``.
Checks never import an engine: everything they observe comes through the
``CheckContext`` (files copied out of the sandbox, step results, and a way to run a command in the
sandbox). An ``InfrastructureError`` raised inside a check becomes status ``error``, never ``fail``.
"""

from __future__ import annotations

import glob
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.evidence.request import EvidenceRequest
from grader.models import CheckOutcome, ServiceResult, StepResult

if TYPE_CHECKING:
    from grader.evidence import Facts
    from grader.labs.manifest import SubmissionManifest
    from grader.run.dependencies import DependencyOutcome

MAX_READ_BYTES = 2 * 1024 * 1024
Where = Literal["submission", "artifacts"]


class CheckParams(BaseModel):
    """Base of every check type's parameters: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FileParams(CheckParams):
    """Parameters shared by checks that look at files."""

    path: str = Field(description="path or glob pattern (``**`` allowed), relative to the submission root")
    where: Where = Field(
        "submission",
        description="``submission``: the files as submitted; ``artifacts``: files the lab's steps copied out",
    )


@dataclass(frozen=True)
class CheckType:
    """A registered check type. ``evaluate`` must be pure apart from what ``ctx`` offers."""

    name: str
    params: type[CheckParams]
    evaluate: Callable[[Any, CheckContext], CheckOutcome]
    summary: str = ""
    early: bool = False  # looks only at the submission as submitted: may run while the pipeline starts
    plan: Callable[[Any], EvidenceRequest] | None = None  # the run evidence it judges; None: none
    # For an early type: whether this submission's manifest asks it to wait for the pipeline instead (e.g. tests
    # that need what training leaves behind).
    waits_for_pipeline: Callable[[SubmissionManifest], bool] | None = None

    def is_early_for(self, manifest: SubmissionManifest) -> bool:
        """Whether it may run while the pipeline starts, for a submission with this manifest."""
        return self.early and not (self.waits_for_pipeline is not None and self.waits_for_pipeline(manifest))

    def __post_init__(self) -> None:
        if not (isinstance(self.params, type) and issubclass(self.params, CheckParams)):
            raise TypeError(f"check type {self.name!r}: params must subclass grader.checks.base.CheckParams")
        if len(inspect.signature(self.evaluate).parameters) != 2:
            raise TypeError(f"check type {self.name!r}: evaluate must take (params, ctx)")
        if self.plan is not None and len(inspect.signature(self.plan).parameters) != 1:
            raise TypeError(f"check type {self.name!r}: plan must take (params)")

    def evidence_request(self, params: CheckParams) -> EvidenceRequest:
        """The evidence this check needs with these parameters (nothing, for a type without a plan)."""
        if self.plan is None:
            return EvidenceRequest()
        request = self.plan(params)
        if not isinstance(request, EvidenceRequest):
            raise TypeError(f"check type {self.name!r}: plan returned {type(request).__name__}, "
                            "not an EvidenceRequest")
        return request


SandboxRunner = Callable[[str, str, Mapping[str, str]], StepResult]
SandboxCopier = Callable[[str, Path], "Path | None"]
# (name, command, host tools by name, host folder of inputs): runs a grader-chosen tool binary over files
# in a container with no network and no work area; see grader.sandbox.tools.
ToolRunner = Callable[[str, str, Mapping[str, Path], Path], StepResult]


def no_tool_runner(name: str, command: str, tools: Mapping[str, Path], inputs: Path) -> StepResult:
    """The tool runner of a context that offers none."""
    from grader.errors import InfrastructureError

    raise InfrastructureError("this run offers no way to run tools in a sandbox")


@dataclass
class CheckContext:
    """What a check may observe about one grading run."""

    submission_dir: Path
    artifacts_dir: Path
    scratch_dir: Path
    steps: Mapping[str, StepResult]
    services: Mapping[str, ServiceResult]
    run_in_sandbox: SandboxRunner
    copy_from_sandbox: SandboxCopier
    facts: Facts | None = None  # for labs that run a capstone pipeline
    manifest: SubmissionManifest | None = None  # of this submission
    dependencies: DependencyOutcome | None = None  # when the lab installs requirements
    run_tool: ToolRunner = no_tool_runner

    def require_facts(self) -> Facts:
        """The run's evidence; an infrastructure error in a lab that runs no capstone pipeline."""
        from grader.errors import InfrastructureError

        if self.facts is None:
            raise InfrastructureError("this check type needs a lab with a task and services (no run evidence)")
        return self.facts

    def require_manifest(self) -> SubmissionManifest:
        """The submission's manifest; an infrastructure error when the run has none."""
        from grader.errors import InfrastructureError

        if self.manifest is None:
            raise InfrastructureError("this check type needs the submission's manifest")
        return self.manifest

    def root(self, where: Where) -> Path:
        return self.submission_dir if where == "submission" else self.artifacts_dir

    def find(self, pattern: str, where: Where = "submission") -> list[Path]:
        """Regular files matching a glob under a root; never anything reached through a link outside it."""
        root = self.root(where).resolve()
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            return []
        matches = glob.glob(pattern, root_dir=root, recursive=True, include_hidden=True)
        found = []
        for relative in sorted(matches):
            candidate = (root / relative).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                found.append(root / relative)
        return found

    def read_text(self, path: Path, limit: int = MAX_READ_BYTES) -> str:
        """A file's text, at most ``limit`` bytes (a submission may hold huge files)."""
        with path.open("rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")

    def relative(self, path: Path, where: Where = "submission") -> str:
        return path.relative_to(self.root(where)).as_posix()


def check_type_doc(check: CheckType) -> str:
    """The first paragraph of a check type's documentation, for listings."""
    return (check.summary or "").strip().split("\n\n")[0]
