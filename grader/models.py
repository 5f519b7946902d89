"""Typed models of everything that crosses a stage boundary: labs, rubrics, sandbox specs and reports.

Lab and rubric models forbid unknown keys so a typo in an instructor's YAML is an error with a location,
never a silently ignored setting.
"""

from __future__ import annotations

import re
import signal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
# Checks of this type are items for a human reviewer: listed in every report, never in the automatic score.
MANUAL_CHECK_TYPE = "manual"
_MEMORY = re.compile(r"^(\d+)([kmg]?)$", re.IGNORECASE)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_memory(value: str | int) -> int:
    """Turn ``512m``/``1g``/bytes into bytes."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value.strip())
    if not match:
        raise ValueError(f"invalid size {value!r}: use bytes or a number with k, m or g (e.g. 512m)")
    number, unit = match.groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


class Limits(StrictModel):
    """Resource limits for one sandboxed container. Safe defaults; a lab may raise or lower them."""

    memory: str = "1g"
    cpus: float = Field(1.0, gt=0, le=64)
    pids: int = Field(256, ge=16, le=65536)
    timeout: float = Field(300, gt=0, le=3600, description="wall-time limit in seconds")
    tmpfs: str = "256m"
    output: str = Field("256k", description="stdout and stderr kept per stream; the rest is cut with a marker")
    nofile: int = Field(1024, ge=64, le=1048576)
    fsize: str = Field("512m", description="largest file a process may write")

    @field_validator("memory", "tmpfs", "output", "fsize")
    @classmethod
    def _valid_size(cls, value: str) -> str:
        parse_memory(value)
        return value

    def merged(self, overrides: LimitOverrides | None) -> Limits:
        if overrides is None:
            return self
        return self.model_copy(update=overrides.model_dump(exclude_none=True))


class LimitOverrides(StrictModel):
    memory: str | None = None
    cpus: float | None = Field(None, gt=0, le=64)
    pids: int | None = Field(None, ge=16, le=65536)
    timeout: float | None = Field(None, gt=0, le=3600)
    tmpfs: str | None = None
    output: str | None = None
    nofile: int | None = None
    fsize: str | None = None

    @field_validator("memory", "tmpfs", "output", "fsize")
    @classmethod
    def _valid_size(cls, value: str | None) -> str | None:
        if value is not None:
            parse_memory(value)
        return value


# --- labs --------------------------------------------------------------------------------------


class DataMount(StrictModel):
    """Lab data mounted read-only into candidate containers."""

    name: str | None = Field(None, description="name checks use to refer to this data set (e.g. valid)")
    source: str = Field(description="path relative to the lab folder (file or directory)")
    target: str = Field(description="absolute path inside the sandbox")

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("target must be an absolute path inside the sandbox")
        return value


class StepSpec(StrictModel):
    """A one-shot command run in the sandbox's work directory, in order, after the submission is copied in."""

    id: str = Field(pattern=IDENTIFIER)
    title: str | None = None
    run: str = Field(min_length=1, description="shell command, run with sh -c in the work directory")
    needs: list[str] = Field(default_factory=list, description="steps that must succeed first")
    env: dict[str, str] = Field(default_factory=dict)
    network: bool = Field(False, description="join the run's internal network (no route out either way)")
    limits: LimitOverrides | None = None
    artifacts: list[str] = Field(
        default_factory=list, description="paths under the work directory copied out after the step"
    )
    data: list[DataMount] = Field(
        default_factory=list, description="lab data mounted read-only into this step only (e.g. a retraining set)"
    )
    after_services: bool = Field(
        False, description="run once the after-steps services are up and the grader has observed them (e.g. retrain)"
    )


TEMPLATE = r"^\{\{\s*[a-z_]+(\.[a-z_]+)*\s*\}\}$"


class ServiceSpec(StrictModel):
    """A long-running command started as a service, reachable on the run's network by its id.

    ``trusted`` services are the grader's own (e.g. the MLflow server): they get no work area and see
    none of the submission. ``start`` says whether a service starts before or after the steps.
    Values may be ``{{ section.key }}`` templates filled from the submission manifest.
    """

    id: str = Field(pattern=IDENTIFIER)
    run: str = Field(min_length=1)
    port: int | str = Field(description="port number, or a manifest template such as {{ serve.port }}")
    needs: list[str] = Field(default_factory=list, description="steps that must succeed first")
    env: dict[str, str] = Field(default_factory=dict)
    ready_timeout: float | str = Field(30, description="seconds, or a manifest template")
    limits: LimitOverrides | None = None
    trusted: bool = False
    start: Literal["before-steps", "after-steps"] = "after-steps"
    image: Literal["lab", "built"] = Field(
        "lab", description="lab: the lab's image and ``run``; built: the image built from the submission (lab "
        "``build``), with its own CMD and WORKDIR (``run`` is then only shown)",
    )

    @field_validator("port", "ready_timeout")
    @classmethod
    def _number_or_template(cls, value: int | float | str) -> int | float | str:
        if isinstance(value, str) and not re.match(TEMPLATE, value):
            raise ValueError("must be a number or a template such as {{ serve.port }}")
        if isinstance(value, int | float) and not 0 < value <= 65535:
            raise ValueError("must be between 1 and 65535")
        return value


class DependencyPolicy(StrictModel):
    """Whether and how the submission's own requirements are installed before its steps run."""

    install: bool = Field(False, description="resolve and install the submission's requirements")
    skip: list[str] = Field(default_factory=list, description="packages grading never needs (globs: jupyter*)")
    on_failure: Literal["continue", "stop"] = Field(
        "continue", description="continue: go on with the lab's runtime stack; stop: skip every step"
    )


class SandboxPolicy(StrictModel):
    """Which OCI runtime runs every container of the lab. ``runsc`` (gVisor) puts a user-space kernel
    between candidate code and the host's kernel; the engine must offer it (``docker info``, Runtimes)."""

    runtime: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="OCI runtime the engine offers, e.g. runsc (gVisor); unset: the engine's default",
    )
    require: bool = Field(
        False, description="refuse to grade (exit 3) when the engine does not offer runtime, instead of falling "
        "back to the engine's default",
    )

    @model_validator(mode="after")
    def _require_names_a_runtime(self) -> SandboxPolicy:
        if self.require and not self.runtime:
            raise ValueError("require: true needs a runtime, e.g. runtime: runsc")
        return self


class Task(StrictModel):
    """The prediction task, for checks that score models: label column and feature columns in order."""

    label: str
    features: list[str] = Field(min_length=1)


class BuildSpec(StrictModel):
    """The submission's own image, built by the engine after the steps: no network, the lab's limits, labelled
    with the run (removed at teardown). Reported as a step named ``id``; services with ``image: built`` run it."""

    id: str = Field("build", pattern=IDENTIFIER, description="step id of the build in the report and in ``needs``")
    dockerfile: str = Field("{{ deploy.dockerfile }}", description="Dockerfile path in the submission, or a template")
    base_images: dict[str, str] = Field(
        default_factory=dict,
        description="FROM image → what to build on instead: the lab's image definition name (e.g. runtime) or an "
        "image reference. Builds have no registry here; leave it empty where the real bases can be pulled",
    )
    limits: LimitOverrides | None = None


class Lab(StrictModel):
    """A lab: what runs in the sandbox and which rubric grades it."""

    id: str = Field(pattern=IDENTIFIER)
    version: str = "1"
    title: str
    summary: str = ""
    rubric: str = Field(description="rubric name in rubrics/ or a path relative to the lab folder")
    image: str = Field("runtime", description="sandbox image definition in sandboxes/")
    limits: Limits = Limits()
    data: list[DataMount] = Field(default_factory=list)
    steps: list[StepSpec] = Field(default_factory=list)
    services: list[ServiceSpec] = Field(default_factory=list)
    build: BuildSpec | None = Field(None, description="build the submission's Dockerfile after the steps")
    reference: str = Field("reference", description="folder of the reference solution")
    task: Task | None = None
    dependencies: DependencyPolicy = DependencyPolicy()
    sandbox: SandboxPolicy = SandboxPolicy()
    retry_on_infrastructure_error: int = Field(
        0, ge=0, le=3,
        description="times a run that ended in an infrastructure error (e.g. the engine lost mid-run) is graded "
        "again from the start, once the engine answers",
    )
    hidden: dict[str, str] = Field(
        default_factory=dict,
        description="hidden data sets (name → path in the lab folder); never mounted where candidate code runs",
    )
    manifest: dict[str, Any] = Field(
        default_factory=dict, description="defaults for the submission manifest (capstone.yaml)"
    )

    def dataset_path(self, name: str) -> str | None:
        """Lab-relative path of a public (``data``) or hidden data set by name."""
        for mount in self.data:
            if mount.name == name:
                return mount.source
        return self.hidden.get(name)

    def reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-references that do not resolve, as (key path, message) pairs."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        earlier_steps: set[str] = set()
        items: list[tuple[str, int, StepSpec | ServiceSpec]] = [("steps", i, s) for i, s in enumerate(self.steps)]
        items += [("services", i, s) for i, s in enumerate(self.services)]
        for kind, index, item in items:
            if item.id in seen:
                problems.append(((kind, index, "id"), f"id {item.id!r} is used twice"))
            built = {self.build.id} if self.build and kind == "services" else set()
            unknown = [n for n in item.needs if n not in earlier_steps | built]
            if unknown:
                problems.append(((kind, index, "needs"), f"{item.id!r} needs {unknown}, which is not an earlier step"))
            seen.add(item.id)
            if kind == "steps":
                earlier_steps.add(item.id)
        problems += self._late_step_problems()
        return problems

    def _late_step_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Steps run in the order written, so ``after_services`` steps come last; no service can wait for them."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        late = {s.id for s in self.steps if s.after_services}
        first_late = next((i for i, s in enumerate(self.steps) if s.after_services), len(self.steps))
        for index, step in enumerate(self.steps[first_late:], start=first_late):
            if not step.after_services:
                problems.append((("steps", index, "after_services"),
                                 f"step {step.id!r} runs before the services but is written after a step that runs "
                                 "after them: put after_services steps last"))
        for index, service in enumerate(self.services):
            waits_for = sorted(late & set(service.needs))
            if waits_for:
                problems.append((("services", index, "needs"),
                                 f"{service.id!r} needs {waits_for}, which run after the services start"))
        return problems


# --- rubrics -----------------------------------------------------------------------------------


class Visibility(StrEnum):
    public = "public"
    hidden = "hidden"


class CheckSpec(BaseModel):
    """One rubric item. Keys other than the common ones are the check type's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=IDENTIFIER)
    title: str
    type: str
    points: float = Field(ge=0)
    needs: list[str] = Field(default_factory=list)
    visibility: Visibility = Visibility.public
    hint: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Section(StrictModel):
    id: str = Field(pattern=IDENTIFIER)
    title: str
    checks: list[CheckSpec] = Field(min_length=1)


class Rubric(StrictModel):
    """Sections of checks. A submission passes when its score reaches ``pass_mark`` of the maximum."""

    id: str = Field(pattern=IDENTIFIER)
    version: str = "1"
    title: str
    pass_mark: float = Field(0.6, ge=0, le=1, description="fraction of max_score needed to pass")
    sections: list[Section] = Field(min_length=1)

    def reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Duplicate ids and ``needs`` that do not name an earlier check, as (key path, message) pairs."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for section_index, section in enumerate(self.sections):
            for check_index, check in enumerate(section.checks):
                location: tuple[str | int, ...] = ("sections", section_index, "checks", check_index)
                if check.id in seen:
                    problems.append(((*location, "id"), f"check id {check.id!r} is used twice"))
                unknown = [n for n in check.needs if n not in seen]
                if unknown:
                    problems.append(((*location, "needs"),
                                     f"check {check.id!r} needs {unknown}: needs must name earlier checks"))
                seen.add(check.id)
        return problems

    @property
    def checks(self) -> list[CheckSpec]:
        return [c for s in self.sections for c in s.checks]

    @property
    def max_score(self) -> float:
        """The automatic maximum: manual items are scored by a reviewer, outside it."""
        return sum(c.points for c in self.checks if c.type != MANUAL_CHECK_TYPE)

    @property
    def review_points(self) -> float:
        """Points a reviewer may award on the manual items."""
        return sum(c.points for c in self.checks if c.type == MANUAL_CHECK_TYPE)

    def section_of(self, check_id: str) -> str:
        return next(s.id for s in self.sections if any(c.id == check_id for c in s.checks))


# --- results -----------------------------------------------------------------------------------


class Status(StrEnum):
    passed = "pass"
    failed = "fail"
    error = "error"
    skipped = "skip"
    manual = "manual"  # needs a reviewer: not decided by the grader, not in the automatic score


# What the sandbox's limits make a shell report as exit code 128 + signal: named so a report says why.
_SIGNAL_MEANINGS = {
    "SIGKILL": "killed", "SIGXFSZ": "file size limit exceeded", "SIGXCPU": "CPU time limit exceeded",
    "SIGSEGV": "segmentation fault", "SIGABRT": "aborted", "SIGTERM": "terminated", "SIGPIPE": "broken pipe",
}


def describe_exit_code(code: int | None) -> str:
    """``exited with code N``, naming the signal when N is 128 + a signal number (how a shell reports a killed
    command), e.g. ``exited with code 153 (SIGXFSZ: file size limit exceeded)``."""
    text = f"exited with code {code}"
    if code is None or not 128 < code < 128 + signal.NSIG:
        return text
    try:
        name = signal.Signals(code - 128).name
    except ValueError:
        return text
    meaning = _SIGNAL_MEANINGS.get(name)
    return f"{text} ({name}: {meaning})" if meaning else f"{text} ({name})"


class StepResult(BaseModel):
    """What a sandboxed command did. Output is capped; ``*_truncated`` says how much was cut."""

    id: str
    command: str
    exit_code: int | None
    duration_s: float
    time_limit_s: float | None = Field(None, description="the wall-time limit it ran under")
    timed_out: bool = False
    oom_killed: bool = False
    skipped_reason: str | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: int = 0
    stderr_truncated: int = 0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.skipped_reason is None

    @property
    def failure_reason(self) -> str | None:
        if self.skipped_reason:
            return f"skipped: {self.skipped_reason}"
        if self.timed_out and self.time_limit_s:
            # The limit, not the measured time: killing and reaping add a fraction of a second.
            return f"timed out after {self.time_limit_s:g}s"
        if self.timed_out:
            return f"timed out after {self.duration_s:.0f}s"
        if self.oom_killed:
            return "killed: out of memory"
        if self.exit_code != 0:
            return describe_exit_code(self.exit_code)
        return None


class ServiceResult(BaseModel):
    id: str
    ready: bool
    message: str
    ready_after_s: float | None = None
    log_tail: str = ""


class CheckOutcome(BaseModel):
    """What a check type returns; the runner adds the rubric's identity and points to make a CheckResult."""

    status: Status
    message: str
    score_fraction: float = Field(1.0, ge=0, le=1, description="share of the points earned when it passes")
    evidence: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def passed(cls, message: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.passed, message=message, evidence=evidence)

    @classmethod
    def failed(cls, message: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.failed, message=message, score_fraction=0, evidence=evidence)

    @classmethod
    def partial(cls, fraction: float, message: str, /, **evidence: Any) -> CheckOutcome:
        status = Status.passed if fraction >= 1 else Status.failed
        return cls(status=status, message=message, score_fraction=max(0.0, min(1.0, fraction)), evidence=evidence)

    @classmethod
    def skipped(cls, message: str) -> CheckOutcome:
        return cls(status=Status.skipped, message=message, score_fraction=0)

    @classmethod
    def errored(cls, message: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.error, message=message, score_fraction=0, evidence=evidence)

    @classmethod
    def for_review(cls, instructions: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.manual, message=instructions, score_fraction=0, evidence=evidence)


class CheckResult(BaseModel):
    id: str
    title: str
    section: str
    type: str
    status: Status
    points: float
    max_points: float
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    visibility: Visibility = Visibility.public
    hint: str | None = None
    duration_s: float = 0.0


class SubmissionInfo(BaseModel):
    source: str
    kind: Literal["directory", "git", "archive"]
    digest: str
    ref: str | None = None
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
