"""One candidate of a cohort as the exporters see it: the job's end and the newest report, if any."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from grader.models import Report

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CohortEntry:
    """A candidate, how its newest grading ended (``graded``/``error``/``queued``/``running``), the reason of an
    error, the newest report (None when no grading finished) and the folder holding its files."""

    candidate: str
    state: str
    error: str | None
    report: Report | None
    report_dir: Path | None
    file_stem: str  # a file-system-safe name for per-submission files

    @property
    def report_html(self) -> Path | None:
        """The candidate's HTML report, when it was written."""
        if self.report_dir is None:
            return None
        path = self.report_dir / "report.html"
        return path if path.exists() else None


def safe_stem(candidate: str) -> str:
    """A file or folder name for a candidate that shells take without quoting (names come from rosters: anything
    goes). A name that had to be changed gets a short hash of the original, so "a b" and "a_b" stay apart."""
    cleaned = _UNSAFE.sub("_", candidate).strip("._")[:60] or "candidate"
    if cleaned == candidate:
        return cleaned
    return f"{cleaned}-{hashlib.sha256(candidate.encode()).hexdigest()[:8]}"
