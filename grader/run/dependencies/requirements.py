"""A submission's requirement files, read on the host as text: found, followed, normalised and filtered
(skip globs), then compared with the runtime image's pins and digested for the wheel cache.

Nothing here runs pip or a container; what is left out of the set is recorded with the reason.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # not a declared dependency of the grader, but pip always carries a copy
    from pip._vendor.packaging.requirements import (  # type: ignore[assignment,no-redef]
        InvalidRequirement,
        Requirement,
    )
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[assignment,no-redef]

from grader.sandbox.docker.images import TARGET_PYTHON

MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 20
MAX_REQUIREMENTS = 500
# Read in this order; the first that declares requirements is the one used.
SOURCES = ("requirements.txt", "pyproject.toml", "requirements.lock")
UNSUPPORTED = {"poetry.lock": "lock format not supported", "uv.lock": "lock format not supported",
               "Pipfile.lock": "lock format not supported", "Pipfile": "Pipfile not supported",
               "environment.yml": "conda environments not supported"}
INDEX_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-index"}
# The sandbox images' interpreter and platform, for environment markers.
TARGET_MARKERS = {"python_version": TARGET_PYTHON, "python_full_version": f"{TARGET_PYTHON}.2", "os_name": "posix",
                  "sys_platform": "linux", "platform_system": "Linux", "implementation_name": "cpython",
                  "platform_python_implementation": "CPython"}


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
            found.ignored.append(f"{where}: {shorten(line)} (direct URLs and local paths are not installed)")
        else:
            match = re.search(r"\s+--?[A-Za-z]", line)  # per-requirement options: --hash=..., --config-settings
            if match:
                found.ignored.append(f"{where}: {shorten(line[match.start():].strip())} "
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
        found.ignored.append(f"{where}: {shorten(line)} ({why})")
        return
    target = (path.parent / value).resolve()
    if not value or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) or not target.is_relative_to(root):
        found.ignored.append(f"{where}: {shorten(line)} (only files inside the submission are read)")
    elif target in seen:
        found.ignored.append(f"{where}: {shorten(line)} (already read)")
    elif len(seen) >= MAX_FILES:
        found.ignored.append(f"{where}: {shorten(line)} (more than {MAX_FILES} requirement files)")
    elif not target.is_file() or not _read_pip_file(root, target, found, seen):
        found.ignored.append(f"{where}: {shorten(line)} (not a readable file in the submission)")


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
        found.invalid.append((text, f"{where}: {shorten(text)!r} is not a valid requirement ({exc})"))
        return
    if requirement.url:
        found.ignored.append(f"{where}: {shorten(text)} (direct URLs and local paths are not installed)")
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


def shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
