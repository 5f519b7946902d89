"""The formats beside pip's: Poetry's dependency tables and poetry.lock, uv.lock, Pipfile and Pipfile.lock.

Pure parsers of text: each returns requirements as ``(where, requirement)`` in pip's syntax, pins as
``name==version``, and what it left out with the reason. A lock file's pins are used as *constraints*: they fix
the version of every package the declared requirements pull in, and restrict nothing the requirements do not need
(a universal lock also pins Windows-only packages and dev groups).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

LOCK_FILES = ("uv.lock", "poetry.lock")  # read as constraints beside pyproject.toml


@dataclass
class Declared:
    """Requirements read from one file: ``(where, requirement)`` pairs and what was left out, with why."""

    entries: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


# --- Poetry ----------------------------------------------------------------------------------------------


def poetry_constraint(spec: str) -> str:
    """A Poetry version constraint in PEP 440: ``^1.2.3`` → ``>=1.2.3,<2.0.0``, ``~1.2`` → ``>=1.2,<1.3``,
    ``1.2.3`` → ``==1.2.3``, ``*`` → no constraint. ValueError for what PEP 440 cannot say (``||``)."""
    spec = spec.strip()
    if "||" in spec or "|" in spec:
        raise ValueError(f"alternative ranges ({spec!r}) have no pip equivalent")
    parts = [p.strip() for p in re.split(r",|\s+(?=[<>=!~^])", spec) if p.strip()]
    return ",".join(filter(None, (_poetry_part(part) for part in parts)))


def _poetry_part(part: str) -> str:
    if part in ("*", ""):
        return ""
    if part.startswith("^"):
        return _caret(part[1:].strip())
    if part.startswith("~") and not part.startswith("~="):
        return _tilde(part[1:].strip())
    if re.match(r"^[0-9]", part):
        return f"=={part}"
    return part.replace(" ", "")


def _caret(version: str) -> str:
    numbers = [int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3]]
    first = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
    upper = numbers[: first + 1]
    upper[-1] += 1
    return f">={version},<{'.'.join(map(str, upper + [0] * (len(numbers) - len(upper))))}"


def _tilde(version: str) -> str:
    numbers = [int(n) for n in re.findall(r"\d+", version)[:3]]
    keep = numbers[:2] if len(numbers) >= 2 else numbers[:1]
    upper = [*keep[:-1], keep[-1] + 1]
    return f">={version},<{'.'.join(map(str, upper))}"


def poetry_requirements(dependencies: dict[str, Any], where: str) -> Declared:
    """``[tool.poetry.dependencies]`` as pip requirements (``python`` and VCS/path dependencies left out)."""
    declared = Declared()
    for name, value in dependencies.items():
        place = f"{where}.{name}"
        if name.lower() == "python":
            continue
        if isinstance(value, list):
            declared.ignored.append(f"{place} (multiple-constraint dependencies are not read)")
            continue
        table = value if isinstance(value, dict) else {"version": value}
        source = next((key for key in ("git", "path", "url", "file") if key in table), None)
        if source:
            declared.ignored.append(f"{place} ({source} dependencies are not installed)")
            continue
        try:
            specifier = poetry_constraint(str(table.get("version", "*")))
        except ValueError as exc:
            declared.ignored.append(f"{place} ({exc})")
            continue
        extras = table.get("extras") or []
        extra_text = f"[{','.join(map(str, extras))}]" if extras else ""
        markers = str(table["markers"]) if table.get("markers") else ""
        declared.entries.append((place, f"{name}{extra_text}{specifier}{f'; {markers}' if markers else ''}"))
    return declared


def poetry_lock_pins(text: str) -> list[str]:
    """``name==version`` of every package poetry.lock takes from an index (VCS, path and URL sources left out)."""
    pins = []
    for package in tomllib.loads(text).get("package", []):
        source = package.get("source") or {}
        if source.get("type") in ("git", "directory", "file", "url"):
            continue
        pins.append(f"{package['name']}=={package['version']}")
    return pins


# --- uv ----------------------------------------------------------------------------------------------------


def uv_lock_pins(text: str) -> list[str]:
    """``name==version`` of every package uv.lock takes from an index (the project itself and local or VCS
    sources left out)."""
    pins = []
    for package in tomllib.loads(text).get("package", []):
        if "registry" not in (package.get("source") or {}) or "version" not in package:
            continue
        pins.append(f"{package['name']}=={package['version']}")
    return pins


# --- Pipenv ------------------------------------------------------------------------------------------------


def pipfile_requirements(text: str) -> Declared:
    """``[packages]`` and ``[dev-packages]`` of a Pipfile (the tests run with the dev packages, as
    ``pipenv install --dev`` in the candidate's CI does)."""
    declared = Declared()
    document = tomllib.loads(text)
    for section in ("packages", "dev-packages"):
        for name, value in (document.get(section) or {}).items():
            table = value if isinstance(value, dict) else {"version": value}
            if not any(where.endswith(f".{name}") for where, _ in declared.entries):
                _pipenv_entry(declared, f"Pipfile: {section}.{name}", name, table)
    return declared


def pipfile_lock_requirements(text: str) -> Declared:
    """The ``default`` and ``develop`` sections of Pipfile.lock: every package the project and its tests run
    with, pinned, with its markers (``default`` wins when both pin a package)."""
    declared = Declared()
    document = json.loads(text)
    seen: set[str] = set()
    for section in ("default", "develop"):
        locked = document.get(section) or {}
        if not isinstance(locked, dict):
            raise ValueError(f"its {section!r} section is not a table")
        for name, table in locked.items():
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            _pipenv_entry(declared, f"Pipfile.lock: {section}.{name}", name, table if isinstance(table, dict) else {})
    return declared


def _pipenv_entry(declared: Declared, where: str, name: str, table: dict[str, Any]) -> None:
    source = next((key for key in ("editable", "git", "path", "file") if key in table), None)
    if source:
        declared.ignored.append(f"{where} ({source} dependencies are not installed)")
        return
    version = str(table.get("version", "*")).strip()
    extras = table.get("extras") or []
    extra_text = f"[{','.join(map(str, extras))}]" if extras else ""
    markers = str(table["markers"]) if table.get("markers") else ""
    declared.entries.append((where, f"{name}{extra_text}{'' if version == '*' else version}"
                                    f"{f'; {markers}' if markers else ''}"))
