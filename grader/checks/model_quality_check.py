"""``model-quality``: the registered model scores well on hidden data it never saw.

The served registered version is loaded inside a sandbox container that receives only the hidden
rows' *features*; its predictions come back to the grader, which scores them against labels that
never leave the host. Passes when the score reaches ``min`` and, with ``baseline: majority``, beats
the majority-class baseline (the most frequent training label) by at least ``margin``.

Example::

    - {id: holdout-accuracy, title: Accurate on held-out data, type: model-quality, points: 8,
       metric: accuracy, min: 0.8}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence import Facts
from grader.evidence.labels import METRICS, majority_label, normalise
from grader.evidence.request import EvidenceRequest
from grader.models import CheckOutcome


class Params(CheckParams):
    metric: Literal["accuracy", "f1_macro"] = "accuracy"
    dataset: str = Field("holdout", description="hidden data set of the lab to score on")
    min: float = Field(0.0, ge=0, le=1, description="lowest acceptable score")
    baseline: Literal["none", "majority"] = Field("none", description="a trivial model the score must beat")
    margin: float = Field(0.0, ge=0, le=1, description="by how much the baseline must be beaten")
    show_scores: bool = Field(
        False, description="put the scores computed on a hidden data set in the message (a public check's message "
        "reaches the candidate); they are always in the reviewer's evidence. Scores on public data are always shown",
    )


def plan(params: Params) -> EvidenceRequest:
    """The served registered version, scored by the grader's evaluator."""
    return EvidenceRequest(registry=True, model_evaluation=True)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts: Facts = ctx.require_facts()
    evaluation = facts.model_evaluation()
    predictions = evaluation.predictions.get(params.dataset)
    if predictions is None:
        why = evaluation.errors.get(params.dataset) or evaluation.load_error or "no predictions came back"
        return CheckOutcome.failed(f"the registered model could not be evaluated: {why}")
    actual = facts.labels(params.dataset)
    if len(predictions) != len(actual):
        return CheckOutcome.failed(f"the model returned {len(predictions)} predictions for {len(actual)} rows")
    classes = facts.classes()
    score = METRICS[params.metric]([normalise(p, classes) for p in predictions], actual)
    evidence = {"metric": params.metric, "score": round(score, 4), "rows": len(actual), "min": params.min,
                "model_version": evaluation.version.version if evaluation.version else None}
    shown = params.show_scores or params.dataset not in facts.lab.lab.hidden
    where = "hidden data" if params.dataset in facts.lab.lab.hidden else f"the {params.dataset} data"
    if params.baseline == "majority":
        majority = majority_label(facts.labels("train"))
        baseline = METRICS[params.metric]([majority] * len(actual), actual)
        evidence.update(baseline=round(baseline, 4), margin=params.margin)
        numbers = f" ({params.metric} {score:.3f}, baseline {baseline:.3f})" if shown else ""
        if score < baseline + params.margin:
            return CheckOutcome.failed(f"the model does not beat the majority-class baseline on {where} by "
                                       f"{params.margin}{numbers}: it predicts little better than always answering "
                                       "the most frequent class", **evidence)
        return CheckOutcome.passed(f"the model beats the majority-class baseline on {where}{numbers}", **evidence)
    if score < params.min:
        numbers = (f"{params.metric} {score:.3f}, {params.min} needed" if shown
                   else f"{params.metric} below {params.min}")
        return CheckOutcome.failed(f"{numbers} on {where}", **evidence)
    numbers = f"{params.metric} {score:.3f}" if shown else f"{params.metric} of at least {params.min}"
    rows = "hidden" if params.dataset in facts.lab.lab.hidden else params.dataset
    return CheckOutcome.passed(f"{numbers} on {len(actual)} {rows} rows", **evidence)

CHECK = CheckType(name="model-quality", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
