"""Series the grader generates to test a candidate's alerting rules with ``promtool test rules``.

A scenario is minutes of synthetic traffic on the candidate's own metric names (the manifest's
``metrics.request_counter`` split by ``monitoring.status_label``, and ``metrics.latency_histogram``):
requests per minute, the share answered 5xx, and how long every request takes. The grader writes a
promtool unit-test file from it whose only assertion is whether the named alert is firing at the end,
read from the ``ALERTS`` series promtool's rule evaluation writes, so the candidate's labels and
annotations never have to be guessed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# prometheus_client's default buckets, used when the server's own histogram buckets are unknown.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
OK_STATUS, ERROR_STATUS = "200", "500"


@dataclass(frozen=True)
class Traffic:
    """One minute of synthetic traffic."""

    requests_per_minute: int
    error_ratio: float
    latency_seconds: float


@dataclass(frozen=True)
class MetricNames:
    """The candidate's metric names and labels the generated series use."""

    request_counter: str
    latency_histogram: str
    status_label: str = "status"
    extra_labels: Mapping[str, str] | None = None

    @property
    def counter_series(self) -> str:
        """Prometheus stores a counter's samples under ``<name>_total`` whether or not it was declared so."""
        return self.request_counter if self.request_counter.endswith("_total") else f"{self.request_counter}_total"

    @property
    def histogram_base(self) -> str:
        for suffix in ("_bucket", "_count", "_sum"):
            if self.latency_histogram.endswith(suffix):
                return self.latency_histogram.removesuffix(suffix)
        return self.latency_histogram


def label_set(labels: Mapping[str, str]) -> str:
    """``{a="x",b="y"}`` with values quoted as PromQL strings (JSON escaping is a subset of PromQL's)."""
    return "{" + ",".join(f"{name}={json.dumps(value)}" for name, value in labels.items()) + "}"


def _format_bucket(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _cumulative(per_minute: Sequence[float]) -> str:
    """Counter values at minutes 0..n, starting at 0, as promtool's space-separated sample list."""
    total, values = 0.0, ["0"]
    for increase in per_minute:
        total += increase
        values.append(f"{total:g}")
    return " ".join(values)


def input_series(names: MetricNames, minutes: Sequence[Traffic], buckets: Sequence[float] = DEFAULT_BUCKETS
                 ) -> list[dict[str, str]]:
    """promtool ``input_series`` for the given minutes of traffic (one sample per minute)."""
    extra = dict(names.extra_labels or {})
    errors = [round(t.requests_per_minute * t.error_ratio) for t in minutes]
    ok = [t.requests_per_minute - e for t, e in zip(minutes, errors, strict=True)]
    series = [
        {"series": names.counter_series + label_set({**extra, names.status_label: OK_STATUS}),
         "values": _cumulative(ok)},
        {"series": names.counter_series + label_set({**extra, names.status_label: ERROR_STATUS}),
         "values": _cumulative(errors)},
    ]
    bounds = [*sorted({float(b) for b in buckets if not math.isinf(float(b))}), math.inf]
    base = names.histogram_base
    for bound in bounds:
        observed = [t.requests_per_minute if t.latency_seconds <= bound else 0 for t in minutes]
        series.append({"series": f"{base}_bucket" + label_set({**extra, "le": _format_bucket(bound)}),
                       "values": _cumulative(observed)})
    series.append({"series": f"{base}_count" + label_set(extra),
                   "values": _cumulative([t.requests_per_minute for t in minutes])})
    series.append({"series": f"{base}_sum" + label_set(extra),
                   "values": _cumulative([t.requests_per_minute * t.latency_seconds for t in minutes])})
    return series


def firing_query(alert: str) -> str:
    return f"group(ALERTS{label_set({'alertname': alert, 'alertstate': 'firing'})})"


def unit_test(rule_files: Sequence[str], series: list[dict[str, str]], alert: str, minutes: int,
              expect_firing: bool) -> dict[str, Any]:
    """A promtool unit-test document: after ``minutes`` of the series, ``alert`` is firing or not."""
    expected = [{"labels": "{}", "value": 1}] if expect_firing else []
    return {
        "rule_files": list(rule_files),
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [{"expr": firing_query(alert), "eval_time": f"{minutes}m", "exp_samples": expected}],
        }],
    }


def scenario(healthy: Traffic, spike: Traffic | None, healthy_minutes: int, spike_minutes: int) -> list[Traffic]:
    """``healthy`` for ``healthy_minutes`` then, when given, ``spike`` for ``spike_minutes``."""
    return [healthy] * healthy_minutes + ([spike] * spike_minutes if spike else [])


def rule_names(document: Any) -> tuple[list[str], list[str]]:
    """Alert names and recording-rule names declared in a parsed rules file (whatever its shape)."""
    alerts: list[str] = []
    records: list[str] = []
    groups = document.get("groups") if isinstance(document, dict) else None
    for group in groups if isinstance(groups, list) else []:
        rules = group.get("rules") if isinstance(group, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict) and isinstance(rule.get("alert"), str):
                alerts.append(rule["alert"])
            if isinstance(rule, dict) and isinstance(rule.get("record"), str):
                records.append(rule["record"])
    return alerts, records


def histogram_buckets(exposition: str, histogram: str) -> tuple[float, ...] | None:
    """The finite ``le`` bounds of ``histogram`` in exposition text; None when it is absent or unreadable."""
    try:
        for family in text_string_to_metric_families(exposition):
            if family.name == histogram and family.type == "histogram":
                bounds = {float(s.labels["le"]) for s in family.samples if s.name.endswith("_bucket")}
                finite = tuple(sorted(b for b in bounds if not math.isinf(b)))
                return finite or None
    except (ValueError, KeyError, IndexError):
        return None
    return None
