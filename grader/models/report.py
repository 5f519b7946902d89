"""The report: the one result model every renderer reads (docs/report-format.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.models.results import CheckResult, ServiceResult, StepResult
from grader.models.safe_text import SafeStr


class SubmissionInfo(BaseModel):
    """What was graded: where the submission came from and the digest of what was taken in."""

    model_config = ConfigDict(frozen=True)

    source: SafeStr
    kind: Literal["directory", "git", "archive"]
    digest: str
    ref: SafeStr | None = None
    committed_at: str | None = None  # the commit's committer date (ISO 8601), for a git submission
    files: int
    bytes: int


class Attempt(BaseModel):
    """One try at grading a run. A lab with ``retry_on_infrastructure_error`` may need more than one."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1)
    outcome: Literal["graded", "error"]
    error: SafeStr | None = None
    duration_s: float = 0.0


class Report(BaseModel):
    """The one result model every renderer reads. Keys are documented in docs/report-format.md.

    Assembled once, when the run ends, from the run's state (``grader.run.assemble``); frozen from then on:
    renderers and the store only read it.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    grader_version: str
    run_id: str
    lab: dict[str, str]
    rubric: dict[str, str]
    submission: SubmissionInfo | None = None
    images: dict[str, str] = Field(default_factory=dict)
    plugins: dict[str, str] = Field(
        default_factory=dict, description="plug-in check types the rubric uses → distribution and version"
    )
    manifest: dict[str, str | None] = Field(default_factory=dict)
    dependencies: dict[str, Any] | None = None
    sections: dict[str, str] = Field(default_factory=dict, description="section id → title, in rubric order")
    backend: str = "docker"
    runtime: str = Field("", description="OCI runtime every container of the run used (runc, runsc, ...)")
    outcome: Literal["graded", "error"] = "graded"
    error: SafeStr | None = None
    score: float = 0.0
    max_score: float = 0.0
    review_points: float = Field(0.0, description="points of the manual items, awarded by a reviewer outside score")
    pass_mark: float = 0.0
    passed: bool = False
    missed_required: tuple[str, ...] = Field(
        (), description="ids of required checks that did not pass: the verdict is not passed whatever the score"
    )
    started_at: str
    finished_at: str = ""
    timing: dict[str, float] = Field(default_factory=dict)
    checks: tuple[CheckResult, ...] = ()
    steps: tuple[StepResult, ...] = ()
    services: tuple[ServiceResult, ...] = ()
    attempts: tuple[Attempt, ...] = Field(
        (), description="every try at this run in order; the report is the last one's"
    )
