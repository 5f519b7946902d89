"""The dependency step: the submission's requirement set → a cached virtual environment of its own → the
environment variables and the read-only mount that put it under every candidate container (and the model
evaluator), and an outcome that says which versions ran.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from grader.models import Limits
from grader.run.dependencies.build import ENV_DIR, BuildReport, run_build, take_environment
from grader.run.dependencies.index import IndexSettings, host_index_settings
from grader.run.dependencies.requirements import Requirement, RequirementSet, canonicalize_name, read_requirements
from grader.run.dependencies.resolver_output import explain_build_failure
from grader.sandbox.base import Mount, Sandbox

PYTHON_VERSION = "3.11"  # the sandbox images' interpreter (Debian bookworm's python3)
# For the dependency container: resolving, downloading and building need room (tmpfs counts against memory;
# uv's cache goes to a folder on disk instead).
DEPENDENCY_LIMITS = Limits(memory="2g", cpus=2, pids=512, timeout=900, tmpfs="512m", fsize="2g", output="1m")
# Bump when the way environments are built changes: older cache entries are then never used.
ENV_LAYOUT = "uv-venv-2"
ENV_CACHE = "candidate-envs"
LOCK_FILE = "lock.json"
LOG_TAIL_CHARS = 4000
# What a fresh `python3.11 -m venv` holds and what the grader runs in the environment, added when the candidate
# does not name them. setuptools stays below 81 because MLflow 2.x imports pkg_resources, which 81 removed.
INJECTED = {"pip": "pip", "setuptools": "setuptools<81", "pytest": "pytest"}
# Directories of the runtime image the environment's bin goes in front of; the image's own Python stack
# (/opt/venv/bin) is left out, so nothing of it is found by name either.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Status = Literal["none", "installed", "failed"]


@dataclass(frozen=True)
class DependencyOutcome:
    """What the dependency step found and did, for the report and for the candidate's later containers.

    ``none``: no requirement file the grader reads (the run uses the lab's runtime stack); ``installed``: the
    set resolved to ``lock`` and its environment is ready (``env`` puts it first on PATH, ``mounts`` under the
    containers); ``failed``: ``failed_requirements`` and ``message`` give the resolver's reason, ``env`` is empty,
    so the run can go on with the lab's runtime stack.
    """

    status: Status
    message: str
    requirement_files: list[str] = field(default_factory=list)
    digest: str | None = None
    failed_requirements: list[str] = field(default_factory=list)
    log_tail: str = ""
    env: dict[str, str] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    constraints: int = 0  # pins of a lock file the set was resolved under
    injected: list[str] = field(default_factory=list)
    lock: list[str] = field(default_factory=list)  # name==version of every package in the environment
    cutoff: str | None = None  # nothing newer than this was resolved (the submission's last commit)
    python: str = PYTHON_VERSION
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
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

    def for_report(self) -> dict[str, Any]:
        """The outcome as the report shows it (no environment variables, no host paths)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if name not in ("env", "environment_dir")}


# --- the step ---------------------------------------------------------------------------------------------


def prepare_dependencies(
    sandbox: Sandbox, submission_dir: Path, cache_dir: Path, *, image: str, limits: Limits,
    skip: Sequence[str] = (), runtime_requirements: Path | None = None, index: IndexSettings | None = None,
    as_of: datetime | None = None, python_version: str = PYTHON_VERSION,
) -> DependencyOutcome:
    """Resolve the submission's own requirements and build (or reuse) a virtual environment holding only them.

    ``skip`` names packages (globs allowed: ``jupyter*``) the lab never needs for grading; ``as_of`` is the cut-off
    (the submission's last commit): nothing newer is resolved, unless the set resolves only without it (then the
    message says so); ``index`` defaults to the host's pip configuration. ``runtime_requirements`` is accepted for
    older callers and not read: the runtime image's stack never meets a candidate's set any more. Environments are
    cached under ``cache_dir/candidate-envs/<digest>``. A candidate's fault is a ``failed`` outcome, never an
    exception; an unreachable index raises InfrastructureError.
    """
    del runtime_requirements
    found = read_requirements(submission_dir, skip)
    if not found.files:
        notes = "; ".join(found.notes)
        return _outcome(found, "none", "no requirements.txt, Pipfile(.lock) or pyproject.toml dependencies"
                        + (f" ({notes})" if notes else "") + ": graded with the lab's runtime stack")
    if found.invalid:
        return _outcome(found, "failed", "; ".join(why for _, why in found.invalid),
                        failed_requirements=[text for text, _ in found.invalid])
    named = {canonicalize_name(Requirement(line).name) for line in found.requirements}
    injected = [line for name, line in INJECTED.items() if name not in named]
    cutoff = cutoff_text(as_of)
    digest = environment_key([*found.requirements, *injected], found.constraints, python_version, cutoff)
    entry = cache_dir / ENV_CACHE / digest
    common = {"digest": digest, "injected": injected, "constraints": len(found.constraints), "python": python_version}
    report, cached = read_cached(entry), True
    if report is None:
        cached = False
        failure = _build(sandbox, found, injected, entry, cutoff=cutoff, python_version=python_version, image=image,
                         limits=limits, index=index or host_index_settings())
        if isinstance(failure, tuple):
            return _outcome(found, "failed", failure[0], failed_requirements=failure[1], log_tail=failure[2],
                            cutoff=cutoff, **common)
        report = failure
    return _installed(found, report, entry, cached, common)


def _build(
    sandbox: Sandbox, found: RequirementSet, injected: list[str], entry: Path, *, cutoff: str | None,
    python_version: str, image: str, limits: Limits, index: IndexSettings,
) -> BuildReport | tuple[str, list[str], str]:
    """Build the environment into the cache; its report, or (reason, failed requirements, log tail)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    # Private (0700): other host users cannot reach the world-writable folders the container writes in.
    scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}-", dir=entry.parent))
    try:
        text = found.text() + "".join(f"{line}\n" for line in injected)
        result, report, built = run_build(sandbox, scratch, text, found.constraints_text(), cutoff=cutoff,
                                          python_version=python_version, image=image, limits=limits, index=index)
        log = (result.stdout + result.stderr)[-LOG_TAIL_CHARS:]
        if report is None or report.stage != "done":
            reason, failed = explain_build_failure(result, report, found.requirements + injected)
            return reason, failed, log
        refusal = take_environment(built, scratch / "env-taken")
        if refusal is not None:
            return f"the dependency step's output was refused: {refusal}", [], log
        (scratch / LOCK_FILE).write_text(_lock_json(report))
        _publish(scratch, entry)
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _publish(scratch: Path, entry: Path) -> None:
    """Move a complete environment into the cache; a concurrent run that got there first wins."""
    staged = scratch / "entry"
    staged.mkdir(mode=0o755)
    (scratch / "env-taken").rename(staged / "env")
    (scratch / LOCK_FILE).rename(staged / LOCK_FILE)
    if entry.exists() and not (entry / LOCK_FILE).is_file():
        shutil.rmtree(entry)
    try:
        staged.rename(entry)
    except OSError:
        if not (entry / LOCK_FILE).is_file():
            raise


def read_cached(entry: Path) -> BuildReport | None:
    """The report of a complete cache entry (its lock file is written last), or None."""
    try:
        data = json.loads((entry / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not (entry / "env" / "bin").is_dir():
        return None
    return BuildReport(stage="done", lock=list(data.get("lock", [])), cutoff=data.get("cutoff"),
                       cutoff_dropped=data.get("cutoff_dropped"))


def _lock_json(report: BuildReport) -> str:
    return json.dumps({"lock": report.lock, "cutoff": report.cutoff, "cutoff_dropped": report.cutoff_dropped},
                      indent=1)


def _installed(found: RequirementSet, report: BuildReport, entry: Path, cached: bool,
               common: dict[str, Any]) -> DependencyOutcome:
    source = f"{', '.join(found.files)}{' (cached environment)' if cached else ''}"
    message = f"{len(report.lock)} package(s) resolved from {source} and installed in an environment of their own"
    if report.cutoff:
        message += f", nothing newer than {report.cutoff}"
    elif report.cutoff_dropped:
        message += (", resolved without the cut-off date because with it the resolver said: "
                    + _first_line(report.cutoff_dropped))
    if common["injected"]:
        message += f"; added for grading: {', '.join(common['injected'])}"
    env = {"PATH": f"{ENV_DIR}/bin:{SYSTEM_PATH}", "VIRTUAL_ENV": ENV_DIR}
    return _outcome(found, "installed", message, lock=report.lock, cutoff=report.cutoff, cached=cached, env=env,
                    environment_dir=entry / "env", **common)


def _outcome(found: RequirementSet, status: Status, message: str, **fields: Any) -> DependencyOutcome:
    """An outcome carrying what was read, with the skipped and ignored lines appended to the message."""
    return DependencyOutcome(status, message + _notes(found), requirement_files=found.files,
                             requirements=found.requirements, skipped=found.skipped, ignored=found.ignored,
                             **fields)


# --- the cache key and the cut-off ------------------------------------------------------------------------------


def environment_key(requirements: Sequence[str], constraints: Sequence[str], python_version: str,
                    cutoff: str | None) -> str:
    """sha256 of what decides an environment: the normalised requirements (in any order), the lock's pins, the
    Python version, the cut-off date and the way environments are built."""
    lines = [f"layout {ENV_LAYOUT}", f"python {python_version}", f"cutoff {cutoff or 'none'}"]
    lines += [f"requirement {line}" for line in sorted(set(requirements))]
    lines += [f"constraint {line}" for line in sorted(set(constraints))]
    return hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()


def cutoff_text(as_of: datetime | None) -> str | None:
    """``as_of`` as uv's ``--exclude-newer`` takes it (RFC 3339, UTC, whole seconds); a naive time is UTC."""
    if as_of is None:
        return None
    moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolution_cutoff(resolve_as_of: str, committed_at: str | None) -> datetime | None:
    """The cut-off a lab's policy gives a submission: its last commit's time (``last-commit``) when intake knows
    it (a git submission), else none (``now``, or a folder or archive, which carry no trustworthy date)."""
    if resolve_as_of != "last-commit" or not committed_at:
        return None
    try:
        return datetime.fromisoformat(committed_at)
    except ValueError:
        return None


# --- messages -------------------------------------------------------------------------------------------------


def _notes(found: RequirementSet) -> str:
    parts = []
    if found.skipped:
        parts.append(f"skipped as not needed for grading: {', '.join(found.skipped)}")
    if found.ignored:
        parts.append(f"ignored: {'; '.join(found.ignored)}")
    return "".join(f"; {part}" for part in parts)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]
