"""The container work of the dependency step: resolve and build the wheels the runtime image lacks (egress
only), cache them by digest, install them into the work area (no network), and say what happened.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grader.models import Limits
from grader.run.dependencies.pip_output import (
    CA_MOUNT,
    IndexSettings,
    PipFailure,
    host_index_settings,
    last_error,
    step_failure,
)
from grader.run.dependencies.requirements import (
    RequirementSet,
    read_requirements,
    requirement_digest,
    runtime_pins,
    unmet,
)
from grader.sandbox.base import Mount, RunSpec, Sandbox

# A dot folder: pytest's default norecursedirs and most globbing skip it.
DEPS_DIR = "/work/.grader-deps"
REQ_MOUNT, OUT_MOUNT, WHEELS_MOUNT = "/req", "/out", "/wheels"
# For both dependency containers: resolving and building need room (tmpfs counts against memory).
DEPENDENCY_LIMITS = Limits(memory="2g", cpus=2, pids=512, timeout=900, tmpfs="1536m", fsize="1g", output="1m")
MAX_WHEELHOUSE_BYTES = 4 * 1024**3
PIP_LOG_TAIL_BYTES = 200_000
LOG_TAIL_CHARS = 4000
RESULT_MARKER = "GRADER-DEPENDENCIES "
SELECTED_MARKER = "grader: not in the runtime image:"

Status = Literal["none", "satisfied", "installed", "failed"]


@dataclass(frozen=True)
class DependencyOutcome:
    """What the dependency step found and did, for the report and for the candidate's later containers.

    ``none``: no requirement file the grader reads; ``satisfied``: the runtime stack already meets every
    requirement; ``installed``: wheels went into the work area and ``env`` puts them first on the path;
    ``failed``: ``failed_requirements`` and ``message`` say which requirement failed and why, and ``env`` is
    empty, so the run can go on with the lab's runtime stack.
    """

    status: Status
    message: str
    requirement_files: list[str] = field(default_factory=list)
    digest: str | None = None
    wheels: list[str] = field(default_factory=list)
    failed_requirements: list[str] = field(default_factory=list)
    log_tail: str = ""
    env: dict[str, str] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)
    cached: bool = False


# --- the step ---------------------------------------------------------------------------------------------


def prepare_dependencies(
    sandbox: Sandbox, submission_dir: Path, cache_dir: Path, *, image: str, limits: Limits,
    skip: Sequence[str] = (), runtime_requirements: Path | None = None, index: IndexSettings | None = None,
) -> DependencyOutcome:
    """Resolve, build (or reuse) and install the submission's own requirements into the sandbox's work area.

    Call after ``copy_in``. ``skip`` names packages (globs allowed: ``jupyter*``) the lab never needs for
    grading; ``runtime_requirements`` is the image's pin file, which lets a set the image already meets skip
    every container; ``index`` defaults to the host's pip configuration. Wheels are cached under
    ``cache_dir/candidate-wheels/<digest>``. A candidate's fault is a ``failed`` outcome, never an exception.
    """
    found = read_requirements(submission_dir, skip)
    if not found.files:
        notes = "; ".join(found.notes)
        return _outcome(found, "none", "no requirements.txt, pyproject.toml dependencies or requirements.lock"
                        + (f" ({notes})" if notes else "") + ": graded with the lab's runtime stack")
    if found.invalid:
        return _outcome(found, "failed", "; ".join(why for _, why in found.invalid),
                        failed_requirements=[text for text, _ in found.invalid])
    pins = runtime_pins(runtime_requirements) if runtime_requirements else {}
    if not unmet(found.requirements, pins):
        return _outcome(found, "satisfied", f"the runtime stack meets all {len(found.requirements)} "
                        f"requirement(s) of {', '.join(found.files)}")
    digest = requirement_digest(found.requirements, image)
    wheelhouse = cache_dir / "candidate-wheels" / digest
    cached = (wheelhouse / ".complete").is_file()
    if not cached:
        failure = _build_wheelhouse(sandbox, found, wheelhouse, image=image, limits=limits,
                                    index=index or host_index_settings())
        if failure is not None:
            return _outcome(found, "failed", failure[0].reason, digest=digest,
                            failed_requirements=failure[0].requirements, log_tail=failure[1])
    return _install(sandbox, found, wheelhouse, digest, cached, image=image, limits=limits)


def _outcome(found: RequirementSet, status: Status, message: str, **fields: Any) -> DependencyOutcome:
    """An outcome carrying what was read, with the skipped and ignored lines appended to the message."""
    return DependencyOutcome(status, message + _notes(found), requirement_files=found.files,
                             requirements=found.requirements, skipped=found.skipped, ignored=found.ignored,
                             **fields)


def _build_wheelhouse(
    sandbox: Sandbox, found: RequirementSet, wheelhouse: Path, *, image: str, limits: Limits, index: IndexSettings
) -> tuple[PipFailure, str] | None:
    """Run the dependency step; on success the wheels are in ``wheelhouse`` (complete), else (failure, log)."""
    wheelhouse.parent.mkdir(parents=True, exist_ok=True)
    # Private (0700) so other host users cannot reach the world-writable output folder inside it.
    scratch = Path(tempfile.mkdtemp(prefix=f".{wheelhouse.name[:16]}-", dir=wheelhouse.parent))
    try:
        requirements, out, wheels = scratch / "req", scratch / "out", scratch / "wheels"
        for folder in (requirements, out, wheels):
            folder.mkdir()
        (requirements / "requirements.txt").write_text(found.text())
        requirements.chmod(0o755)
        (requirements / "requirements.txt").chmod(0o644)
        out.chmod(0o777)  # the container runs as uid 1000, whoever the grader runs as
        mounts = [Mount(requirements, REQ_MOUNT), Mount(out, OUT_MOUNT, read_only=False)]
        if index.cert:
            mounts.append(Mount(index.cert, CA_MOUNT))
        spec = RunSpec(name="dependencies", command=build_command(), image=image, env=index.environment(),
                       limits=limits.model_copy(update={"output": "1m"}), mounts=tuple(mounts), mount_work=False,
                       egress=True)
        result = sandbox.run(spec)
        log = result.stdout + result.stderr
        if not result.succeeded:
            return step_failure(result, log, found.requirements), log[-LOG_TAIL_CHARS:]
        expected = _selected(log)
        taken = _take_wheels(out, wheels)
        if isinstance(taken, str) or len(taken) < len(expected):
            reason = taken if isinstance(taken, str) else f"pip reported success but left {len(taken)} of " \
                f"{len(expected)} wheels ({', '.join(expected)})"
            return PipFailure([], f"the dependency step's output was refused: {reason}"), log[-LOG_TAIL_CHARS:]
        (wheels / ".complete").write_text(log[-LOG_TAIL_CHARS:])
        wheels.chmod(0o755)
        _publish(wheels, wheelhouse)
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_command() -> str:
    """The dependency step's shell command: resolve against the image's stack, build what it lacks.

    ``--dry-run`` without ``--ignore-installed`` resolves as ``pip install -r`` into the runtime image would:
    an installed package that meets a requirement is kept, so only what the image lacks (or has at another
    version) is downloaded and built. pip's combined output goes to a file and only its tail is printed,
    because the reason for a failure is at the end.
    """
    pip = "python3 -I -m pip"
    flags = "--use-pep517 --disable-pip-version-check --no-input --progress-bar off"
    log = ">>/tmp/pip.log 2>&1"
    return (
        f"{pip} install --dry-run {flags} --report /tmp/resolved.json -r {REQ_MOUNT}/requirements.txt {log}"
        f" && python3 -I -c {shlex.quote(_SELECT_SCRIPT)} /tmp/resolved.json /tmp/pins.txt {log}"
        f" && {{ [ ! -s /tmp/pins.txt ] || {pip} wheel --no-deps {flags} -r /tmp/pins.txt -w {OUT_MOUNT} {log}; }}"
        f"; status=$?; tail -c {PIP_LOG_TAIL_BYTES} /tmp/pip.log; exit $status"
    )


_SELECT_SCRIPT = f"""
import json, re, sys
from importlib import metadata
canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()
present = {{canonical(d.metadata["Name"] or ""): d.version for d in metadata.distributions()}}
resolved = [i["metadata"] for i in json.load(open(sys.argv[1])).get("install", [])]
pins = [f"{{canonical(m['name'])}}=={{m['version']}}" for m in resolved
        if present.get(canonical(m["name"])) != m["version"]]
open(sys.argv[2], "w").write("".join(p + "\\n" for p in pins))
print({SELECTED_MARKER!r}, *pins)
"""

_INSTALL_SCRIPT = f"""
import json, re, shutil, subprocess, sys
from importlib import metadata
from pathlib import Path
canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()
present = {{canonical(d.metadata["Name"] or ""): d.version for d in metadata.distributions()}}
chosen, shadowed = [], []
for wheel in sorted(Path({WHEELS_MOUNT!r}).glob("*.whl")):
    name, version = wheel.name.split("-")[:2]
    have = present.get(canonical(name))
    if have == version:
        continue
    if have is not None:
        shadowed.append(f"{{canonical(name)}} {{have}} -> {{version}}")
    chosen.append(wheel)
code = 0
shutil.rmtree({DEPS_DIR!r}, ignore_errors=True)  # whatever the submission brought under that name
if chosen:
    code = subprocess.call([sys.executable, "-I", "-m", "pip", "install", "--no-index", "--no-deps", "--no-cache-dir",
                            "--disable-pip-version-check", "--no-warn-script-location", "--target", {DEPS_DIR!r},
                            *map(str, chosen)], stdout=sys.stderr)
    if code:
        shutil.rmtree({DEPS_DIR!r}, ignore_errors=True)
print({RESULT_MARKER!r} + json.dumps({{"installed": [w.name for w in chosen], "shadowed": shadowed}}))
sys.exit(code)
"""


def _install(
    sandbox: Sandbox, found: RequirementSet, wheelhouse: Path, digest: str, cached: bool, *, image: str,
    limits: Limits,
) -> DependencyOutcome:
    """Install the cached wheels into the work area, with no network; nothing to install means satisfied."""
    source = f"{', '.join(found.files)}{' (cached wheels)' if cached else ''}"
    already = f"the runtime stack already has every package {source} resolves to"
    if not any(wheelhouse.glob("*.whl")):
        return _outcome(found, "satisfied", already, digest=digest, cached=cached)
    spec = RunSpec(name="dependencies-install", command=f"python3 -I -c {shlex.quote(_INSTALL_SCRIPT)}",
                   image=image, limits=limits, mounts=(Mount(wheelhouse, WHEELS_MOUNT),))
    result = sandbox.run(spec)
    log = result.stdout + result.stderr
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith(RESULT_MARKER)), None)
    if not result.succeeded or line is None:
        return _outcome(found, "failed", f"installing the wheels built for {source} failed "
                        f"({result.failure_reason or 'no result'}): {last_error(log)}", digest=digest,
                        cached=cached, log_tail=log[-LOG_TAIL_CHARS:])
    done = json.loads(line[len(RESULT_MARKER):])
    installed, shadowed = list(done["installed"]), list(done["shadowed"])
    if not installed:
        return _outcome(found, "satisfied", already, digest=digest, cached=cached)
    message = f"installed {len(installed)} package(s) from {source} into {DEPS_DIR}: " + \
        ", ".join(_wheel_label(w) for w in installed)
    if shadowed:
        message += f"; they replace the runtime's {', '.join(shadowed)}"
    return _outcome(found, "installed", message, digest=digest, cached=cached, wheels=installed, shadowed=shadowed,
                    log_tail=log[-LOG_TAIL_CHARS:], env={"PYTHONPATH": DEPS_DIR})


def _selected(log: str) -> list[str]:
    line = next((ln for ln in reversed(log.splitlines()) if ln.startswith(SELECTED_MARKER)), "")
    return line[len(SELECTED_MARKER):].split()


# --- the wheel cache -----------------------------------------------------------------------------------------


def _take_wheels(out: Path, dest: Path) -> list[str] | str:
    """Copy the wheels the dependency container left in ``out`` to ``dest``: plain files named like wheels
    only (never following links), under MAX_WHEELHOUSE_BYTES in all. A string says why the output was refused."""
    taken, total = [], 0
    for entry in sorted(os.scandir(out), key=lambda e: e.name):
        if not re.fullmatch(r"[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(-\d[\w.]*)?-[\w.]+-[\w.]+-[\w.]+\.whl", entry.name):
            continue
        try:  # O_NONBLOCK: a fifo in place of a wheel must not hang the grader
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(source.fileno())
            if not stat.S_ISREG(info.st_mode):
                continue
            total += info.st_size
            if total > MAX_WHEELHOUSE_BYTES:
                return f"the wheels are larger than {MAX_WHEELHOUSE_BYTES // 1024**3} GiB in all"
            with open(dest / entry.name, "xb") as copy:
                shutil.copyfileobj(source, copy, 1024 * 1024)
        (dest / entry.name).chmod(0o644)
        taken.append(entry.name)
    return taken


def _publish(wheels: Path, wheelhouse: Path) -> None:
    """Move a complete wheel folder into the cache; a concurrent run that got there first wins."""
    if wheelhouse.exists() and not (wheelhouse / ".complete").is_file():
        shutil.rmtree(wheelhouse)
    try:
        wheels.rename(wheelhouse)
    except OSError:
        if not (wheelhouse / ".complete").is_file():
            raise


# --- messages -------------------------------------------------------------------------------------------------


def _notes(found: RequirementSet) -> str:
    parts = []
    if found.skipped:
        parts.append(f"skipped as not needed for grading: {', '.join(found.skipped)}")
    if found.ignored:
        parts.append(f"ignored: {'; '.join(found.ignored)}")
    return "".join(f"; {part}" for part in parts)


def _wheel_label(wheel: str) -> str:
    name, version = wheel.split("-")[:2]
    return f"{name} {version}"
