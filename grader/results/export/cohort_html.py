"""``cohort.html``: one self-contained page about a whole cohort, for instructors and reviewers.

Score distribution (an inline SVG bar chart), per-check pass rates, the checks no submission passed (most
likely a broken check or lab, not a weak cohort), the slowest phases, and one row per candidate linking to
its report. Like report.html it is safe to open whatever the submissions contain: every string goes through
``clean_text`` and Jinja2's autoescaping (no ``|safe``), there is no script and no external resource, and a
Content-Security-Policy forbids both anyway.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, StrictUndefined

from grader.results.export.cohort_stats import BINS, CohortStats, cohort_stats
from grader.results.export.cohort_template import TEMPLATE
from grader.results.export.entries import CohortEntry
from grader.results.report.text import clean_text

FILENAME = "cohort.html"
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 560, 220, 30


def write(entries: Sequence[CohortEntry], out_dir: Path) -> list[Path]:
    """Write cohort.html into ``out_dir`` (links to reports are relative to it)."""
    path = out_dir / FILENAME
    path.write_text(render(entries, out_dir, title=_title(entries)), encoding="utf-8")
    return [path]


def _title(entries: Sequence[CohortEntry]) -> str:
    lab = next((e.report.lab for e in entries if e.report is not None), None)
    return f"Cohort report — {lab.get('title', lab.get('id', ''))}" if lab else "Cohort report"


def render(entries: Sequence[CohortEntry], out_dir: Path, title: str = "Cohort report") -> str:
    """The cohort page; report links are relative to ``out_dir``."""
    stats = cohort_stats(entries)
    environment = Environment(autoescape=True, undefined=StrictUndefined)
    environment.filters["clean"] = clean_text
    return environment.from_string(TEMPLATE).render(
        title=title, csp=CONTENT_SECURITY_POLICY, stats=stats, bars=_bars(stats), chart=_chart_frame(),
        rows=[_row(entry, out_dir) for entry in entries], percent=_percent,
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _chart_frame() -> dict[str, int]:
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "margin": CHART_MARGIN}


def _bars(stats: CohortStats) -> list[dict[str, object]]:
    """One bar per tenth of the score range, scaled to the fullest bin."""
    tallest = max(stats.histogram) or 1
    plot_height = CHART_HEIGHT - 2 * CHART_MARGIN
    slot = (CHART_WIDTH - 2 * CHART_MARGIN) / BINS
    bars = []
    for index, count in enumerate(stats.histogram):
        height = plot_height * count / tallest
        low = index * 100 // BINS
        bars.append({"x": round(CHART_MARGIN + index * slot + 2, 1), "width": round(slot - 4, 1),
                     "y": round(CHART_HEIGHT - CHART_MARGIN - height, 1), "height": round(height, 1),
                     "count": count, "label": f"{low}-{low + 100 // BINS}%",
                     "label_x": round(CHART_MARGIN + (index + 0.5) * slot, 1)})
    return bars


def _row(entry: CohortEntry, out_dir: Path) -> dict[str, object]:
    report = entry.report
    html = entry.report_html
    link = quote(Path(os.path.relpath(html, out_dir.resolve())).as_posix()) if html else None
    return {
        "candidate": entry.candidate,
        "state": entry.state,
        "score": f"{report.score:g}/{report.max_score:g}" if report else "",
        "percent": _percent(100 * report.score / report.max_score) if report and report.max_score else "",
        "passed": ("yes" if report.passed else "no") if report and report.outcome == "graded" else "",
        "error": entry.error or (report.error if report else None) or "",
        "link": link,
    }
