"""``model-quality``: the registered model scores well on hidden data it never saw.

The served registered version is loaded inside a sandbox container that receives only the hidden
rows' *features*; its predictions come back to the grader, which scores them against labels that
never leave the host. Passes when the score reaches ``min`` and, with ``baseline: majority``, beats
the majority-class baseline (the most frequent training label) by at least ``margin``.

With ``claimed_metric`` (the validation metric the training run logged, e.g. ``val_accuracy``) it also fails
when that claim sits above the hidden-data score by more than sampling noise explains (a two-proportion bound
on the validation and hold-out sizes, ``gap_z`` standard errors): a model fitted or tuned on the validation
rows confirms its own claim there, but not on rows it never saw. Whenever the evaluator scored the public
``valid`` set too, the evidence shows the gap for the reviewer.

Example::

    - {id: holdout-accuracy, title: Accurate on held-out data, type: model-quality, points: 8,
       metric: accuracy, min: 0.8}
    - {id: not-tuned-on-validation, title: Validation score holds on hidden data, type: model-quality,
       points: 2, claimed_metric: val_accuracy}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence import Facts
from grader.evidence.labels import METRICS, majority_label, normalise
from grader.evidence.request import EvidenceRequest
from grader.evidence.score_gap import ScoreGap, score_gap
from grader.models import CheckOutcome


class Params(CheckParams):
    metric: Literal["accuracy", "f1_macro"] = "accuracy"
    dataset: str = Field("holdout", description="hidden data set of the lab to score on")
    min: float = Field(0.0, ge=0, le=1, description="lowest acceptable score")
    baseline: Literal["none", "majority"] = Field("none", description="a trivial model the score must beat")
    margin: float = Field(0.0, ge=0, le=1, description="by how much the baseline must be beaten")
    claimed_metric: str | None = Field(
        None, description="metric the training run logged for the validation set (e.g. val_accuracy): fail when "
        "it exceeds the hidden-data score by more than chance explains",
    )
    gap_z: float = Field(3.0, gt=0, description="standard errors of the difference beyond which a gap is flagged")
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
    measured_gap = _valid_gap(params, facts, score, len(actual))
    if measured_gap is not None:
        evidence.update(valid_score=round(measured_gap.validation, 4), valid_gap_z=round(measured_gap.z, 2))
    if params.claimed_metric:
        judged = _claimed_gap(params, facts, score, len(actual), evidence, shown)
        if judged is not None:
            return judged
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

def _valid_gap(params: Params, facts: Facts, score: float, rows: int) -> ScoreGap | None:
    """The grader's own score on the public validation set beside the hidden score, when it has both."""
    predictions = facts.model_evaluation().predictions.get("valid")
    if params.dataset == "valid" or predictions is None:
        return None
    actual = facts.labels("valid")
    if not actual or len(predictions) != len(actual):
        return None
    classes = facts.classes()
    valid = METRICS[params.metric]([normalise(p, classes) for p in predictions], actual)
    return score_gap(valid, len(actual), score, rows, params.gap_z)


def _claimed_gap(params: Params, facts: Facts, score: float, rows: int, evidence: dict[str, Any],
                 shown: bool) -> CheckOutcome | None:
    """The failure when the run's claimed validation score is above the hidden score beyond chance."""
    metric = params.claimed_metric or ""
    version = facts.served_version()
    run = facts.mlflow().run(version.run_id) if version is not None and version.run_id else None
    if run is None:
        return CheckOutcome.failed(f"no training run behind a served version logged {metric!r} to compare with "
                                   f"{where_of(params, facts)}", **evidence)
    if metric not in run.metrics:
        return CheckOutcome.failed(f"run {run.run_id} (behind the served version) logged no {metric!r}: log the "
                                   "validation score the model was selected on", **evidence)
    claimed = run.metrics[metric]
    validation_rows = len(facts.labels("valid")) or rows
    gap = score_gap(claimed, validation_rows, score, rows, params.gap_z)
    evidence.update(claimed_metric=metric, claimed=claimed, gap=round(gap.gap, 4), gap_z=round(gap.z, 2),
                    gap_z_limit=params.gap_z, validation_rows=validation_rows)
    if not gap.beyond_chance:
        return None
    numbers = (f" (claimed {claimed:.3f}, {params.metric} {score:.3f} on {rows} rows, {gap.z:.1f} standard errors "
               f"apart, at most {params.gap_z} expected)") if shown else ""
    return CheckOutcome.failed(
        f"the logged {metric} is higher than the model scores on {where_of(params, facts)} by more than chance "
        f"explains{numbers}: a model fitted or tuned on the validation rows looks better there than it is; "
        "select the model on validation data and fit it on training data only", **evidence)


def where_of(params: Params, facts: Facts) -> str:
    return "hidden data" if params.dataset in facts.lab.lab.hidden else f"the {params.dataset} data"


CHECK = CheckType(name="model-quality", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
