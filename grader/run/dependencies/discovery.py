"""Which of a submission's files make its Python environment: found on the host, from names and text only.

Real capstones keep their requirements in more than one place: a ``pyproject.toml`` with a ``uv.lock`` for the
whole project beside a ``requirements.txt`` for the API image; a ``Pipfile.lock``; ``requirements-dev.txt`` for the
tests; ``inference/requirements.txt`` for a server started with ``cd inference && uvicorn ...``. What the code
uses is all of them, resolved together as one environment:

- a lock file first: ``Pipfile.lock``, else ``pyproject.toml`` with its ``uv.lock`` or ``poetry.lock``; the lock
  decides the version of every package it names, and the other sources only add packages it does not name;
- the root requirement files a candidate's CI or README installs (``requirements.txt``, the dev and test ones,
  any file a workflow, Makefile or README names after ``pip install -r``), ``pyproject.toml`` and a ``Pipfile``;
- the requirement files nearest to the folders the manifest's commands run in (``cd inference && ...``,
  ``python airflow/dags/x.py``).

A manifest's ``dependencies.files`` replaces all of this. Nothing here reads a file's requirements
(``reading``) or runs anything.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# A root requirements file that is part of the project's own environment (not e.g. requirements-gpu.txt).
_ROOT_REQUIREMENTS = re.compile(
    r"^(requirements([-_.](dev|develop|development|test|tests|testing|ci|lint|base|common|train|training))?"
    r"|(dev|test|tests|testing|ci)[-_]requirements)\.(txt|in)$", re.I)
_ANY_REQUIREMENTS = re.compile(r"^(requirements[-_.]?[A-Za-z0-9_.-]*|[A-Za-z0-9_-]+[-_]requirements)\.txt$", re.I)
# Where a candidate's own instructions say which requirement files get installed.
_INSTRUCTIONS = (".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml", "Makefile", "Jenkinsfile",
                 "README.md", "README.rst", "README", "tox.ini", "noxfile.py")
_INSTALL_R = re.compile(r"(?:^|\s)(?:-r|--requirement)[=\s]+['\"]?([A-Za-z0-9_./-]+\.(?:txt|in))")
MAX_INSTRUCTION_BYTES = 256 * 1024
LOCKS_BESIDE_PYPROJECT = ("uv.lock", "poetry.lock")


@dataclass(frozen=True)
class DependencySources:
    """The files to read, in order; which of them is a lock; what to read instead when the lock does not install.

    ``lock``: ``Pipfile.lock``, ``uv.lock`` or ``poetry.lock`` (its pins win over every other source), or None.
    ``unpinned``: the lock's own unpinned spec (``Pipfile``, or ``pyproject.toml`` without the lock's pins), read
    in its place when the lock was written for another Python. ``origin`` says how the files were chosen.
    """

    files: tuple[str, ...] = ()
    lock: str | None = None
    unpinned: tuple[str, ...] = ()
    origin: str = "discovered"  # or "manifest"
    missing: tuple[str, ...] = ()  # files the manifest named that are not in the submission


def discover_sources(root: Path, commands: Sequence[str] = (), named: Sequence[str] = ()) -> DependencySources:
    """The requirement sources of the submission at ``root``: the ``named`` ones (the manifest's
    ``dependencies.files``) when given, else what discovery finds (see the module's docstring)."""
    if named:
        return _named_sources(root, named)
    files: list[str] = []
    lock, unpinned = _root_lock(root)
    if lock == "Pipfile.lock":
        files.append("Pipfile.lock")
    elif lock:
        files.append("pyproject.toml")
    else:
        files += [name for name in ("pyproject.toml", "Pipfile") if _is_file(root / name)]
    files += root_requirement_files(root)
    for folder in command_folders(root, commands):
        files += _nearest_requirements(root, folder)
    return DependencySources(files=tuple(_unique(files)), lock=lock, unpinned=unpinned)


def _named_sources(root: Path, named: Sequence[str]) -> DependencySources:
    present = [name for name in named if _is_file(root / name)]
    missing = tuple(name for name in named if name not in present)
    lock: str | None = None
    unpinned: tuple[str, ...] = ()
    if "Pipfile.lock" in present:
        lock, unpinned = "Pipfile.lock", (("Pipfile",) if _is_file(root / "Pipfile") else ())
    elif "pyproject.toml" in present:
        lock = next((name for name in LOCKS_BESIDE_PYPROJECT if _is_file(root / name)), None)
        unpinned = ("pyproject.toml",) if lock else ()
    return DependencySources(files=tuple(_unique(present)), lock=lock, unpinned=unpinned, origin="manifest",
                             missing=missing)


def _root_lock(root: Path) -> tuple[str | None, tuple[str, ...]]:
    if _is_file(root / "Pipfile.lock"):
        return "Pipfile.lock", (("Pipfile",) if _is_file(root / "Pipfile") else ())
    if _is_file(root / "pyproject.toml"):
        for name in LOCKS_BESIDE_PYPROJECT:
            if _is_file(root / name):
                return name, ("pyproject.toml",)
    return None, ()


def root_requirement_files(root: Path) -> list[str]:
    """``requirements.txt`` and the dev/test ones at the root, then any file the candidate's CI, Makefile or
    README installs with ``pip install -r`` (inside the submission, existing)."""
    found = sorted((p.name for p in _children(root) if _ROOT_REQUIREMENTS.match(p.name) and _is_file(p)),
                   key=lambda name: (name.lower() != "requirements.txt", name.endswith(".in"), name))
    if any(name.endswith(".txt") and name[:-4] + ".in" in found for name in found):
        found = [name for name in found if not (name.endswith(".in") and name[:-3] + ".txt" in found)]
    if _is_file(root / "requirements.lock"):  # rye's lock, a pip requirements file
        found.append("requirements.lock")
    return found + [name for name in installed_by_instructions(root) if name not in found]


def installed_by_instructions(root: Path) -> list[str]:
    """Requirement files named after ``-r`` in the candidate's CI workflows, Makefile or README."""
    named: list[str] = []
    for pattern in _INSTRUCTIONS:
        for path in sorted(root.glob(pattern)):
            text = _read_small(root, path)
            for match in _INSTALL_R.finditer(text or ""):
                relative = match.group(1).removeprefix("./")
                target = root / relative
                if _inside(root, target) and _is_file(target) and relative not in named:
                    named.append(relative)
    return named


def command_folders(root: Path, commands: Sequence[str]) -> list[Path]:
    """The sub-folders of ``root`` the commands run in or name: ``cd X`` targets and paths (``airflow/dags/x.py``,
    ``$PWD/airflow/dags``) that exist, as folders (a file's folder), the root itself left out."""
    folders: list[Path] = []
    for command in commands:
        for word in _words(command):
            path = word.split("=", 1)[-1] if "=" in word and "/" in word.split("=", 1)[-1] else word
            path = re.sub(r"^(\$\{?PWD\}?|\$\(pwd\)|\.)/", "", path).strip("'\"")
            if not path or path.startswith(("/", "-", "$", "~")) or ".." in path.split("/"):
                continue
            target = root / path
            module = root / (path.split(":", 1)[0].replace(".", "/") + ".py")  # python -m src.train, app.main:app
            target = target if _inside(root, target) and target.exists() else module
            if not _inside(root, target) or not target.exists():
                continue
            folder = target if target.is_dir() else target.parent
            if folder.resolve() != root.resolve() and folder not in folders:
                folders.append(folder)
    return folders


def _nearest_requirements(root: Path, folder: Path) -> list[str]:
    """The requirement files of ``folder`` or, if it has none, of the nearest folder above it below the root."""
    root = root.resolve()
    current = folder.resolve()
    while current != root and current.is_relative_to(root):
        found = sorted(p for p in _children(current) if _ANY_REQUIREMENTS.match(p.name) and _is_file(p))
        if found:
            return [p.relative_to(root).as_posix() for p in found]
        current = current.parent
    return []


def _words(command: str) -> list[str]:
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    return [piece for word in words for piece in re.split(r"[;&|()\s]+", word) if piece]


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _is_file(path: Path) -> bool:
    return path.is_file() or path.is_symlink()


def _inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def _read_small(root: Path, path: Path) -> str | None:
    """A small text file inside the submission (a link out of it is not followed), or None."""
    try:
        if not _inside(root, path) or not path.is_file() or path.stat().st_size > MAX_INSTRUCTION_BYTES:
            return None
        return path.read_text(errors="replace")
    except OSError:
        return None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def declared_python(root: Path) -> str | None:
    """The Python version the candidate's files say the code was written for (``.python-version``, Pipfile(.lock)
    ``requires.python_version``), as ``3.N``; None when they say none."""
    texts = [_read_small(root, root / name) or "" for name in (".python-version", "Pipfile.lock", "Pipfile")]
    for text in texts:
        match = re.search(r"(?:^|python_version\"?\s*[:=]\s*\"?)(3\.\d{1,2})\b", text.strip(), re.M)
        if match:
            return match.group(1)
    return None
