"""What a batch grades: one ``JobInput`` per candidate, from a roster CSV, a folder of submissions or paths.

A roster has a ``candidate`` and a ``repository`` column and an optional ``ref``. The column names of GitHub
Classroom's exports work as they are: its assignment grades export (``roster_identifier`` or
``github_username`` for the candidate, ``student_repository_url`` for the repository). A problem with one row
(an empty repository cell, a candidate listed twice) becomes that candidate's error; the other rows are still
graded. A roster the grader cannot read at all (no candidate or repository column) is refused as a whole.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from grader.cohort.queue import JobInput
from grader.errors import BadInputError

# First match wins: our own names, then GitHub Classroom's.
CANDIDATE_COLUMNS = ("candidate", "roster_identifier", "github_username", "identifier", "student", "name")
REPOSITORY_COLUMNS = ("repository", "student_repository_url", "repository_url", "repo", "url")
REF_COLUMNS = ("ref", "commit", "branch")
_ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_ROSTER_LIMIT = 100_000  # rows; a roster beyond this is not a class


def read_roster(path: Path) -> list[JobInput]:
    """The candidates of a roster CSV, in file order; relative repository paths are taken from the roster's
    folder."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheet software writes a byte-order mark
    except FileNotFoundError:
        raise BadInputError(f"roster {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"roster {path} cannot be read as UTF-8 text: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    headers = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    candidate_column = _pick(headers, CANDIDATE_COLUMNS)
    repository_column = _pick(headers, REPOSITORY_COLUMNS)
    missing = [what for what, found in (("candidate", candidate_column), ("repository", repository_column))
               if found is None]
    if missing:
        raise BadInputError(
            f"roster {path} has no {' and no '.join(missing)} column (its columns: {', '.join(headers) or 'none'}); "
            f"name them {' and '.join(missing)} (GitHub Classroom's roster_identifier/github_username and "
            "student_repository_url work too)")
    ref_column = _pick(headers, REF_COLUMNS)
    rows: list[tuple[int, str, str, str | None]] = []
    for number, row in enumerate(reader, start=2):
        if number > _ROSTER_LIMIT:
            raise BadInputError(f"roster {path} has more than {_ROSTER_LIMIT} rows")
        candidate = (row.get(candidate_column or "") or "").strip()
        repository = (row.get(repository_column or "") or "").strip()
        ref = (row.get(ref_column or "") or "").strip() if ref_column else ""
        if not candidate and not repository:
            continue  # a blank line
        rows.append((number, candidate, repository, ref or None))
    return _from_rows(path, rows)


def _pick(headers: dict[str, str], names: Sequence[str]) -> str | None:
    return next((headers[name] for name in names if name in headers), None)


def _from_rows(path: Path, rows: list[tuple[int, str, str, str | None]]) -> list[JobInput]:
    lines_of: dict[str, list[int]] = {}
    for number, candidate, _, _ in rows:
        lines_of.setdefault(candidate, []).append(number)
    inputs: list[JobInput] = []
    for number, candidate, repository, ref in rows:
        lines = lines_of[candidate]
        if not candidate:
            inputs.append(JobInput(f"row-{number}", repository, ref,
                                   f"{path.name} line {number}: the candidate cell is empty"))
        elif len(lines) > 1:
            if number == lines[0]:
                inputs.append(JobInput(candidate, repository, ref, (
                    f"candidate {candidate!r} is listed {len(lines)} times in {path.name} (lines "
                    f"{', '.join(map(str, lines))}): keep one row and run the batch again")))
        elif not repository:
            inputs.append(JobInput(candidate, "", ref, f"{path.name} line {number}: the repository cell is empty"))
        else:
            inputs.append(JobInput(candidate, _resolve(repository, path.parent), ref))
    return inputs


def _resolve(repository: str, base: Path) -> str:
    if "://" in repository or repository.startswith("git@") or Path(repository).is_absolute():
        return repository
    return str((base / repository).resolve())


def read_folder(folder: Path) -> list[JobInput]:
    """One candidate per subfolder or archive of ``folder`` (named after it, archive suffix removed)."""
    if not folder.is_dir():
        raise BadInputError(f"submissions folder {folder} does not exist or is not a folder")
    inputs: list[JobInput] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            problem = None if any(entry.iterdir()) else f"the submission folder {entry.name}/ is empty"
            inputs.append(JobInput(entry.name, str(entry.resolve()), None, problem))
        elif entry.name.lower().endswith(_ARCHIVE_SUFFIXES):
            inputs.append(JobInput(_strip_archive_suffix(entry.name), str(entry.resolve())))
    if not inputs:
        raise BadInputError(f"submissions folder {folder} holds no submissions (one subfolder or .zip/.tar.gz "
                            "archive per candidate expected)")
    return _deduplicated(inputs)


def read_paths(paths: Sequence[str]) -> list[JobInput]:
    """One candidate per explicit path or URL, named after its last path component."""
    inputs = []
    for source in paths:
        is_remote = "://" in source or source.startswith("git@")
        name = _strip_archive_suffix(source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "submission")
        if not is_remote:
            path = Path(source)
            problem = None
            if path.is_dir() and not any(path.iterdir()):
                problem = f"the submission folder {source} is empty"
            source = str(path.resolve())
            inputs.append(JobInput(name, source, None, problem))
        else:
            inputs.append(JobInput(name, source))
    return _deduplicated(inputs)


def _strip_archive_suffix(name: str) -> str:
    lowered = name.lower()
    for suffix in _ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _deduplicated(inputs: list[JobInput]) -> list[JobInput]:
    """Two paths with the same last component (``a/alice`` and ``b/alice``) get ``alice`` and ``alice-2``."""
    seen: dict[str, int] = {}
    unique = []
    for item in inputs:
        count = seen.get(item.candidate, 0) + 1
        seen[item.candidate] = count
        name = item.candidate if count == 1 else f"{item.candidate}-{count}"
        unique.append(JobInput(name, item.source, item.ref, item.problem))
    return unique
