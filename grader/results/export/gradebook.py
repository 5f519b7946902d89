"""``gradebook.csv``: one row per candidate, for spreadsheets and LMS grade imports.

Columns: candidate, state, score, max, percent, passed, error, one ``section:<id>`` column per rubric section
(points earned), one ``check:<id>`` column per check (its status), report path. Written as UTF-8 with a
byte-order mark (so spreadsheet software detects the encoding) and CRLF line ends (RFC 4180). A cell that
starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with ``'`` so no spreadsheet runs it
as a formula: candidate names and messages come from submissions and rosters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from grader.results.export.entries import CohortEntry
from grader.results.report.text import clean_text

FILENAME = "gradebook.csv"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write(entries: Sequence[CohortEntry], out_dir: Path) -> list[Path]:
    """Write the gradebook into ``out_dir``."""
    path = out_dir / FILENAME
    path.write_text(render(entries), encoding="utf-8-sig", newline="")
    return [path]


def render(entries: Sequence[CohortEntry]) -> str:
    """The gradebook as CSV text."""
    sections = _ordered(s for e in entries if e.report for s in e.report.sections)
    checks = _ordered(c.id for e in entries if e.report for c in e.report.checks)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["candidate", "state", "score", "max", "percent", "passed", "error",
                     *(f"section:{s}" for s in sections), *(f"check:{c}" for c in checks), "report"])
    for entry in entries:
        writer.writerow([_cell(value) for value in _row(entry, sections, checks)])
    return out.getvalue()


def _row(entry: CohortEntry, sections: list[str], checks: list[str]) -> list[str]:
    report = entry.report
    error = entry.error or (report.error if report else None) or ""
    if report is None:
        return [entry.candidate, entry.state, "", "", "", "", error, *([""] * (len(sections) + len(checks))), ""]
    earned = {s: 0.0 for s in report.sections}
    for check in report.checks:
        earned[check.section] = earned.get(check.section, 0.0) + check.points
    status = {check.id: check.status.value for check in report.checks}
    percent = f"{100 * report.score / report.max_score:.1f}" if report.max_score else ""
    html = entry.report_html
    return [entry.candidate, entry.state, f"{report.score:g}", f"{report.max_score:g}", percent,
            "yes" if report.passed else "no", error,
            *(f"{earned[s]:g}" if s in earned else "" for s in sections),
            *(status.get(c, "") for c in checks), str(html or entry.report_dir or "")]


def _cell(value: str) -> str:
    value = clean_text(value).replace("\n", " ")
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _ordered(values: object) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:  # type: ignore[attr-defined]
        seen.setdefault(value, None)
    return list(seen)
