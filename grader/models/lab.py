"""The lab: what runs in the sandbox (steps, services, data, build) and which rubric grades it.

Lab models forbid unknown keys so a typo in an instructor's YAML is an error with a location, never a
silently ignored setting."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from grader.models.limits import IDENTIFIER, LimitOverrides, Limits, StrictModel

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
    needs_success: bool = Field(
        True, description="false: start once the needed steps have run, whatever they did (a server that serves a "
        "committed model is graded on what it serves even when training failed)",
    )
    env: dict[str, str] = Field(default_factory=dict)
    ready_timeout: float | str = Field(30, description="seconds, or a manifest template")
    ready_http: str | None = Field(
        None, description="path (or template, e.g. {{ serve.predict_path }}) that must answer HTTP (any status) "
        "before the service counts as ready; unset: an accepted connection is enough",
    )
    limits: LimitOverrides | None = None
    trusted: bool = False
    start: Literal["before-steps", "after-steps"] = "after-steps"
    image: Literal["lab", "built"] = Field(
        "lab", description="lab: the lab's image and ``run``; built: the image built from the submission (lab "
        "``build``), with its own CMD and WORKDIR (``run`` is then only shown)",
    )
    aliases: list[str] = Field(
        default_factory=list, description="more host names it answers to on the run network (e.g. mlflow-server, "
        "tracking), for code that hard-codes another name",
    )
    extra_ports: list[int] = Field(
        default_factory=list, description="more ports it answers on, relayed to ``port`` inside its container (a "
        "number ``port``, lab image only)",
    )
    loopback_ports: list[int] = Field(
        default_factory=list, description="ports on which the candidate's networked steps and services reach it "
        "at 127.0.0.1 and localhost, for code that hard-codes a local address (a port a candidate service "
        "listens on itself is left to it)",
    )

    @field_validator("aliases")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(r"^[a-z0-9][a-z0-9_-]{0,62}$", name):
                raise ValueError(f"{name!r} is not a host name: lowercase letters, digits, - and _")
        return value

    @field_validator("extra_ports", "loopback_ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        for port in value:
            if not 0 < port <= 65535:
                raise ValueError(f"port {port} is not between 1 and 65535")
        return value

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
    resolve_as_of: Literal["last-commit", "now"] = Field(
        "last-commit", description="last-commit: resolve no package newer than the submission's last commit (a git "
        "submission; folders and archives carry no date); now: the newest versions that satisfy the requirements",
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


class PatchedReference(StrictModel):
    """A reference solution written as changes to another one (usually another lab's), the way a variant
    is: ``base`` minus ``remove``, with ``patch`` applied and ``files`` copied over. The lab then keeps only
    what differs."""

    base: str = Field(description="folder of the reference this one changes, relative to the lab folder")
    patch: str | None = Field(
        None, description="unified diff against base (applied with git apply -p1), relative to the lab folder"
    )
    remove: list[str] = Field(default_factory=list, description="base paths deleted before the patch")
    files: str | None = Field(
        None, description="folder copied over the result last (files the base lacks), relative to the lab folder"
    )


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
    reference: str | PatchedReference = Field(
        "reference",
        description="folder of the reference solution, or {base, patch, remove}: another reference changed",
    )
    task: Task | None = None
    manifest_task: bool = Field(
        False, description="a submission's manifest may describe its own task (task: data, features, label, request "
        "body, where the prediction is); the lab's task is then only the default. Never for labs with hidden data",
    )
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

    @model_validator(mode="after")
    def _hidden_data_stays_the_task(self) -> Lab:
        if self.manifest_task and self.hidden:
            raise ValueError("manifest_task: true in a lab with hidden data: a submission's own task would bypass the "
                             "hidden rows")
        return self

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
