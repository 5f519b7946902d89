"""The drift collector: the candidate's drift signal read before any traffic, after in-distribution rows and
after shifted rows (see ``grader.evidence.drift`` for the sequence and reading the signal)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.evidence.answers import NO_ANSWER, HttpAnswer, batch
from grader.evidence.drift import DriftPlan, drift_actions
from grader.evidence.request import DriftRequest
from grader.evidence.run_data import MODEL_SERVER, RunData
from grader.evidence.serving import encode_row
from grader.probe.labels import (
    BASELINE_BATCH,
    SHIFTED_BATCH,
    SIGNAL_AFTER_BASELINE,
    SIGNAL_AFTER_SHIFT,
    SIGNAL_AT_START,
)


@dataclass(frozen=True)
class DriftObservation:
    """The signal at three moments and the answers to both batches; ``not_serving`` says why there are none."""

    signal_url: str | None = None
    plan: DriftPlan | None = None
    at_start: HttpAnswer = NO_ANSWER
    after_baseline: HttpAnswer = NO_ANSWER
    after_shift: HttpAnswer = NO_ANSWER
    baseline_batch: tuple[HttpAnswer, ...] = ()
    shifted_batch: tuple[HttpAnswer, ...] = ()
    not_serving: str | None = None


def drift_plan(request: DriftRequest, seed: int) -> DriftPlan:
    """The probe's plan for ``request``: a baseline batch whose size varies with ``seed``."""
    return DriftPlan.varied(requests=request.requests, baseline=request.baseline, shifted=request.shifted, seed=seed)


def observe_drift(data: RunData, plan: DriftPlan) -> DriftObservation:
    """Send the plan's traffic and read the signal around it."""
    server = data.services.get(MODEL_SERVER)
    if server is None or not server.ready:
        return DriftObservation(not_serving=f"{MODEL_SERVER} is not serving")
    serve, signal = data.manifest.serve, data.manifest.drift
    signal_url = (f"http://{MODEL_SERVER}:{serve.port}{signal.endpoint}" if signal.endpoint else data.metrics_url())
    features = data.task.features
    bodies = {name: [encode_row(serve.request_format, features, row) for row in data.feature_rows(name)]
              for name in (plan.baseline, plan.shifted)}
    actions = drift_actions(plan, data.predict_url(), signal_url, bodies[plan.baseline], bodies[plan.shifted])
    answers = data.run_probe("agent", {"actions": actions, "timeout": 10}, [], None)[-1]
    return DriftObservation(
        signal_url=signal_url, plan=plan, at_start=HttpAnswer.from_probe(answers.get(SIGNAL_AT_START)),
        after_baseline=HttpAnswer.from_probe(answers.get(SIGNAL_AFTER_BASELINE)),
        after_shift=HttpAnswer.from_probe(answers.get(SIGNAL_AFTER_SHIFT)),
        baseline_batch=batch(answers.get(BASELINE_BATCH)), shifted_batch=batch(answers.get(SHIFTED_BATCH)),
    )
