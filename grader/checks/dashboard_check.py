"""``dashboard``: the candidate's Grafana dashboard parses and queries only metrics that really exist.

The dashboard is the manifest's ``monitoring.dashboard`` (a JSON file in the repository). Passes when
it parses as a JSON object with at least ``min_panels`` panels carrying PromQL queries (``targets[].expr``,
rows' nested panels included), and every metric name those queries read is one the candidate's server
really exposes: sample names as written in the probe's scrape of the metrics endpoint after its
traffic (``<counter>_total``, ``<histogram>_bucket``...), the recording rules of the manifest's
``monitoring.rules``, or series Prometheus writes itself (``up``, ``ALERTS``, ...). A query the grader
cannot read, or a ``__name__`` regex, fails with the panel named.

Example::

    - {id: dashboard-queries, title: Dashboard queries real metrics, type: dashboard, points: 3,
       needs: [metrics-exposition], min_panels: 2}
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.errors import LabError
from grader.evidence.alert_scenarios import rule_names
from grader.evidence.prometheus import parse_exposition
from grader.evidence.promql import PROMETHEUS_SERIES, dashboard_queries, selectors
from grader.evidence.request import EvidenceRequest
from grader.labs.yamlio import load_yaml
from grader.models import CheckOutcome

MAX_DASHBOARD_BYTES = 2 * 1024 * 1024


class Params(CheckParams):
    min_panels: int = Field(1, ge=1, description="fewest panels with a PromQL query")


def plan(params: Params) -> EvidenceRequest:
    """The metrics the server exposes, as scraped after the grader's own traffic."""
    return EvidenceRequest(metrics_scrapes=True)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    declared = ctx.manifest.monitoring.dashboard if ctx.manifest is not None else None
    if not declared:
        return CheckOutcome.failed("capstone.yaml declares no monitoring.dashboard (the Grafana dashboard JSON)")
    found = ctx.find(declared)
    if len(found) != 1:
        return CheckOutcome.failed(f"monitoring.dashboard: {len(found)} files match {declared!r}, expected one")
    path = found[0]
    if path.stat().st_size > MAX_DASHBOARD_BYTES:
        return CheckOutcome.failed(f"{declared} is over {MAX_DASHBOARD_BYTES} bytes")
    try:
        dashboard = json.loads(ctx.read_text(path, MAX_DASHBOARD_BYTES))
    except ValueError as exc:
        return CheckOutcome.failed(f"{declared} is not valid JSON: {exc}")
    # Grafana's export wraps the dashboard in {"dashboard": {...}} when saved through the API.
    if isinstance(dashboard, dict) and isinstance(dashboard.get("dashboard"), dict):
        dashboard = dashboard["dashboard"]
    if not isinstance(dashboard, dict):
        return CheckOutcome.failed(f"{declared} is not a JSON object (a Grafana dashboard)")
    titles, queries = dashboard_queries(dashboard)
    panels_with_queries = sorted({q.panel for q in queries})
    evidence: dict[str, Any] = {"panels": titles[:50], "queries": [f"{q.panel}: {q.expr}" for q in queries][:50]}
    if len(panels_with_queries) < params.min_panels:
        return CheckOutcome.failed(f"{len(panels_with_queries)} panel(s) with a PromQL query, at least "
                                   f"{params.min_panels} expected", **evidence)
    exposed = _exposed_names(ctx)
    recorded = _recording_rules(ctx)
    known = exposed | recorded | PROMETHEUS_SERIES
    evidence.update(exposed=sorted(exposed)[:100], recording_rules=sorted(recorded)[:50])
    problems = []
    for query in queries:
        try:
            selected = selectors(query.expr)
        except ValueError as exc:
            problems.append(f"panel {query.panel!r}: cannot read {query.expr!r}: {exc}")
            continue
        problems += [f"panel {query.panel!r}: {name} is not exposed by the server"
                     for name in sorted(selected.metrics - known)]
        problems += [f"panel {query.panel!r}: __name__ regex {pattern!r} names no metric for certain"
                     for pattern in sorted(selected.name_patterns)]
    if problems:
        return CheckOutcome.failed(f"{len(problems)} problem(s): {problems[0]}", problems=problems[:30], **evidence)
    return CheckOutcome.passed(f"{len(queries)} queries in {len(panels_with_queries)} panels read only exposed "
                               "metrics", **evidence)


def _exposed_names(ctx: CheckContext) -> set[str]:
    """Sample names exactly as the server wrote them, from the probe's scrape after its own traffic."""
    body = ctx.require_facts().serving().scrape_after.body
    try:
        families = parse_exposition(body)
    except (ValueError, IndexError, KeyError):
        return set()
    return {name for family in families for name in family.exposed}


def _recording_rules(ctx: CheckContext) -> set[str]:
    pattern = ctx.require_manifest().monitoring.rules
    names: set[str] = set()
    for path in ctx.find(pattern) if pattern else []:
        try:
            names.update(rule_names(load_yaml(path).data)[1])
        except (LabError, yaml.YAMLError):
            continue
    return names


CHECK = CheckType(name="dashboard", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
