"""The requirement sources ``discovery`` chose, read into one requirement set: pip files, pyproject.toml (its
dependencies, its dev and test groups and extras, Poetry's tables; a uv.lock or poetry.lock beside it gives its
pins as constraints), Pipfile and Pipfile.lock.

A lock is read first and then decides: another source's requirement for a package the lock pins is left to the
lock (listed in ``overridden``), so a ``requirements.txt`` written for a Docker image never fights the project's
lock. Without a lock every source counts, and a real conflict between them is the resolver's to report.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.run.dependencies.discovery import DependencySources, discover_sources
from grader.run.dependencies.lockfiles import (
    Declared,
    pipfile_lock_requirements,
    pipfile_requirements,
    poetry_lock_pins,
    poetry_requirements,
    uv_lock_pins,
)
from grader.run.dependencies.requirements import (
    MAX_FILE_BYTES,
    MAX_LOCK_BYTES,
    UNSUPPORTED,
    Requirement,
    RequirementSet,
    add_declared,
    add_requirement,
    canonical_pattern,
    canonicalize_name,
    read_pip_file,
    read_text,
)

# Groups and extras that hold what the tests need (`uv sync` installs the dev group by default).
TEST_GROUPS = ("dev", "test", "tests", "testing")


def read_requirements(submission_dir: Path, skip: Sequence[str] = (), *, commands: Sequence[str] = (),
                      named: Sequence[str] = (), extra: Sequence[str] = (), unpinned: bool = False) -> RequirementSet:
    """The submission's requirements from every source discovery finds (or the ``named`` ones), as one set."""
    root = submission_dir.resolve()
    return read_sources(root, discover_sources(root, commands, named), skip, extra=extra, unpinned=unpinned)


def read_sources(root: Path, sources: DependencySources, skip: Sequence[str] = (), *, extra: Sequence[str] = (),
                 unpinned: bool = False) -> RequirementSet:
    """Read ``sources`` into one set. ``unpinned``: read the lock's unpinned spec in place of the lock (its pins
    left out), for a lock written for another Python."""
    found = RequirementSet(skip_patterns=tuple(canonical_pattern(p) for p in skip))
    files = list(sources.files)
    if unpinned and sources.lock:
        files = [*sources.unpinned, *(name for name in files if name not in ("Pipfile.lock", "pyproject.toml"))]
    for name in files:
        path = root / name
        if name == "pyproject.toml":
            _read_pyproject(root, path, found, with_lock=not unpinned)
        elif path.name in ("Pipfile", "Pipfile.lock"):
            _read_pipfile(root, path, found)
        else:
            read_pip_file(root, path, found, set())
        if sources.lock and not unpinned and name == files[0]:
            # Everything the lock file names (its pins, and the project's own requirements it was locked from).
            found.locked = {canonicalize_name(pin.partition("==")[0]) for pin in found.constraints}
            found.locked |= {canonicalize_name(Requirement(line).name) for line in found.requirements}
        elif sources.lock and unpinned and name == files[len(sources.unpinned) - 1]:
            # In the lock's place, its spec decides the packages it gives a version; another file may still
            # narrow a package it leaves open (mlflow = "*" in the Pipfile, mlflow==2.6.0 beside a command).
            found.locked = {canonicalize_name(r.name) for r in map(Requirement, found.requirements) if r.specifier}
    for position, line in enumerate(extra):
        add_requirement(found, f"capstone.yaml: dependencies.extra[{position}]", line)
    if found.hashed:
        found.ignored.append(f"{found.hashed} requirement(s) carry --hash: the versions they pin are installed, "
                             "the hashes are not checked")
    if not found.files:
        found.notes += [f"{name}: {why}" for name, why in UNSUPPORTED.items() if (root / name).exists()]
    return found


def _read_pyproject(root: Path, path: Path, found: RequirementSet, *, with_lock: bool) -> bool:
    """``[project].dependencies`` with the dev/test dependency groups and extras (else Poetry's tables, with its
    dev/test groups), and, ``with_lock``, the pins of a uv.lock or poetry.lock beside it as constraints."""
    text = read_text(root, path, found)
    if text is None:
        return False
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found.notes.append(f"pyproject.toml: not valid TOML ({exc})")
        return False
    declared = pyproject_declared(document)
    if declared is None:
        project = document.get("project")
        dynamic = isinstance(project, dict) and "dependencies" in (project.get("dynamic") or [])
        found.notes.append("pyproject.toml: " + ("dynamic dependencies are not read" if dynamic
                                                 else "no [project].dependencies or [tool.poetry.dependencies]"))
        return False
    found.files.append(path.resolve().relative_to(root).as_posix())
    add_declared(found, declared)
    if with_lock:
        _read_lock_pins(root, found)
    return True


def pyproject_declared(document: dict[str, Any]) -> Declared | None:
    """What a parsed pyproject.toml declares (None when it declares nothing the grader reads)."""
    project: dict[str, Any] = document["project"] if isinstance(document.get("project"), dict) else {}
    tool: dict[str, Any] = document["tool"] if isinstance(document.get("tool"), dict) else {}
    poetry: dict[str, Any] = tool["poetry"] if isinstance(tool.get("poetry"), dict) else {}
    dependencies = project.get("dependencies")
    declared = Declared()
    if isinstance(dependencies, list):
        declared.entries += [(f"pyproject.toml: project.dependencies[{i}]", str(e)) for i, e in enumerate(dependencies)]
        groups = document.get("dependency-groups") or {}
        extras = project.get("optional-dependencies") or {}
        for table, where in ((groups, "dependency-groups"), (extras, "project.optional-dependencies")):
            for group in TEST_GROUPS:
                entries = table.get(group) if isinstance(table, dict) else None
                declared.entries += [(f"pyproject.toml: {where}.{group}[{i}]", str(e))
                                     for i, e in enumerate(entries or []) if isinstance(e, str)]
        return declared
    main = poetry.get("dependencies")
    if not (isinstance(main, dict) and set(map(str.lower, main)) - {"python"}):
        return None
    declared = poetry_requirements(main, "pyproject.toml: tool.poetry.dependencies")
    tables = [("tool.poetry.dev-dependencies", poetry.get("dev-dependencies"))]
    tables += [(f"tool.poetry.group.{g}.dependencies", ((poetry.get("group") or {}).get(g) or {}).get("dependencies"))
               for g in TEST_GROUPS]
    for where, table in tables:
        if isinstance(table, dict):
            more = poetry_requirements(table, f"pyproject.toml: {where}")
            declared.entries += more.entries
            declared.ignored += more.ignored
    return declared


def _read_lock_pins(root: Path, found: RequirementSet) -> None:
    """The first lock beside pyproject.toml that parses gives its pins as constraints."""
    for name in ("uv.lock", "poetry.lock"):
        path = root / name
        if not (path.is_file() or path.is_symlink()):
            continue
        text = read_text(root, path, found, MAX_LOCK_BYTES)
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
    """Pipfile.lock's ``default`` and ``develop`` packages (all pinned), or a Pipfile's packages."""
    text = read_text(root, path, found, MAX_LOCK_BYTES if path.name == "Pipfile.lock" else MAX_FILE_BYTES)
    if text is None:
        return False
    try:
        declared = pipfile_lock_requirements(text) if path.name == "Pipfile.lock" else pipfile_requirements(text)
    except (ValueError, TypeError, AttributeError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        found.notes.append(f"{path.name}: not readable ({exc})")
        return False
    found.files.append(path.resolve().relative_to(root).as_posix())
    add_declared(found, declared)
    return True
