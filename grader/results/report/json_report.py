"""``report.json``: the whole Report, for machines (CI, dashboards, the results store's consumers).

Keys are sorted and the layout fixed, so the same report always gives the same bytes and two reports diff
cleanly. Nothing is cleaned or hidden here: this is the complete record (see docs/report-format.md).
"""

from __future__ import annotations

import json

from grader.models import Report

FILENAME = "report.json"


def render(report: Report) -> str:
    """The report as indented JSON with sorted keys and a trailing newline."""
    return json.dumps(report.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
