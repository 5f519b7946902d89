"""Which metric names a PromQL expression reads, and which queries a Grafana dashboard holds.

Expressions are parsed by ``promql-parser`` (a port of Prometheus' own parser), so every query Prometheus
accepts is read and one it refuses is reported with the parser's reason. The metric names are those of the
parsed vector selectors: a selector's name, or its ``{__name__="x"}`` matcher; a ``__name__`` matcher
that is not an equality (a regex) names nothing certain and is reported separately.

Grafana's template variables (``$__rate_interval``, ``${job}``, ``[[job]]``) are not PromQL. Outside
string literals, where they would stop the parser, each is replaced before parsing by a stand-in of the
kind its place needs: a duration inside ``[...]`` and after ``offset``, a label name in ``by (...)`` and
the like; elsewhere a name no metric has or, when that does not parse (``topk($n, x)``), a number.
Inside strings (``{job="$job"}``) they stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import promql_parser

# Series Prometheus itself writes for every scrape target and alerting rule.
PROMETHEUS_SERIES = frozenset({
    "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
    "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE",
})
METRIC_NAME_LABEL = "__name__"
# Stand-ins for Grafana variables: a name no candidate's metric has, a duration, a number.
VARIABLE_NAME_STAND_IN = "grafana_template_variable"
VARIABLE_DURATION_STAND_IN = "5m"
VARIABLE_NUMBER_STAND_IN = "1"

_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]")
_STRING_OR_COMMENT = re.compile(r""""(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`|\#[^\n]*""")
_ENDS_WITH_OFFSET = re.compile(r"\boffset\s*-?\s*$", re.IGNORECASE)
_IN_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*$", re.IGNORECASE)


@dataclass
class Selectors:
    """What an expression selects: metric names, and ``__name__`` regexes that cannot be resolved."""

    metrics: set[str] = field(default_factory=set)
    name_patterns: set[str] = field(default_factory=set)


def selectors(expr: str) -> Selectors:
    """The metric names ``expr`` reads; raises ValueError with the parser's reason when it is not PromQL."""
    found = Selectors()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            _add_selected(node, found)

    promql_parser.walk(parse(expr), visit)
    found.metrics.discard(VARIABLE_NAME_STAND_IN)
    return found


def parse(expr: str) -> promql_parser.Expr:
    """The syntax tree of ``expr`` (Grafana variables replaced by stand-ins); raises ValueError with the
    parser's reason when Prometheus would refuse it."""
    first_error: ValueError | None = None
    for text in _with_stand_ins(expr):
        try:
            return promql_parser.parse(text)
        except ValueError as exc:
            first_error = first_error or exc
    assert first_error is not None  # _with_stand_ins yields at least the expression itself
    raise first_error


def _add_selected(selector: promql_parser.VectorSelector, found: Selectors) -> None:
    if selector.name:
        found.metrics.add(selector.name)
    matcher_sets = [selector.matchers.matchers, *selector.matchers.or_matchers]
    for matcher in (m for matchers in matcher_sets for m in matchers):
        if matcher.name != METRIC_NAME_LABEL:
            continue
        exact = matcher.op == promql_parser.MatchOp.Equal
        (found.metrics if exact else found.name_patterns).add(matcher.value)


def _with_stand_ins(expr: str) -> Iterator[str]:
    """``expr`` with its Grafana variables replaced: first by names, then (if that differs) by numbers."""
    as_names = _replace_variables(expr, VARIABLE_NAME_STAND_IN)
    yield as_names
    as_numbers = _replace_variables(expr, VARIABLE_NUMBER_STAND_IN)
    if as_numbers != as_names:
        yield as_numbers


def _replace_variables(expr: str, stand_in: str) -> str:
    """Replace the variables outside strings and comments by ``stand_in``, or by the kind their place needs."""
    pieces: list[str] = []
    code_before = ""  # brackets are counted in code only: a string may hold "[" too
    position = 0
    for literal in _STRING_OR_COMMENT.finditer(expr):
        code = expr[position:literal.start()]
        pieces += [_replace_in_code(code, stand_in, code_before), literal.group()]
        code_before += code
        position = literal.end()
    pieces.append(_replace_in_code(expr[position:], stand_in, code_before))
    return "".join(pieces)


def _replace_in_code(code: str, stand_in: str, code_before: str) -> str:
    def replace(variable: re.Match[str]) -> str:
        preceding = code_before + code[:variable.start()]
        in_range = preceding.count("[") > preceding.count("]")
        if in_range or _ENDS_WITH_OFFSET.search(preceding):
            return VARIABLE_DURATION_STAND_IN
        return VARIABLE_NAME_STAND_IN if _IN_LABEL_LIST.search(preceding) else stand_in

    return _GRAFANA_VARIABLE.sub(replace, code)


@dataclass(frozen=True)
class PanelQuery:
    """One PromQL query of a dashboard and the title of the panel holding it."""

    panel: str
    expr: str


def dashboard_queries(dashboard: Any) -> tuple[list[str], list[PanelQuery]]:
    """Titles of every panel (rows' nested panels and legacy ``rows[].panels`` included) and the PromQL
    ``expr`` of each panel target."""
    panels: list[dict[str, Any]] = []

    def collect(items: Any) -> None:
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                panels.append(item)
                collect(item.get("panels"))

    if isinstance(dashboard, dict):
        collect(dashboard.get("panels"))
        for row in dashboard.get("rows") or [] if isinstance(dashboard.get("rows"), list) else []:
            if isinstance(row, dict):
                collect(row.get("panels"))
    titles: list[str] = []
    queries: list[PanelQuery] = []
    for panel in panels:
        if panel.get("type") == "row":
            continue
        title = str(panel.get("title") or f"panel {panel.get('id', len(titles) + 1)}")
        titles.append(title)
        for target in panel.get("targets") or [] if isinstance(panel.get("targets"), list) else []:
            expr = target.get("expr") if isinstance(target, dict) else None
            if isinstance(expr, str) and expr.strip():
                queries.append(PanelQuery(panel=title, expr=expr))
    return titles, queries
