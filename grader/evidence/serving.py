"""Talking to a candidate's model server in the lab's fixed request formats (``serve.request_format``), and
reading answers in every common shape. The formats are templates of ``grader.evidence.request_body``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader.evidence.request_body import BodyTemplate, BrokenRequest, broken_requests, find_prediction

MalformedRequest = BrokenRequest


def encode_row(request_format: str, features: Sequence[str], row: Sequence[Any]) -> Any:
    """One row as a request body in the candidate's declared format."""
    return BodyTemplate.from_format(request_format).fill(features, row)


def malformed_bodies(request_format: str, features: Sequence[str], row: Sequence[float]) -> list[MalformedRequest]:
    """Broken requests a robust server must answer with 4xx: each names what is wrong with it."""
    return broken_requests(BodyTemplate.from_format(request_format), features, row)


def decode_prediction(body: str, path: str | None = None) -> Any:
    """The first prediction in a response body (at ``path`` when declared), or None when none can be found."""
    return find_prediction(body, path)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]
