"""The report: the one result model every renderer reads (docs/report-format.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from grader.models.results import CheckResult, ServiceResult, StepResult


class SubmissionInfo(BaseModel):
    source: str
    kind: Literal["directory", "git", "archive"]
    digest: str
    ref: str | None = None
    committed_at: str | None = None  # the commit's committer date (ISO 8601), for a git submission
    files: int
    bytes: int


class Attempt(BaseModel):
    """One try at grading a run. A lab with ``retry_on_infrastructure_error`` may need more than one."""

    number: int = Field(ge=1)
    outcome: Literal["graded", "error"]
    error: str | None = None
    duration_s: float = 0.0


class Report(BaseModel):
    """The one result model every renderer reads. Keys are documented in docs/report-format.md."""

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
    error: str | None = None
    score: float = 0.0
    max_score: float = 0.0
    review_points: float = Field(0.0, description="points of the manual items, awarded by a reviewer outside score")
    pass_mark: float = 0.0
    passed: bool = False
    started_at: str
    finished_at: str = ""
    timing: dict[str, float] = Field(default_factory=dict)
    checks: list[CheckResult] = Field(default_factory=list)
    steps: list[StepResult] = Field(default_factory=list)
    services: list[ServiceResult] = Field(default_factory=list)
    attempts: list[Attempt] = Field(
        default_factory=list, description="every try at this run in order; the report is the last one's"
    )
