"""``http``: the candidate's model server, exercised by the grader's probe on the run network.

``require`` picks the property:

- ``ready``: the server answered HTTP (any status) within the manifest's ``serve.ready_timeout`` (a lab
  service with ``ready_http``; otherwise: it accepted connections on its port);
- ``parity``: for ``rows`` rows of the task (one request each, in the task's request template) the
  server's answers agree with the registered model's own predictions in at least ``min_agreement``
  (regression: within ``task.tolerance``). The rows are the lab's hidden ones, or those of the task the
  manifest describes (``task:``, labs with ``manifest_task``), labelled so in the evidence;
- ``served``: the verdict a reviewer gives: full points when the answers are the registered model's;
  ``partial_credit`` when they are real predictions (valid for the task, the same answer to the same request,
  better than a baseline where the rows have labels) that do not come from the registry (a committed model
  file); none for no usable answer or dummy output;
- ``accuracy``: the server's answers to ``rows`` hidden rows are right (against labels the grader keeps)
  in at least ``min_accuracy`` of them — for a server whose model is not in the registry, e.g. one baked
  into an image built from the submission;
- ``malformed``: broken requests (not JSON, empty, a feature missing, strings for numbers) each get a
  4xx — never a 5xx or a dropped connection — and a valid request still succeeds afterwards;
- ``load``: ``requests`` requests at ``concurrency`` in flight: p95 latency within ``max_p95_ms`` and an
  error rate within ``max_error_rate``; p50/p95/p99 are reported.

Example::

    - {id: latency, title: Fast under load, type: http, points: 4, require: load,
       requests: 200, concurrency: 4, max_p95_ms: 150, max_error_rate: 0}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.checks.served_answers import ServedPrediction, agrees, predictions
from grader.checks.serving_verdict import judge_served
from grader.evidence import MODEL_SERVER, Facts, ServingObservation
from grader.evidence.model_evaluation import ModelEvaluation
from grader.evidence.request import EvidenceRequest
from grader.evidence.served_task import ServedTask
from grader.evidence.serving import percentile
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["ready", "parity", "accuracy", "malformed", "load", "served"]
    service: str = Field(MODEL_SERVER, description="``ready``: the service id")
    rows: int = Field(40, ge=1, le=1000, description="``parity``: hidden rows to compare")
    min_agreement: float = Field(0.98, ge=0, le=1, description="``parity``: share of answers that must agree")
    min_accuracy: float = Field(0.8, ge=0, le=1, description="``accuracy``: share of answers that must be right")
    requests: int = Field(200, ge=1, le=10000, description="``load``: requests to send")
    concurrency: int = Field(4, ge=1, le=64, description="``load``: requests in flight")
    max_p95_ms: float = Field(200, gt=0, description="``load``: p95 latency bar")
    max_error_rate: float = Field(0.0, ge=0, le=1, description="``load``: share of non-2xx answers allowed")
    partial_credit: float = Field(
        0.5, ge=0, le=1, description="``served``: share of the points for real predictions not from the registry"
    )


def plan(params: Params) -> EvidenceRequest:
    """``parity``/``accuracy``/``served``: the answers to ``rows`` rows (parity, served: and the registered model's);
    ``malformed``: the broken requests; ``load``: the load run; ``ready`` needs no probe."""
    if params.require == "parity":
        return EvidenceRequest(parity_rows=params.rows, model_evaluation=True, registry=True)
    if params.require == "accuracy":
        return EvidenceRequest(parity_rows=params.rows)
    if params.require == "served":
        # The counter window sends the first rows again: the same request must get the same answer.
        return EvidenceRequest(parity_rows=params.rows, model_evaluation=True, registry=True,
                               counter_requests=min(params.rows, 10))
    if params.require == "malformed":
        return EvidenceRequest(malformed=True)
    if params.require == "load":
        return EvidenceRequest(load_requests=params.requests, load_concurrency=params.concurrency)
    return EvidenceRequest()


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    if params.require == "ready":
        service = ctx.services.get(params.service)
        if service is None:
            return CheckOutcome.failed(f"service {params.service!r} was not started")
        evidence = {"service": params.service, "log_tail": service.log_tail[-3000:]}
        if service.ready:
            return CheckOutcome.passed(f"{params.service}: {service.message} after {service.ready_after_s or 0:.1f}s",
                                       **evidence)
        return CheckOutcome.failed(f"{params.service}: {service.message}", **evidence)
    facts: Facts = ctx.require_facts()
    serving = facts.serving()
    if serving.no_traffic is not None:
        return CheckOutcome.skipped(f"no prediction was sent: {serving.no_traffic}")
    handlers = {"parity": _parity, "accuracy": _accuracy, "malformed": _malformed, "load": _load,
                "served": judge_served}
    return handlers[params.require](params, facts, serving)


def _parity(params: Params, facts: Facts, serving: ServingObservation) -> CheckOutcome:
    task = facts.served_task()
    responses = serving.parity[: params.rows]
    evaluation = facts.model_evaluation()
    reference = evaluation.predictions.get(task.dataset)
    if reference is None:
        why = _why_no_reference(evaluation, task)
        return CheckOutcome.failed(f"the registered model could not be evaluated: {why}")
    served = predictions(task, responses)
    agree = sum(agrees(task, p.value, expected) for p, expected in zip(served, reference, strict=False))
    share = agree / len(responses) if responses else 0.0
    evidence = {"agreement": round(share, 4), "compared": len(responses), "rows": task.source,
                "samples": _samples(task, serving, served, reference),
                "model_version": evaluation.version.version if evaluation.version else None}
    if share >= params.min_agreement:
        return CheckOutcome.passed(f"{agree}/{len(responses)} answers match the registered model", **evidence)
    return CheckOutcome.failed(f"only {agree}/{len(responses)} answers match the registered model "
                               f"({params.min_agreement:.0%} needed)", **evidence)


def _why_no_reference(evaluation: ModelEvaluation, task: ServedTask) -> str:
    if evaluation.load_error:
        return evaluation.load_error
    return evaluation.errors.get(task.dataset, f"it made no predictions on {task.source}")


def _samples(task: ServedTask, serving: ServingObservation, served: list[ServedPrediction],
             reference: list[Any] | None) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = []
    for index, prediction in enumerate(served):
        expected = reference[index] if reference is not None and index < len(reference) else None
        wrong = reference is not None and not agrees(task, prediction.value, expected)
        if len(samples) < 5 or (wrong and len(samples) < 15):
            sample = {"request": serving.bodies[index] if index < len(serving.bodies) else None,
                      "status": prediction.answer.status, "response": prediction.answer.text[:300],
                      "prediction": prediction.value}
            if reference is not None:
                sample["registered_model"] = expected
            samples.append(sample)
    return samples


def _accuracy(params: Params, facts: Facts, serving: ServingObservation) -> CheckOutcome:
    task = facts.served_task()
    responses = serving.parity[: params.rows]
    if not responses:
        return CheckOutcome.errored("the probe sent no prediction requests")
    if task.labels is None:
        return CheckOutcome.skipped(f"the rows sent ({task.source}) have no labels to score answers against")
    served = predictions(task, responses)
    right = sum(agrees(task, p.value, label) for p, label in zip(served, task.labels, strict=False))
    share = right / len(responses)
    evidence = {"accuracy": round(share, 4), "rows": len(responses), "min_accuracy": params.min_accuracy,
                "source": task.source, "samples": _samples(task, serving, served, list(task.labels))}
    if share >= params.min_accuracy:
        return CheckOutcome.passed(f"{right}/{len(responses)} answers right on {task.source}", **evidence)
    return CheckOutcome.failed(f"only {right}/{len(responses)} answers right on {task.source} "
                               f"({params.min_accuracy:.0%} needed)", **evidence)


def _malformed(params: Params, facts: Facts, serving: ServingObservation) -> CheckOutcome:
    after = serving.after_malformed
    cases = []
    for sent, response in zip(serving.malformed_sent, serving.malformed, strict=False):
        cases.append({"case": sent.why, "body": sent.body[:200], "status": response.status,
                      "response": response.text[:200]})
    bad = [c for c in cases if not (isinstance(c["status"], int) and 400 <= c["status"] < 500)]
    evidence = {"cases": cases, "valid_after": after[0].status if after else None}
    if bad:
        first = bad[0]
        return CheckOutcome.failed(f"{first['case']}: got {first['status'] or 'no answer'}, a 4xx expected "
                                   f"({len(bad)}/{len(cases)} cases wrong)", **evidence)
    if not after or not after[0].ok:
        return CheckOutcome.failed("after the malformed requests a valid request failed", **evidence)
    return CheckOutcome.passed(f"{len(cases)} malformed requests got 4xx and the server kept serving", **evidence)


def _load(params: Params, facts: Facts, serving: ServingObservation) -> CheckOutcome:
    load = serving.load
    results = load.answers if load is not None else ()
    if load is None or not results:
        return CheckOutcome.errored("the probe sent no load")
    latencies = [r.latency_ms for r in results if r.ok]
    errors = sum(not r.ok for r in results)
    error_rate = errors / len(results)
    p50, p95, p99 = (round(percentile(latencies, q), 2) for q in (0.5, 0.95, 0.99))
    evidence = {"requests": len(results), "concurrency": params.concurrency, "errors": errors,
                "error_rate": round(error_rate, 4), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
                "wall_s": load.wall_s, "max_p95_ms": params.max_p95_ms}
    summary = f"p50 {p50} ms, p95 {p95} ms, p99 {p99} ms, {errors} errors in {len(results)} requests"
    if error_rate > params.max_error_rate:
        return CheckOutcome.failed(f"error rate {error_rate:.1%} over {params.max_error_rate:.1%}: {summary}",
                                   **evidence)
    if p95 > params.max_p95_ms:
        return CheckOutcome.failed(f"p95 {p95} ms over {params.max_p95_ms} ms: {summary}", **evidence)
    return CheckOutcome.passed(summary, **evidence)


CHECK = CheckType(name="http", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
