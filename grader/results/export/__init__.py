"""Cohort outputs: a whole batch's newest reports as a CSV gradebook, Gradescope ``results.json`` and JUnit
XML per submission, and one self-contained HTML cohort report.

Each format is a module with a ``write(entries, out_dir) -> list[Path]``; :data:`EXPORTERS` is the name →
module table. Exporters read ``CohortEntry`` values only, never the queue or the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from grader.errors import BadInputError
from grader.results.export import cohort_html, gradebook, gradescope, junit
from grader.results.export.entries import CohortEntry


class Exporter(Protocol):
    """What an export format module provides."""

    def write(self, entries: Sequence[CohortEntry], out_dir: Path) -> list[Path]: ...


EXPORTERS: dict[str, Exporter] = {"csv": gradebook, "gradescope": gradescope, "junit": junit, "html": cohort_html}


def export(entries: Sequence[CohortEntry], fmt: str, out_dir: Path) -> list[Path]:
    """Write ``entries`` in one format into ``out_dir``; returns the files written."""
    try:
        exporter = EXPORTERS[fmt]
    except KeyError:
        raise BadInputError(f"unknown export format {fmt!r}: choose from {', '.join(EXPORTERS)}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    return exporter.write(entries, out_dir)


__all__ = ["EXPORTERS", "CohortEntry", "export"]
