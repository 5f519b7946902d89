"""``report.html``: everything, for reviewers, in one self-contained page.

Unlike the candidate's Markdown it shows hidden checks (marked), evidence, step and service output. The
page is built to be opened safely even when the submission is hostile: every string is cleaned of
terminal escapes before it reaches the template, Jinja2 autoescapes all of it, the template has no
``|safe``, no script and no external resource, and a Content-Security-Policy forbids both anyway.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from grader.models import Report
from grader.results.report.text import clean_text, format_percent, format_points, tail

FILENAME = "report.html"
TEMPLATE = "report.html.j2"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)
# Reviewers want the end of a log (where the error is); the stored output is already capped by the sandbox.
OUTPUT_TAIL_CHARS = 20_000


def render(report: Report) -> str:
    """The reviewer's report as one HTML page with inline CSS and no JavaScript."""
    template = _environment().get_template(TEMPLATE)
    return template.render(
        report=_view(report),
        csp=CONTENT_SECURITY_POLICY,
        percent=format_percent(report.score, report.max_score),
        pass_mark=format_percent(report.pass_mark, 1),
    )


def _environment() -> Environment:
    # A new environment per render keeps the module free of global state; parsing one template is cheap.
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["points"] = format_points
    return env


def clean_tree(value: Any) -> Any:
    """A copy of JSON-like data with every string (keys included) passed through :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_tree(v) for v in value]
    return value


def _view(report: Report) -> dict[str, Any]:
    """The report as cleaned plain data, plus what the template should not compute (grouping, tails)."""
    view: dict[str, Any] = clean_tree(report.model_dump(mode="json"))
    for check in view["checks"]:
        evidence = check["evidence"]
        check["evidence_json"] = (
            json.dumps(evidence, indent=2, sort_keys=True, ensure_ascii=False) if evidence else ""
        )
    for step, model in zip(view["steps"], report.steps, strict=True):
        step["failure_reason"] = clean_text(model.failure_reason or "")
        step["stdout_tail"], step["stdout_tail_omitted"] = tail(step["stdout"], OUTPUT_TAIL_CHARS)
        step["stderr_tail"], step["stderr_tail_omitted"] = tail(step["stderr"], OUTPUT_TAIL_CHARS)
    for service in view["services"]:
        service["log_tail"], service["log_tail_omitted"] = tail(service["log_tail"], OUTPUT_TAIL_CHARS)
    view["sections"] = _group_by_section(view["checks"], report.sections)
    view["hidden_count"] = sum(1 for c in view["checks"] if c["visibility"] == "hidden")
    view["manual_checks"] = [c for c in view["checks"] if c["status"] == "manual"]
    return view


def _group_by_section(checks: list[dict[str, Any]], titles: dict[str, str]) -> list[dict[str, Any]]:
    """Checks grouped by section, sections in the order their first check appears, with subtotals."""
    sections: dict[str, dict[str, Any]] = {}
    for check in checks:
        title = clean_text(titles.get(check["section"], check["section"]))
        empty = {"id": check["section"], "title": title, "checks": [], "points": 0.0, "max_points": 0.0}
        section = sections.setdefault(check["section"], empty)
        section["checks"].append(check)
        section["points"] += check["points"]
        if check["status"] != "manual":  # a reviewer's points are outside the automatic subtotal
            section["max_points"] += check["max_points"]
    return list(sections.values())
