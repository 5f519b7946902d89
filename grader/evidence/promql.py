"""Which metric names a PromQL expression reads, and which queries a Grafana dashboard holds.

Not a full PromQL parser: a tokenizer that knows enough of the grammar to tell metric names from
functions, aggregations, keywords, label names (in ``{...}`` matchers and ``by``/``on (...)`` lists),
durations and strings. Grafana's template variables (``$__rate_interval``, ``${job}``) are read as
opaque tokens. ``{__name__="x"}`` names metric ``x``; a regex ``__name__`` matcher names nothing
certain and is reported separately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
})
KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
    "atan2", "inf", "nan",
})
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
# Series Prometheus itself writes for every scrape target and alerting rule.
PROMETHEUS_SERIES = frozenset({
    "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
    "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE",
})

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    | (?P<variable>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\])
    | (?P<number>0x[0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)
    | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@:])
    """,
    re.VERBOSE,
)


@dataclass
class Selectors:
    """What an expression selects: metric names, and ``__name__`` regexes that cannot be resolved."""

    metrics: set[str] = field(default_factory=set)
    name_patterns: set[str] = field(default_factory=set)


def tokenize(expr: str) -> list[tuple[str, str]]:
    """(kind, text) tokens; raises ValueError at a character PromQL cannot start a token with."""
    tokens, position = [], 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"unexpected character {expr[position]!r} at offset {position}")
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def _unquote(token: str) -> str:
    return token[1:-1]


def selectors(expr: str) -> Selectors:
    """The metric names ``expr`` reads."""
    tokens = tokenize(expr)
    found = Selectors()
    depth_brace = depth_bracket = 0
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if text == "{":
            depth_brace += 1
        elif text == "}":
            depth_brace = max(0, depth_brace - 1)
        elif text == "[":
            depth_bracket += 1
        elif text == "]":
            depth_bracket = max(0, depth_bracket - 1)
        elif depth_brace:
            if text == "__name__" and index + 2 < len(tokens) and tokens[index + 2][0] == "string":
                operator, value = following, _unquote(tokens[index + 2][1])
                (found.metrics if operator == "=" else found.name_patterns).add(value)
                index += 2
        elif kind == "name" and not depth_bracket:
            lowered = text.lower()
            if lowered in LABEL_LIST_KEYWORDS and following == "(":
                index = _skip_parenthesised(tokens, index + 1)
                continue
            is_call = following == "("
            is_aggregation = lowered in AGGREGATIONS and following in ("(", "by", "without")
            if not (is_call or is_aggregation or lowered in KEYWORDS):
                found.metrics.add(text)
        index += 1
    return found


def _skip_parenthesised(tokens: list[tuple[str, str]], start: int) -> int:
    """Index after the parenthesised group opening at ``start``."""
    depth, index = 0, start
    while index < len(tokens):
        if tokens[index][1] == "(":
            depth += 1
        elif tokens[index][1] == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return index


@dataclass(frozen=True)
class PanelQuery:
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
