"""``drift``: the candidate's server raises its drift signal for shifted traffic, and only then.

The grader's probe reads the signal (the manifest's ``drift`` section: a Prometheus metric such as a
gauge ``feature_drift_detected`` on the metrics endpoint, or a key of a JSON endpoint), sends
prediction requests built from the lab's hidden in-distribution set ``baseline`` (between ``requests``
and 1.5 times ``requests`` of them, a number that varies from run to run so that counting requests does not
help), reads the signal, sends ``requests`` rows of the hidden ``shifted`` set, and reads it again. Only
features are sent; the candidate never sees these sets. The signal is *raised* when its value (the largest sample of
the metric; ``true`` counts 1) is at least the manifest's ``drift.threshold``. ``require`` picks:

- ``quiet``: after the in-distribution batch the signal is readable and not raised — so a signal that is
  always on fails here;
- ``raised``: after the shifted batch it is raised.

Each batch must also be answered (2xx) in at least ``min_answered`` of its requests, so the signal is
judged on traffic the server really took. The signal values before, between and after the batches are
in the evidence.

Example::

    - {id: drift-quiet, title: No drift signal for ordinary traffic, type: drift, points: 5,
       require: quiet, requests: 100, baseline: holdout, shifted: shifted}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence.drift import (
    BASELINE_BATCH,
    SHIFTED_BATCH,
    SIGNAL_AFTER_BASELINE,
    SIGNAL_AFTER_SHIFT,
    SIGNAL_AT_START,
    accepted,
    read_signal,
)
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["quiet", "raised"]
    requests: int = Field(100, ge=10, le=2000, description="shifted requests; the in-distribution batch has "
                          "between this and 1.5 times this")
    baseline: str = Field("holdout", description="hidden data set of the training distribution")
    shifted: str = Field("shifted", description="hidden data set after the shift")
    min_answered: float = Field(0.95, ge=0, le=1, description="share of each batch that must get a 2xx")


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts = ctx.require_facts()
    observed = facts.drift()
    if "not_serving" in observed:
        return CheckOutcome.failed(f"no drift observation: {observed['not_serving']}")
    signal = facts.manifest.drift
    results: dict[str, Any] = observed["results"]
    readings = {label: read_signal(results.get(label, {}), signal)
                for label in (SIGNAL_AT_START, SIGNAL_AFTER_BASELINE, SIGNAL_AFTER_SHIFT)}
    batch, reading, kind = ((BASELINE_BATCH, readings[SIGNAL_AFTER_BASELINE], "in-distribution")
                            if params.require == "quiet" else
                            (SHIFTED_BATCH, readings[SIGNAL_AFTER_SHIFT], "shifted"))
    answered, sent = accepted(results.get(batch, {}))
    source = f"{signal.endpoint} key {signal.key!r}" if signal.endpoint else f"metric {signal.metric!r}"
    evidence = {"signal": source, "read_at": observed.get("signal_url"), "threshold": signal.threshold,
                "at_start": readings[SIGNAL_AT_START].describe(),
                "after_in_distribution": readings[SIGNAL_AFTER_BASELINE].describe(),
                "after_shifted": readings[SIGNAL_AFTER_SHIFT].describe(), f"{kind}_answered": f"{answered}/{sent}"}
    if not sent or answered < params.min_answered * sent:
        return CheckOutcome.failed(f"the server answered {answered} of the {sent} {kind} requests",
                                   **evidence)
    if reading.value is None:
        return CheckOutcome.failed(f"drift signal ({source}) unreadable after the {kind} batch: "
                                   f"{reading.describe()}", **evidence)
    raised = reading.raised(signal.threshold)
    if params.require == "quiet" and raised:
        return CheckOutcome.failed(f"{source} is {reading.describe()} (≥ {signal.threshold:g}) after {sent} "
                                   "in-distribution requests: drift raised where there is none", **evidence)
    if params.require == "raised" and not raised:
        return CheckOutcome.failed(f"{source} stayed {reading.describe()} (< {signal.threshold:g}) after {sent} "
                                   "shifted requests: the drift went unnoticed", **evidence)
    state = "raised" if raised else "quiet"
    return CheckOutcome.passed(f"{source} is {reading.describe()} ({state}) after {sent} {kind} requests",
                               **evidence)


CHECK = CheckType(name="drift", params=Params, evaluate=evaluate, summary=__doc__ or "")
