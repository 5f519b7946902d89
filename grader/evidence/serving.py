"""Talking to a candidate's model server: request bodies in every common format, broken requests, and
answers in every common shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True)
class MalformedRequest:
    """A broken request a robust server must answer with 4xx, and what is wrong with it."""

    why: str
    body: str
    content_type: str = "application/json"


def malformed_bodies(request_format: str, features: Sequence[str], row: Sequence[float]) -> list[MalformedRequest]:
    """Broken requests a robust server must answer with 4xx: each names what is wrong with it."""
    short = encode_row(request_format, features[:-1], row[:-1])
    as_text = encode_row(request_format, features, ["not-a-number"] * len(row))
    return [
        MalformedRequest("body is not JSON", "{not json"),
        MalformedRequest("empty JSON object", "{}"),
        MalformedRequest("one feature missing", json.dumps(short)),
        MalformedRequest("strings instead of numbers", json.dumps(as_text)),
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


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]
