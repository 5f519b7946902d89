"""Talking to a candidate's model server: request bodies in every common format, answers in every
common shape, and the one probe sequence that gathers all serving and metrics evidence."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COUNTER_WINDOW = "counter-window"


def encode_row(request_format: str, features: Sequence[str], row: Sequence[Any]) -> Any:
    """One row as a request body in the candidate's declared format."""
    values = list(row)
    if request_format == "flat":
        return dict(zip(features, values, strict=True))
    if request_format == "features":
        return {"features": values}
    if request_format in ("data", "instances", "inputs"):
        return {request_format: [values]}
    if request_format == "dataframe_split":
        return {"dataframe_split": {"columns": list(features), "data": [values]}}
    if request_format == "dataframe_records":
        return {"dataframe_records": [dict(zip(features, values, strict=True))]}
    raise ValueError(f"unknown request format {request_format!r}")


def malformed_bodies(request_format: str, features: Sequence[str], row: Sequence[float]) -> list[dict[str, str]]:
    """Broken requests a robust server must answer with 4xx: each names what is wrong with it."""
    short = encode_row(request_format, features[:-1], row[:-1])
    as_text = encode_row(request_format, features, ["not-a-number"] * len(row))
    return [
        {"why": "body is not JSON", "body": "{not json", "content_type": "application/json"},
        {"why": "empty JSON object", "body": "{}", "content_type": "application/json"},
        {"why": "one feature missing", "body": json.dumps(short), "content_type": "application/json"},
        {"why": "strings instead of numbers", "body": json.dumps(as_text), "content_type": "application/json"},
    ]


_SINGLE_KEYS = ("prediction", "predictions", "predicted_class", "label", "class", "result", "output", "outputs", "y")


def decode_prediction(body: str) -> Any:
    """The first prediction in a response body, or None when none can be found."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    for _ in range(4):
        if isinstance(value, dict):
            key = next((k for k in _SINGLE_KEYS if k in value), None)
            if key is None:
                return None
            value = value[key]
        elif isinstance(value, list):
            if not value:
                return None
            value = value[0]
        else:
            return value
    return value


@dataclass(frozen=True)
class ServingPlan:
    """How much of each kind of traffic the rubric asks for."""

    parity_rows: int = 0
    counter_requests: int = 0
    load_requests: int = 0
    load_concurrency: int = 1
    malformed: bool = False


def probe_actions(plan: ServingPlan, predict_url: str, metrics_url: str, bodies: list[Any],
                  malformed: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The probe's sequence. The counter window holds exactly ``counter_requests`` valid predictions
    and nothing else, so the counters' deltas can be compared with what was really sent."""
    actions: list[dict[str, Any]] = [{"label": "scrape-before", "do": "get", "url": metrics_url}]
    if plan.counter_requests:
        window = [bodies[i % len(bodies)] for i in range(plan.counter_requests)]
        actions.append({"label": COUNTER_WINDOW, "do": "predict", "url": predict_url, "bodies": window})
    actions.append({"label": "scrape-after", "do": "get", "url": metrics_url})
    if plan.parity_rows:
        actions.append({"label": "parity", "do": "predict", "url": predict_url, "bodies": bodies[: plan.parity_rows]})
    if plan.malformed:
        actions.append({"label": "malformed", "do": "raw", "url": predict_url,
                        "requests": [{k: v for k, v in m.items() if k != "why"} for m in malformed]})
        actions.append({"label": "after-malformed", "do": "predict", "url": predict_url, "bodies": bodies[:1]})
    if plan.load_requests:
        actions.append({"label": "load", "do": "load", "url": predict_url, "bodies": bodies,
                        "requests": plan.load_requests, "concurrency": plan.load_concurrency})
    return actions


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]
