"""The dependency step: the submission's requirement sources (``discovery``) → one requirement set
(``reading``) → a cached virtual environment of its own (``build``, ``cache``) → the environment variables and the
read-only mount that put it under every candidate container (and the model evaluator), and an outcome that says
which sources and versions ran, what was tried instead, and why a failure failed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.models import Limits
from grader.run.dependencies.build import ENV_DIR, BuildReport, run_build, take_environment
from grader.run.dependencies.cache import (
    ENV_CACHE,
    LOCK_FILE,
    environment_key,
    evict,
    lock_json,
    publish,
    read_cached,
)
from grader.run.dependencies.discovery import DependencySources, declared_python, discover_sources
from grader.run.dependencies.index import IndexSettings, host_index_settings
from grader.run.dependencies.outcome import PYTHON_VERSION, DependencyOutcome, Status
from grader.run.dependencies.reading import read_sources
from grader.run.dependencies.requirements import Requirement, RequirementSet, canonicalize_name
from grader.run.dependencies.resolver_output import explain_build_failure
from grader.run.dependencies.site_hooks import HOOKS, environment_defaults, install_site_hooks
from grader.sandbox.base import Sandbox

# For the dependency container: resolving, downloading and building need room (tmpfs counts against memory;
# uv's cache goes to a folder on disk instead).
DEPENDENCY_LIMITS = Limits(memory="2g", cpus=2, pids=512, timeout=900, tmpfs="512m", fsize="2g", output="1m")
LOG_TAIL_CHARS = 4000
# What a fresh `python3.11 -m venv` holds and what the grader runs in the environment, added when the candidate
# does not name them. setuptools stays below 81 because MLflow 2.x imports pkg_resources, which 81 removed.
INJECTED = {"pip": "pip", "setuptools": "setuptools<81", "pytest": "pytest"}
# Directories of the runtime image the environment's bin goes in front of; the image's own Python stack
# (/opt/venv/bin) is left out, so nothing of it is found by name either.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class DependencyWish:
    """What the manifest's ``dependencies`` section asks: the sources to read instead of discovering them,
    requirements to add, the Python the code was written for."""

    files: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    python: str | None = None


@dataclass(frozen=True)
class _Build:
    """Where one attempt at an environment ended: its report and cache entry, or why it failed."""

    found: RequirementSet
    report: BuildReport | None = None
    entry: Path | None = None
    cached: bool = False
    digest: str = ""
    injected: tuple[str, ...] = ()
    reason: str = ""
    failed: tuple[str, ...] = ()
    log: str = ""


def prepare_dependencies(
    sandbox: Sandbox, submission_dir: Path, cache_dir: Path, *, image: str, limits: Limits,
    skip: Sequence[str] = (), runtime_requirements: Path | None = None, index: IndexSettings | None = None,
    as_of: datetime | None = None, python_version: str = PYTHON_VERSION, commands: Sequence[str] = (),
    wish: DependencyWish | None = None,
) -> DependencyOutcome:
    """Resolve the submission's own requirements and build (or reuse) a virtual environment holding only them.

    The sources are discovered (lock files first, else the root requirement files and pyproject.toml together,
    plus requirement files beside the folders ``commands`` run in) unless ``wish.files`` names them. ``skip``
    names packages (globs allowed: ``jupyter*``) the lab never needs for grading; ``as_of`` is the cut-off (the
    submission's last commit): nothing newer is resolved, unless the set resolves only without it (then the
    message says so). A lock that does not install (e.g. written for another Python) is replaced by its unpinned
    spec, resolved as of the cut-off, and the outcome says so. ``index`` defaults to the host's pip
    configuration; ``runtime_requirements`` is accepted for older callers and not read. Environments are cached
    under ``cache_dir/candidate-envs/<digest>``. A candidate's fault is a ``failed`` outcome, never an exception;
    an unreachable index raises InfrastructureError.
    """
    del runtime_requirements
    wish = wish or DependencyWish()
    root = submission_dir.resolve()
    sources = discover_sources(root, commands, wish.files)
    common: dict[str, Any] = {"origin": sources.origin, "lock_file": sources.lock, "python": python_version,
                              "python_requested": wish.python or declared_python(root)}
    found = read_sources(root, sources, skip, extra=wish.extra)
    if sources.missing:
        reason = f"dependencies.files names {', '.join(sources.missing)}, not a file in the submission"
        return _outcome(found, "failed", reason, reason=reason, **common)
    if not found.files and not found.requirements:
        notes = "; ".join(found.notes)
        return _outcome(found, "none", "no requirements.txt, Pipfile(.lock) or pyproject.toml dependencies"
                        + (f" ({notes})" if notes else "") + ": graded with the lab's runtime stack", **common)
    if found.invalid:
        reason = "; ".join(why for _, why in found.invalid)
        return _outcome(found, "failed", reason, reason=reason,
                        failed_requirements=[text for text, _ in found.invalid], **common)
    cutoff = cutoff_text(as_of)
    def environment(requirement_set: RequirementSet) -> _Build:
        return _environment(requirement_set, sandbox=sandbox, cache_dir=cache_dir, cutoff=cutoff,
                            python_version=python_version, image=image, limits=limits, index=index)

    attempt = environment(found)
    fallbacks: list[str] = []
    if attempt.report is None and sources.lock and sources.unpinned:
        unpinned = read_sources(root, sources, skip, extra=wish.extra, unpinned=True)
        if unpinned.requirements and not unpinned.invalid:
            fallbacks.append(_fallback_note(sources, python_version, common["python_requested"], cutoff,
                                            attempt.reason))
            attempt = environment(unpinned)
            common["lock_file"] = None
    if attempt.report is None:
        return _outcome(attempt.found, "failed", attempt.reason, reason=attempt.reason, fallbacks=fallbacks,
                        failed_requirements=list(attempt.failed), log_tail=attempt.log, cutoff=cutoff,
                        digest=attempt.digest or None, injected=list(attempt.injected),
                        constraints=len(attempt.found.constraints), **common)
    return _installed(attempt, fallbacks, common)


def _environment(found: RequirementSet, *, sandbox: Sandbox, cache_dir: Path, cutoff: str | None,
                 python_version: str, image: str, limits: Limits, index: IndexSettings | None) -> _Build:
    """The cached environment of ``found``, built when there is none."""
    named = {canonicalize_name(Requirement(line).name) for line in found.requirements}
    injected = tuple(line for name, line in INJECTED.items() if name not in named)
    digest = environment_key([*found.requirements, *injected], found.constraints, python_version, cutoff)
    entry = cache_dir / ENV_CACHE / digest
    report = read_cached(entry)
    if report is not None:
        return _Build(found, report, entry, cached=True, digest=digest, injected=injected)
    failure = _build(sandbox, found, injected, entry, cutoff=cutoff, python_version=python_version, image=image,
                     limits=limits, index=index or host_index_settings())
    if isinstance(failure, tuple):
        reason, failed, log = failure
        return _Build(found, digest=digest, injected=injected, reason=reason, failed=tuple(failed), log=log)
    return _Build(found, failure, entry, digest=digest, injected=injected)


def _build(
    sandbox: Sandbox, found: RequirementSet, injected: Sequence[str], entry: Path, *, cutoff: str | None,
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
            reason, failed = explain_build_failure(result, report, [*found.requirements, *injected])
            return reason, failed, log
        refusal = take_environment(built, scratch / "env-taken")
        if refusal is not None:
            return f"the dependency step's output was refused: {refusal}", [], log
        install_site_hooks(scratch / "env-taken")
        (scratch / LOCK_FILE).write_text(lock_json(report))
        publish(scratch, entry)
        evict(entry.parent, keep=entry)
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _installed(attempt: _Build, fallbacks: list[str], common: dict[str, Any]) -> DependencyOutcome:
    report, found = attempt.report, attempt.found
    assert report is not None and attempt.entry is not None
    source = f"{', '.join(found.files)}{' (cached environment)' if attempt.cached else ''}"
    message = f"{len(report.lock)} package(s) resolved from {source} and installed in an environment of their own"
    if report.cutoff:
        message += f", nothing newer than {report.cutoff}"
    elif report.cutoff_dropped:
        message += (", resolved without the cut-off date because with it the resolver said: "
                    + _first_line(report.cutoff_dropped))
    if attempt.injected:
        message += f"; added for grading: {', '.join(attempt.injected)}"
    message += "".join(f"; {note}" for note in fallbacks)
    requested = common["python_requested"]
    if requested and requested != common["python"]:
        message += f"; Python {requested} asked for, {common['python']} ran (the sandbox images carry no other)"
    packages = {str(canonicalize_name(pin.partition("==")[0])) for pin in report.lock}
    defaults, adjustments = environment_defaults(packages)
    env = {**defaults, "PATH": f"{ENV_DIR}/bin:{SYSTEM_PATH}", "VIRTUAL_ENV": ENV_DIR}
    adjustments = (list(HOOKS.values()) if _mlflow_major(report.lock) >= 3 else []) + adjustments
    adjustments += [f"{line} (the same module, prebuilt: building it needs system headers the sandbox lacks)"
                    for line in found.substituted]
    return _outcome(found, "installed", message, lock=report.lock, cutoff=report.cutoff, cached=attempt.cached,
                    env=env, environment_dir=attempt.entry / "env", digest=attempt.digest,
                    injected=list(attempt.injected), constraints=len(found.constraints), fallbacks=fallbacks,
                    adjustments=adjustments, **common)


def _outcome(found: RequirementSet, status: Status, message: str, **fields: Any) -> DependencyOutcome:
    """An outcome carrying what was read, with the skipped and ignored lines appended to the message."""
    return DependencyOutcome(status, message + _notes(found), requirement_files=found.files,
                             requirements=found.requirements, skipped=found.skipped, ignored=found.ignored,
                             overridden=found.overridden, **fields)


def _fallback_note(sources: DependencySources, python: str, requested: str | None, cutoff: str | None,
                   reason: str) -> str:
    written_for = f" (written for Python {requested})" if requested and requested != python else ""
    when = f" as of {cutoff}" if cutoff else " (no cut-off date: the newest versions that satisfy it)"
    return (f"{sources.lock}{written_for} did not install on Python {python} ({_first_line(reason)[:300]}); "
            f"resolved the unpinned {', '.join(sources.unpinned)} instead{when}")


def _mlflow_major(lock: Sequence[str]) -> int:
    version = next((pin.partition("==")[2] for pin in lock if canonicalize_name(pin.partition("==")[0]) == "mlflow"),
                   "")
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


# --- the cut-off ------------------------------------------------------------------------------------------


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
    if found.overridden:
        parts.append(f"left to the lock file's pins: {'; '.join(found.overridden)}")
    if found.ignored:
        parts.append(f"ignored: {'; '.join(found.ignored)}")
    return "".join(f"; {part}" for part in parts)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]
