"""The dependency step's outcome: what it read, what ran, and — when it failed — the resolver's own reason, so a
reviewer can tell an environment failure from a candidate's bug (report.json ``dependencies``, report.md)."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any, Literal

from grader.run.dependencies.build import ENV_DIR
from grader.run.dependencies.requirements import canonicalize_name
from grader.sandbox.base import Mount

PYTHON_VERSION = "3.11"  # the sandbox images' interpreter (Debian bookworm's python3)

Status = Literal["none", "installed", "failed"]


@dataclass(frozen=True)
class DependencyOutcome:
    """What the dependency step found and did, for the report and for the candidate's later containers.

    ``none``: no requirement file the grader reads (the run uses the lab's runtime stack); ``installed``: the
    set resolved to ``lock`` and its environment is ready (``env`` puts it first on PATH, ``mounts`` under the
    containers); ``failed``: ``reason`` is the resolver's (or the step's) own reason, ``failed_requirements`` the
    requirements it names; ``env`` is empty, so the run can go on with the lab's runtime stack.
    """

    status: Status
    message: str
    requirement_files: list[str] = field(default_factory=list)  # the sources the set was read from, in order
    origin: str = "discovered"  # "manifest": the files the manifest's dependencies.files names
    lock_file: str | None = None  # the lock that decided the versions (Pipfile.lock, uv.lock, poetry.lock)
    digest: str | None = None
    reason: str = ""  # why it failed, in the resolver's words
    failed_requirements: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)  # what was tried instead, and why
    log_tail: str = ""
    env: dict[str, str] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    constraints: int = 0  # pins of a lock file the set was resolved under
    injected: list[str] = field(default_factory=list)
    adjustments: list[str] = field(default_factory=list)  # what the grader's site hooks change in the environment
    lock: list[str] = field(default_factory=list)  # name==version of every package in the environment
    cutoff: str | None = None  # nothing newer than this was resolved (the submission's last commit)
    python: str = PYTHON_VERSION  # the Python that ran
    python_requested: str | None = None  # the Python the manifest or the candidate's files ask for
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)  # requirements left to the lock file's pin
    cached: bool = False
    environment_dir: InitVar[Path | None] = None

    def __post_init__(self, environment_dir: Path | None) -> None:
        # Kept out of the dataclass fields (and so out of asdict, the report and check evidence): a host path.
        object.__setattr__(self, "_environment_dir", environment_dir)

    def mounts(self) -> tuple[Mount, ...]:
        """The read-only mount of the environment every container that uses it needs (none when there is none)."""
        host: Path | None = getattr(self, "_environment_dir", None)
        return (Mount(host, ENV_DIR),) if host is not None and self.status == "installed" else ()

    def evaluator_python(self) -> str | None:
        """The interpreter the model evaluator loads the candidate's model with: the environment's, when it holds
        MLflow (the evaluator needs nothing else), else None (the image's own)."""
        names = {canonicalize_name(pin.partition("==")[0]) for pin in self.lock}
        return f"{ENV_DIR}/bin/python" if self.mounts() and {"mlflow", "pandas"} <= names else None

    def version_of(self, package: str) -> str | None:
        """The version of ``package`` in the environment (None when it is not there)."""
        wanted = canonicalize_name(package)
        return next((pin.partition("==")[2] for pin in self.lock
                     if canonicalize_name(pin.partition("==")[0]) == wanted), None)

    def for_report(self) -> dict[str, Any]:
        """The outcome as the report shows it (no environment variables, no host paths)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if name not in ("env", "environment_dir")}
