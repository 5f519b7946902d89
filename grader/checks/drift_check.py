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

from typing import Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence.drift import accepted, read_signal
from grader.evidence.request import DriftRequest, EvidenceRequest
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["quiet", "raised"]
    requests: int = Field(100, ge=10, le=2000, description="shifted requests; the in-distribution batch has "
                          "between this and 1.5 times this")
    baseline: str = Field("holdout", description="hidden data set of the training distribution")
    shifted: str = Field("shifted", description="hidden data set after the shift")
    min_answered: float = Field(0.95, ge=0, le=1, description="share of each batch that must get a 2xx")


def plan(params: Params) -> EvidenceRequest:
    """The drift observation: ``requests`` shifted rows after an in-distribution batch."""
    return EvidenceRequest(drift=DriftRequest(requests=params.requests, baseline=params.baseline,
                                              shifted=params.shifted))


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts = ctx.require_facts()
    observed = facts.drift()
    if observed.not_serving is not None:
        return CheckOutcome.failed(f"no drift observation: {observed.not_serving}")
    signal = facts.manifest.drift
    at_start, after_baseline, after_shift = (read_signal(answer, signal) for answer in
                                             (observed.at_start, observed.after_baseline, observed.after_shift))
    batch, reading, kind = ((observed.baseline_batch, after_baseline, "in-distribution")
                            if params.require == "quiet" else
                            (observed.shifted_batch, after_shift, "shifted"))
    answered, sent = accepted(batch)
    source = f"{signal.endpoint} key {signal.key!r}" if signal.endpoint else f"metric {signal.metric!r}"
    evidence = {"signal": source, "read_at": observed.signal_url, "threshold": signal.threshold,
                "at_start": at_start.describe(), "after_in_distribution": after_baseline.describe(),
                "after_shifted": after_shift.describe(), f"{kind}_answered": f"{answered}/{sent}"}
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


CHECK = CheckType(name="drift", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
