"""A submission's requirement files, read on the host as text: found, followed, normalised and filtered
(skip globs). Lock files (``lockfiles``) add their pins as constraints.

Nothing here runs a resolver or a container; what is left out of the set is recorded with the reason.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.run.dependencies.lockfiles import (
    LOCK_FILES,
    Declared,
    pipfile_lock_requirements,
    pipfile_requirements,
    poetry_lock_pins,
    poetry_requirements,
    uv_lock_pins,
)

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # not a declared dependency of the grader, but pip always carries a copy
    from pip._vendor.packaging.requirements import (  # type: ignore[assignment,no-redef]
        InvalidRequirement,
        Requirement,
    )
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[assignment,no-redef]

MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 20
MAX_REQUIREMENTS = 500
# Read in this order; the first that declares requirements is the one used (what a candidate's own Dockerfile
# or CI most often installs comes first).
SOURCES = ("requirements.txt", "Pipfile.lock", "pyproject.toml", "Pipfile", "requirements.lock")
UNSUPPORTED = {"environment.yml": "conda environments not supported"}
INDEX_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-index"}


@dataclass
class RequirementSet:
    """The normalised requirements of a submission, and what was left out of them and why."""

    files: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)  # ``name==version`` pins of a lock file
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (requirement as written, why)
    notes: list[str] = field(default_factory=list)
    skip_patterns: tuple[str, ...] = ()
    hashed: int = 0  # requirements that carried --hash

    def text(self) -> str:
        """The requirements, one a line, as the resolver reads them."""
        return "".join(f"{line}\n" for line in self.requirements)

    def constraints_text(self) -> str:
        """The lock file's pins, one a line (a constraints file: they restrict, never add)."""
        return "".join(f"{line}\n" for line in self.constraints)


# --- reading the submission's requirement files (host side, text only) -----------------------------------


def read_requirements(submission_dir: Path, skip: Sequence[str] = ()) -> RequirementSet:
    """The submission's requirements from the first of ``SOURCES`` that declares any, normalised.

    ``-r`` includes are followed inside the submission only; pip options, editable installs, direct URLs
    and local paths are left out and listed in ``ignored``; packages matching ``skip`` in ``skipped``. Beside
    pyproject.toml, a uv.lock or poetry.lock gives its pins as ``constraints``.
    """
    root = submission_dir.resolve()
    found = RequirementSet(skip_patterns=tuple(_canonical_pattern(p) for p in skip))
    readers = {"pyproject.toml": _read_pyproject, "Pipfile": _read_pipfile, "Pipfile.lock": _read_pipfile}
    for name in SOURCES:
        path = root / name
        if not (path.is_file() or path.is_symlink()):
            continue
        reader = readers.get(name)
        used = reader(root, path, found) if reader else _read_pip_file(root, path, found, set())
        if used:
            break
    if found.hashed:
        found.ignored.append(f"{found.hashed} requirement(s) carry --hash: the versions they pin are installed, "
                             "the hashes are not checked")
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
                options = line[match.start():].strip()
                if re.fullmatch(r"(--hash[=\s]\S+\s*)+", options):
                    found.hashed += 1  # a hashed lock (pip-compile --generate-hashes): said once, not per line
                else:
                    found.ignored.append(f"{where}: {shorten(options)} (per-requirement options are ignored)")
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
    """``[project].dependencies`` (else Poetry's ``[tool.poetry.dependencies]``) of pyproject.toml, with the pins
    of a uv.lock or poetry.lock beside it as constraints; False (with a note) when it declares none."""
    text = _read_text(root, path, found)
    if text is None:
        return False
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found.notes.append(f"pyproject.toml: not valid TOML ({exc})")
        return False
    project = document.get("project")
    dependencies = project.get("dependencies") if isinstance(project, dict) else None
    poetry = ((document.get("tool") or {}).get("poetry") or {}).get("dependencies")
    if isinstance(dependencies, list):
        declared = Declared(entries=[(f"pyproject.toml: project.dependencies[{position}]", str(entry))
                                     for position, entry in enumerate(dependencies)])
    elif isinstance(poetry, dict) and set(map(str.lower, poetry)) - {"python"}:
        declared = poetry_requirements(poetry, "pyproject.toml: tool.poetry.dependencies")
    else:
        dynamic = isinstance(project, dict) and "dependencies" in (project.get("dynamic") or [])
        found.notes.append("pyproject.toml: " + ("dynamic dependencies are not read" if dynamic
                                                 else "no [project].dependencies or [tool.poetry.dependencies]"))
        return False
    found.files.append(path.resolve().relative_to(root).as_posix())
    _add_declared(found, declared)
    _read_lock_pins(root, found)
    return True


def _read_lock_pins(root: Path, found: RequirementSet) -> None:
    """The first of ``LOCK_FILES`` that parses gives its pins as constraints."""
    for name in LOCK_FILES:
        path = root / name
        if not (path.is_file() or path.is_symlink()):
            continue
        text = _read_text(root, path, found)
        if text is None:
            continue
        try:
            pins = uv_lock_pins(text) if name == "uv.lock" else poetry_lock_pins(text)
        except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
            found.notes.append(f"{name}: not a lock file the grader reads ({exc})")
            continue
        found.files.append(name)
        found.constraints = sorted({_normalised_pin(pin) for pin in pins} - {""})
        return


def _normalised_pin(pin: str) -> str:
    name, _, version = pin.partition("==")
    return f"{canonicalize_name(name)}=={version.strip()}" if name.strip() and version.strip() else ""


def _read_pipfile(root: Path, path: Path, found: RequirementSet) -> bool:
    """Pipfile.lock's ``default`` packages (all pinned), or a Pipfile's ``[packages]``."""
    text = _read_text(root, path, found)
    if text is None:
        return False
    try:
        declared = pipfile_lock_requirements(text) if path.name == "Pipfile.lock" else pipfile_requirements(text)
    except (ValueError, TypeError, AttributeError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        found.notes.append(f"{path.name}: not readable ({exc})")
        return False
    found.files.append(path.resolve().relative_to(root).as_posix())
    _add_declared(found, declared)
    return True


def _add_declared(found: RequirementSet, declared: Declared) -> None:
    for where, requirement in declared.entries:
        _add_requirement(found, where, requirement)
    found.ignored += declared.ignored


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


def shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
