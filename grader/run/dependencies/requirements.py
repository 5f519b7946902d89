"""A submission's requirement files, read on the host as text: found, followed, normalised and filtered
(skip globs). Lock files (``lockfiles``) add their pins as constraints.

Nothing here runs a resolver or a container; what is left out of the set is recorded with the reason.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.run.dependencies.lockfiles import Declared

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
MAX_LOCK_BYTES = 8 * 1024 * 1024  # a universal uv.lock of a data-science project is often 0.5-1 MiB
MAX_FILES = 20
MAX_REQUIREMENTS = 500
UNSUPPORTED = {"environment.yml": "conda environments not supported"}
# Source-only packages that need a system library's headers the sandbox images do not carry, and the binary
# distribution their maintainers publish for the same module (`import psycopg2` either way).
BINARY_SUBSTITUTES = {"psycopg2": "psycopg2-binary"}
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
    locked: set[str] = field(default_factory=set)  # packages a lock file pins: no other source may restrict them
    overridden: list[str] = field(default_factory=list)  # requirements left to the lock's pin, with where
    substituted: list[str] = field(default_factory=list)  # "psycopg2==2.9.7 → psycopg2-binary==2.9.7"

    def text(self) -> str:
        """The requirements, one a line, as the resolver reads them."""
        return "".join(f"{line}\n" for line in self.requirements)

    def constraints_text(self) -> str:
        """The lock file's pins, one a line (a constraints file: they restrict, never add)."""
        return "".join(f"{line}\n" for line in self.constraints)


# --- reading pip requirement files (host side, text only) ------------------------------------------------


def read_pip_file(root: Path, path: Path, found: RequirementSet, seen: set[Path]) -> bool:
    """Read one pip requirements file (and its includes) into ``found``; False when it cannot be read."""
    text = read_text(root, path, found)
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
            add_requirement(found, where, line)
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
    elif not target.is_file() or not read_pip_file(root, target, found, seen):
        found.ignored.append(f"{where}: {shorten(line)} (not a readable file in the submission)")


def add_declared(found: RequirementSet, declared: Declared) -> None:
    for where, requirement in declared.entries:
        add_requirement(found, where, requirement)
    found.ignored += declared.ignored


def read_text(root: Path, path: Path, found: RequirementSet, limit: int = MAX_FILE_BYTES) -> str | None:
    """A requirement file's text: only inside the submission, only a regular file, at most ``limit`` bytes."""
    name = path.name
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            found.notes.append(f"{name}: links outside the submission, not read")
            return None
        if not resolved.is_file() or resolved.stat().st_size > limit:
            found.notes.append(f"{name}: not a regular file of at most {limit // 1024} KiB, not read")
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


def add_requirement(found: RequirementSet, where: str, text: str) -> None:
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
    if name in BINARY_SUBSTITUTES:
        name = canonicalize_name(BINARY_SUBSTITUTES[name])
        found.substituted.append(f"{where}: {shorten(text)} → {name}{requirement.specifier}")
    if name in found.locked:
        found.overridden.append(f"{where}: {shorten(text)}")
        return
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


def canonical_pattern(pattern: str) -> str:
    return re.sub(r"[-_.]+", "-", pattern.strip()).lower()


def shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
