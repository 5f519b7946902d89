"""The candidate's own Python requirements: read on the host, resolved and built into wheels in a container
that may reach the package index (and nothing else of the run), cached by digest, installed with no network.

    submission root ──read as text──▶ requirement set ──runtime pins meet it?── yes ──▶ "satisfied"
                                              │ no
                                              ▼
    wheel cache  ◀── dependency step (egress only: the engine's default bridge; it sees the normalised
    (digest)          requirements, the host's CA bundle and an empty output folder — not the submission's
         │            other files, the data, the grader or the run network): `pip install --dry-run` against
         │            the runtime image's stack, then `pip wheel` of what the image lacks or has at another
         ▼            version (source-only packages are built there too, never on the host)
    install step (no network): the wheels → /work/.grader-deps, first on PYTHONPATH of candidate containers

A candidate's fault (a pin that does not exist, a conflict, a package that does not build) is a ``failed``
outcome naming the requirement and pip's reason. The engine's failures and an unreachable package index
raise InfrastructureError: they are nobody's answer to grade.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # not a declared dependency of the grader, but pip always carries a copy
    from pip._vendor.packaging.requirements import (  # type: ignore[assignment,no-redef]
        InvalidRequirement,
        Requirement,
    )
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[assignment,no-redef]

from grader.errors import InfrastructureError
from grader.images import TARGET_PYTHON
from grader.models import Limits, StepResult
from grader.sandbox.base import Mount, RunSpec, Sandbox

# A dot folder: pytest's default norecursedirs and most globbing skip it.
DEPS_DIR = "/work/.grader-deps"
REQ_MOUNT, OUT_MOUNT, WHEELS_MOUNT, CA_MOUNT = "/req", "/out", "/wheels", "/etc/grader-ca/ca-certificates.crt"
# For both dependency containers: resolving and building need room (tmpfs counts against memory).
DEPENDENCY_LIMITS = Limits(memory="2g", cpus=2, pids=512, timeout=900, tmpfs="1536m", fsize="1g", output="1m")
MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 20
MAX_REQUIREMENTS = 500
MAX_WHEELHOUSE_BYTES = 4 * 1024**3
PIP_LOG_TAIL_BYTES = 200_000
LOG_TAIL_CHARS = 4000
RESULT_MARKER = "GRADER-DEPENDENCIES "
SELECTED_MARKER = "grader: not in the runtime image:"
# Read in this order; the first that declares requirements is the one used.
SOURCES = ("requirements.txt", "pyproject.toml", "requirements.lock")
UNSUPPORTED = {"poetry.lock": "lock format not supported", "uv.lock": "lock format not supported",
               "Pipfile.lock": "lock format not supported", "Pipfile": "Pipfile not supported",
               "environment.yml": "conda environments not supported"}
INDEX_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-index"}
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# The sandbox images' interpreter and platform, for environment markers.
TARGET_MARKERS = {"python_version": TARGET_PYTHON, "python_full_version": f"{TARGET_PYTHON}.2", "os_name": "posix",
                  "sys_platform": "linux", "platform_system": "Linux", "implementation_name": "cpython",
                  "platform_python_implementation": "CPython"}

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


@dataclass
class RequirementSet:
    """The normalised requirements of a submission, and what was left out of them and why."""

    files: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (requirement as written, why)
    notes: list[str] = field(default_factory=list)
    skip_patterns: tuple[str, ...] = ()

    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.requirements)


@dataclass(frozen=True)
class IndexSettings:
    """Where the dependency step's pip looks: the host's index settings that make sense in a container."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: Path | None = None

    def environment(self) -> dict[str, str]:
        env = {"PIP_CERT": CA_MOUNT, "SSL_CERT_FILE": CA_MOUNT} if self.cert else {}
        if self.index_url:
            env["PIP_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["PIP_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        if self.trusted_hosts:
            env["PIP_TRUSTED_HOST"] = " ".join(self.trusted_hosts)
        return env


@dataclass(frozen=True)
class PipFailure:
    """Which requirements pip failed on and why, read from its output."""

    requirements: list[str]
    reason: str
    index_unreachable: bool = False


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
            return _step_failure(result, log, found.requirements), log[-LOG_TAIL_CHARS:]
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
                        f"({result.failure_reason or 'no result'}): {_last_error(log)}", digest=digest,
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


# --- reading the submission's requirement files (host side, text only) -----------------------------------


def read_requirements(submission_dir: Path, skip: Sequence[str] = ()) -> RequirementSet:
    """The submission's requirements from the first of ``SOURCES`` that declares any, normalised.

    ``-r`` includes are followed inside the submission only; pip options, editable installs, direct URLs
    and local paths are left out and listed in ``ignored``; packages matching ``skip`` in ``skipped``.
    """
    root = submission_dir.resolve()
    found = RequirementSet(skip_patterns=tuple(_canonical_pattern(p) for p in skip))
    for name in SOURCES:
        path = root / name
        if not (path.is_file() or path.is_symlink()):
            continue
        used = _read_pyproject(root, path, found) if name == "pyproject.toml" else \
            _read_pip_file(root, path, found, set())
        if used:
            break
    if not found.files:
        found.notes += [f"{name}: {why}" for name, why in UNSUPPORTED.items() if (root / name).exists()]
    return found


def _read_pip_file(root: Path, path: Path, found: RequirementSet, seen: set[Path]) -> bool:
    """Read one pip requirements file (and its includes) into ``found``; False when it cannot be read."""
    text = _read_text(root, path, found)
    if text is None:
        return False
    seen.add(path.resolve())
    relative = path.resolve().relative_to(root).as_posix()
    found.files.append(relative)
    for number, line in _logical_lines(text):
        where = f"{relative}:{number}"
        if line.startswith("-"):
            _pip_option(root, path, where, line, found, seen)
        elif _is_url_or_path(line):
            found.ignored.append(f"{where}: {_shorten(line)} (direct URLs and local paths are not installed)")
        else:
            match = re.search(r"\s+--?[A-Za-z]", line)  # per-requirement options: --hash=..., --config-settings
            if match:
                found.ignored.append(f"{where}: {_shorten(line[match.start():].strip())} "
                                     "(per-requirement options are ignored)")
                line = line[: match.start()]
            _add_requirement(found, where, line)
    return True


def _pip_option(root: Path, path: Path, where: str, line: str, found: RequirementSet, seen: set[Path]) -> None:
    """A line starting with a dash: follow ``-r`` includes inside the submission, list every other as ignored."""
    if line.startswith("--"):
        option, _, value = re.sub(r"\s*=\s*|\s+", " ", line, count=1).partition(" ")
    else:
        option, value = line[:2], line[2:].lstrip(" =")
    value = value.strip()
    if option not in ("-r", "--requirement"):
        why = ("index options are ignored: packages come from the grader's index" if option in INDEX_OPTIONS
               else "editable installs are not made" if option in ("-e", "--editable")
               else "constraint files are not read" if option in ("-c", "--constraint")
               else "pip options are ignored")
        found.ignored.append(f"{where}: {_shorten(line)} ({why})")
        return
    target = (path.parent / value).resolve()
    if not value or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) or not target.is_relative_to(root):
        found.ignored.append(f"{where}: {_shorten(line)} (only files inside the submission are read)")
    elif target in seen:
        found.ignored.append(f"{where}: {_shorten(line)} (already read)")
    elif len(seen) >= MAX_FILES:
        found.ignored.append(f"{where}: {_shorten(line)} (more than {MAX_FILES} requirement files)")
    elif not target.is_file() or not _read_pip_file(root, target, found, seen):
        found.ignored.append(f"{where}: {_shorten(line)} (not a readable file in the submission)")


def _read_pyproject(root: Path, path: Path, found: RequirementSet) -> bool:
    """``[project].dependencies`` of pyproject.toml; False (with a note) when it declares none the grader reads."""
    text = _read_text(root, path, found)
    if text is None:
        return False
    try:
        project = tomllib.loads(text).get("project")
    except tomllib.TOMLDecodeError as exc:
        found.notes.append(f"pyproject.toml: not valid TOML ({exc})")
        return False
    dependencies = project.get("dependencies") if isinstance(project, dict) else None
    if not isinstance(dependencies, list):
        dynamic = isinstance(project, dict) and "dependencies" in (project.get("dynamic") or [])
        found.notes.append("pyproject.toml: " + ("dynamic dependencies are not read" if dynamic
                                                 else "no [project].dependencies"))
        return False
    found.files.append(path.resolve().relative_to(root).as_posix())
    for position, entry in enumerate(dependencies):
        _add_requirement(found, f"pyproject.toml: project.dependencies[{position}]", str(entry))
    return True


def _read_text(root: Path, path: Path, found: RequirementSet) -> str | None:
    """A requirement file's text: only inside the submission, only a regular file, at most MAX_FILE_BYTES."""
    name = path.name
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            found.notes.append(f"{name}: links outside the submission, not read")
            return None
        if not resolved.is_file() or resolved.stat().st_size > MAX_FILE_BYTES:
            found.notes.append(f"{name}: not a regular file of at most {MAX_FILE_BYTES // 1024} KiB, not read")
            return None
        raw = resolved.read_bytes()
    except OSError as exc:
        found.notes.append(f"{name}: cannot be read ({exc.strerror or exc})")
        return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # `pip freeze > requirements.txt` in Windows PowerShell
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, content) of each logical line: continuations joined, comments and blanks dropped."""
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        first = first or number
        if raw.endswith("\\") and not raw.lstrip().startswith("#"):  # as pip: a comment never continues
            pending += raw[:-1]
            continue
        line = re.sub(r"(^|\s)#.*$", "", pending + raw).strip()
        pending, start, first = "", first, 0
        if line:
            yield start, line
    if pending.strip():
        line = re.sub(r"(^|\s)#.*$", "", pending).strip()
        if line:
            yield first, line


def _is_url_or_path(line: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", line) or line.startswith((".", "/", "~"))
                or re.search(r"\.(whl|zip|tar\.gz|tar\.bz2|tgz)$", line))


def _add_requirement(found: RequirementSet, where: str, text: str) -> None:
    """Validate and normalise one requirement, or record why it was left out."""
    text = text.strip()
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        found.invalid.append((text, f"{where}: {_shorten(text)!r} is not a valid requirement ({exc})"))
        return
    if requirement.url:
        found.ignored.append(f"{where}: {_shorten(text)} (direct URLs and local paths are not installed)")
        return
    name = canonicalize_name(requirement.name)
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in found.skip_patterns):
        found.skipped.append(text)
        return
    extras = f"[{','.join(sorted(canonicalize_name(e) for e in requirement.extras))}]" if requirement.extras else ""
    marker = f"; {requirement.marker}" if requirement.marker else ""
    line = f"{name}{extras}{requirement.specifier}{marker}"
    if line in found.requirements:
        return
    if len(found.requirements) >= MAX_REQUIREMENTS:
        found.invalid.append((text, f"{where}: more than {MAX_REQUIREMENTS} requirements, the grader reads no more"))
        return
    found.requirements.append(line)


def _canonical_pattern(pattern: str) -> str:
    return re.sub(r"[-_.]+", "-", pattern.strip()).lower()


# --- comparing with the runtime image ---------------------------------------------------------------------


def runtime_pins(requirements_file: Path) -> dict[str, str]:
    """``name -> version`` of the ``name==version`` lines of an image's requirements file (empty if missing)."""
    try:
        text = requirements_file.read_text()
    except OSError:
        return {}
    pins: dict[str, str] = {}
    for line in text.splitlines():
        name, equals, version = line.split("#", 1)[0].partition("==")
        if equals and name.strip() and version.strip():
            pins[canonicalize_name(name.split("[")[0].strip())] = version.strip()
    return pins


def unmet(requirements: Sequence[str], pins: dict[str, str]) -> list[str]:
    """The requirements the pinned runtime stack does not certainly meet (extras always need a look)."""
    missing = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate(TARGET_MARKERS):
            continue  # not for the sandbox's platform: pip would skip it too
        version = pins.get(canonicalize_name(requirement.name))
        if requirement.extras or version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(line)
    return missing


def requirement_digest(requirements: Sequence[str], image: str) -> str:
    """sha256 of the normalised requirement set and the image it is resolved against (which decides what is
    already there and which wheels fit)."""
    text = f"image {image}\n" + "".join(f"{line}\n" for line in sorted(set(requirements)))
    return hashlib.sha256(text.encode()).hexdigest()


# --- the host's package index configuration ----------------------------------------------------------------


def host_index_settings(pip_config: Callable[[], str] | None = None) -> IndexSettings:
    """The host pip's index, extra indexes, trusted hosts and CA bundle, as ``pip config list`` reports them."""
    return parse_pip_config((pip_config or _pip_config_list)(), os.environ)


def parse_pip_config(text: str, environ: dict[str, str] | os._Environ[str]) -> IndexSettings:
    """Settings from ``pip config list`` output. Only http(s) indexes are kept: a ``file://`` index exists on
    the host, not in the container. The CA bundle falls back to the usual environment variables and Debian's."""
    rank = {"global": 1, "wheel": 2, ":env:": 3}  # pip's precedence: environment over [wheel] over [global]
    values: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        match = re.match(r"^(?P<section>[^.=]+)\.(?P<key>[\w-]+)=(?P<value>.*)$", line.strip())
        if not match or match["section"] not in rank:
            continue
        priority = rank[match["section"]]
        if priority >= values.get(match["key"], (0, ""))[0]:
            values[match["key"]] = (priority, _unquote(match["value"]))

    def urls(key: str) -> tuple[str, ...]:
        return tuple(u for u in values.get(key, (0, ""))[1].split() if u.startswith(("http://", "https://")))

    candidates = [values.get("cert", (0, ""))[1], environ.get("PIP_CERT", ""), environ.get("SSL_CERT_FILE", ""),
                  environ.get("REQUESTS_CA_BUNDLE", ""), str(DEFAULT_CA_BUNDLE)]
    cert = next((Path(c).resolve() for c in candidates if c and Path(c).is_file()), None)
    index = urls("index-url")
    return IndexSettings(index_url=index[0] if index else None, extra_index_urls=urls("extra-index-url"),
                         trusted_hosts=tuple(values.get("trusted-host", (0, ""))[1].split()), cert=cert)


def _pip_config_list() -> str:
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                              timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""  # no pip beside the grader: pip's defaults (and the default CA bundle) it is
    return done.stdout


def _unquote(value: str) -> str:
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value.strip("'\"")
    return parsed if isinstance(parsed, str) else value


# --- reading pip's output ----------------------------------------------------------------------------------


_UNREACHABLE = re.compile(
    r"Retrying \(Retry\(total=\d+.*\)\) after connection broken by|Could not fetch URL .*: There was a problem"
    r"|SSLError\(|ProxyError\(|NewConnectionError\(|Temporary failure in name resolution", re.M)


def explain_pip_failure(log: str, requirements: Sequence[str]) -> PipFailure:
    """Which of ``requirements`` (the lines pip was given, in order) pip failed on, and pip's reason."""
    by_name = {canonicalize_name(Requirement(line).name): line for line in requirements}

    def named(pip_text: str) -> str:
        line = re.match(r"-r \S+ \(line (\d+)\)", pip_text)
        if line and 1 <= int(line[1]) <= len(requirements):
            return requirements[int(line[1]) - 1]
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", pip_text)
        if name and canonicalize_name(name[0]) in by_name:
            return by_name[canonicalize_name(name[0])]
        return f"{pip_text} (a dependency of the requirements)"

    conflict = re.search(r"^ERROR: Cannot install (.+?) because these package versions have conflicting", log, re.M)
    if conflict:
        failed = [named(part) for part in re.split(r", | and ", conflict[1]) if part]
        cause = re.search(r"The conflict is caused by:\n((?:[ \t]+\S.*\n?)+)", log)
        because = "; ".join(ln.strip() for ln in cause[1].splitlines()) if cause else "conflicting dependencies"
        return PipFailure(failed, f"{' and '.join(failed)} cannot be installed together: {because}")
    built = re.findall(r"^\s*ERROR: Failed building wheel for (\S+)", log, re.M)
    if built:
        failed = [named(name) for name in dict.fromkeys(built)]
        return PipFailure(failed, "; ".join(f"{req} failed to build: {_build_error(log, name)}"
                                            for req, name in zip(failed, dict.fromkeys(built), strict=True)))
    metadata = re.search(r"^error: metadata-generation-failed|\u00d7 (Getting requirements to build wheel|python setup"
                         r"\.py egg_info|Preparing metadata \(pyproject\.toml\)) did not run successfully", log, re.M)
    collecting = re.findall(r"^Collecting (\S+)", log[: metadata.start()] if metadata else "", re.M)
    if metadata and collecting:
        failed = [named(collecting[-1])]
        return PipFailure(failed, f"{failed[0]} failed to build (its package metadata could not be generated): "
                                  f"{_build_error(log, None)}")
    python = re.findall(r"^ERROR: Package '(\S+)' requires a different Python: (.+)$", log, re.M)
    if python:
        failed = [named(name) for name, _ in python]
        return PipFailure(failed, "; ".join(f"{req} requires a different Python ({why.strip()})"
                                            for req, (_, why) in zip(failed, python, strict=True)))
    missing = re.findall(r"^ERROR: Could not find a version that satisfies the requirement (\S+) "
                         r"\(from versions: (.*)\)$", log, re.M)
    if missing:
        failed = [named(name) for name, _ in missing]
        unreachable = any(v.strip() == "none" for _, v in missing) and bool(_UNREACHABLE.search(log))
        return PipFailure(failed, "; ".join(f"{req}: no version on the package index matches "
                                            f"(available: {_versions(versions)})"
                                            for req, (_, versions) in zip(failed, missing, strict=True)), unreachable)
    return PipFailure([], f"pip failed: {_last_error(log)}", bool(_UNREACHABLE.search(log)))


def _step_failure(result: StepResult, log: str, requirements: Sequence[str]) -> PipFailure:
    if result.timed_out or result.oom_killed:
        doing = re.findall(r"^(?:Collecting|\s*Building wheel for) (\S+)", log, re.M)
        where = f" while at {doing[-1]}" if doing else ""
        return PipFailure([], f"the dependency step {result.failure_reason}{where}")
    failure = explain_pip_failure(log, requirements)
    if failure.index_unreachable:
        raise InfrastructureError(f"the dependency step could not reach the package index: {_last_error(log)}")
    return failure


def _build_error(log: str, package: str | None) -> str:
    """The telling line of a failed build's output block (the last one mentioning an error)."""
    end = log.find(f"Failed building wheel for {package}") if package else -1
    blocks = re.findall(r"╰─> \[\d+ lines of output\]\n(.*?)\[end of output\]", log[: end if end >= 0 else None],
                        re.S)
    if not blocks:
        return _last_error(log)
    lines = [ln.strip() for ln in blocks[-1].splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return _shorten((errors or lines or ["no output"])[-1], 300)


def _last_error(log: str) -> str:
    errors = [ln.strip() for ln in log.splitlines() if ln.strip().startswith(("ERROR:", "error:"))]
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return _shorten((errors or lines or ["no output"])[-1], 300)


def _versions(listed: str) -> str:
    versions = [v.strip() for v in listed.split(",") if v.strip()]
    if len(versions) <= 6:
        return ", ".join(versions) or "none"
    return f"{', '.join(versions[:2])}, ..., {', '.join(versions[-3:])}"


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


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
