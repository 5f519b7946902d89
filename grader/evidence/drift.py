"""Drift evidence: the probe's sequence of in-distribution and shifted traffic, and reading the candidate's
drift signal (a Prometheus metric or a JSON endpoint) from what the probe saw.

The probe reads the signal before any traffic, after a batch of in-distribution rows and after a batch
of shifted rows. Both batches come from the lab's hidden data sets (features only are sent), so the
candidate cannot know in advance which requests are shifted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.evidence.answers import HttpAnswer
from grader.evidence.prometheus import parse_exposition
from grader.labs.manifest import DriftSection
from grader.probe.labels import (
    BASELINE_BATCH,
    SHIFTED_BATCH,
    SIGNAL_AFTER_BASELINE,
    SIGNAL_AFTER_SHIFT,
    SIGNAL_AT_START,
)

__all__ = ["BASELINE_BATCH", "SHIFTED_BATCH", "SIGNAL_AFTER_BASELINE", "SIGNAL_AFTER_SHIFT", "SIGNAL_AT_START",
           "DriftPlan", "SignalReading", "accepted", "cycle", "drift_actions", "read_signal"]


@dataclass(frozen=True)
class DriftPlan:
    """How much traffic of which kind: ``baseline_requests`` in-distribution rows, then ``requests`` shifted
    rows. The baseline count varies from run to run, so a signal that merely counts requests cannot pass."""

    requests: int
    baseline: str
    shifted: str
    baseline_requests: int = 0  # 0: the same as ``requests``

    @classmethod
    def varied(cls, requests: int, baseline: str, shifted: str, seed: int) -> DriftPlan:
        """A plan whose baseline batch has between ``requests`` and 1.5 times ``requests`` rows, chosen by ``seed``."""
        extra = random.Random(seed).randrange(0, requests // 2 + 1)
        return cls(requests=requests, baseline=baseline, shifted=shifted, baseline_requests=requests + extra)


def cycle(rows: Sequence[Any], count: int) -> list[Any]:
    """``count`` items taken from ``rows`` in order, starting over when they run out."""
    return [rows[i % len(rows)] for i in range(count)] if rows else []


def drift_actions(plan: DriftPlan, predict_url: str, signal_url: str, baseline_bodies: Sequence[Any],
                  shifted_bodies: Sequence[Any]) -> list[dict[str, Any]]:
    """The probe's sequence: signal, baseline batch, signal, shifted batch, signal."""
    return [
        {"label": SIGNAL_AT_START, "do": "get", "url": signal_url},
        {"label": BASELINE_BATCH, "do": "predict", "url": predict_url,
         "bodies": cycle(baseline_bodies, plan.baseline_requests or plan.requests)},
        {"label": SIGNAL_AFTER_BASELINE, "do": "get", "url": signal_url},
        {"label": SHIFTED_BATCH, "do": "predict", "url": predict_url, "bodies": cycle(shifted_bodies, plan.requests)},
        {"label": SIGNAL_AFTER_SHIFT, "do": "get", "url": signal_url},
    ]


@dataclass(frozen=True)
class SignalReading:
    """The drift signal's value as read at one moment, or why none could be read."""

    value: float | None
    problem: str | None = None

    def raised(self, threshold: float) -> bool:
        """Whether the value is at or over ``threshold``."""
        return self.value is not None and self.value >= threshold

    def describe(self) -> str:
        """The value, or why there is none."""
        return f"{self.value:g}" if self.value is not None else self.problem or "no value"


def read_signal(response: HttpAnswer, signal: DriftSection) -> SignalReading:
    """The signal in one probe answer: the largest sample of the metric, or the endpoint's JSON key."""
    if response.status != 200:
        return SignalReading(None, f"answered {response.describe_status()}")
    body = response.body
    if signal.endpoint:
        return _from_json(body, signal.key)
    return _from_exposition(body, signal.metric)


def _from_exposition(text: str, metric: str) -> SignalReading:
    try:
        families = parse_exposition(text)
    except (ValueError, IndexError, KeyError) as exc:
        return SignalReading(None, f"invalid exposition text: {exc}")
    family = next((f for f in families if f.name in (metric, metric.removesuffix("_total"))), None)
    if family is None:
        return SignalReading(None, f"no metric {metric!r} in the exposition")
    wanted = {metric, family.name, f"{family.name}_total"}
    values = [value for key, value in family.samples.items() if key.split("{", 1)[0] in wanted]
    if not values:
        return SignalReading(None, f"metric {metric!r} has no sample yet")
    return SignalReading(max(values))


def _from_json(body: str, key: str) -> SignalReading:
    try:
        value: Any = json.loads(body)
    except ValueError:
        return SignalReading(None, "the endpoint did not answer JSON")
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return SignalReading(None, f"no key {key!r} in the endpoint's JSON")
        value = value[part]
    if isinstance(value, bool):
        return SignalReading(1.0 if value else 0.0)
    if isinstance(value, int | float):
        return SignalReading(float(value))
    return SignalReading(None, f"{key!r} is {type(value).__name__}, not a boolean or a number")


def accepted(answers: Sequence[HttpAnswer]) -> tuple[int, int]:
    """(answered 2xx, sent) of one batch the probe sent."""
    return sum(1 for a in answers if a.ok), len(answers)
