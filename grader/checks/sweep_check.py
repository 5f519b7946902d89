"""``sweep``: a parameter sweep tracked in the run's MLflow server, every run's metric recomputed by the grader.

The sweep is the set of FINISHED runs created during grading that logged ``metric``, in the manifest's
``tracking.experiment`` (default: the experiment holding most such runs). The grader loads each run's
own logged model (``runs:/<run_id>/<tracking.model_artifact>``) in the model evaluator sandbox, has it
predict the lab's ``dataset`` (features only) and scores the predictions against labels it keeps.
``require`` picks the property:

- ``runs``: at least ``min_runs`` runs, with at least ``min_runs`` distinct parameter combinations;
- ``metrics-match``: every run's logged ``metric`` agrees with the grader's measurement of its model
  within ``tolerance`` (a run whose model cannot be loaded does not agree); claimed beside measured
  for every run in the report;
- ``best-chosen``: exactly one run carries the tag ``tracking.best_tag`` = ``true``, and by the grader's
  measurement no other run scores more than ``tie_tolerance`` above it.

Example::

    - {id: best-chosen, title: The best run is chosen, type: sweep, points: 6, require: best-chosen,
       metric: val_accuracy, dataset: valid}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence import Facts
from grader.evidence.labels import METRICS
from grader.evidence.mlflow_snapshot import Run
from grader.evidence.request import EvidenceRequest
from grader.evidence.sweep import RunScore, distinct_param_sets, marked_runs, score_runs, sweep_runs
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["runs", "metrics-match", "best-chosen"]
    metric: str = Field("val_accuracy", description="the logged validation metric each run carries")
    score: Literal["accuracy", "f1_macro"] = Field("accuracy", description="what the metric measures")
    dataset: str = Field("valid", description="the lab data set the metric is computed on")
    min_runs: int = Field(3, ge=1, le=100, description="``runs``: fewest runs and distinct parameter sets")
    tolerance: float = Field(0.02, ge=0, description="``metrics-match``: largest allowed |claimed - measured|")
    tie_tolerance: float = Field(0.0, ge=0, description="``best-chosen``: how far below the best the chosen run "
                                                        "may measure")


def plan(params: Params) -> EvidenceRequest:
    """The registry snapshot, and each sweep run's own model scored by the grader's evaluator."""
    return EvidenceRequest(registry=True, sweep_metric=params.metric)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts: Facts = ctx.require_facts()
    snapshot = facts.mlflow()
    if snapshot.error:
        return CheckOutcome.errored(f"the MLflow server could not be read: {snapshot.error}")
    tracking = facts.manifest.tracking
    runs = sweep_runs(snapshot, facts.started_at_ms, tracking.experiment, params.metric)
    if not runs:
        where = f"experiment {tracking.experiment!r}" if tracking.experiment else "any experiment"
        return CheckOutcome.failed(f"no finished run of this grading logged {params.metric!r} in {where}",
                                   experiments=sorted(snapshot.experiments.values()))
    if params.require == "runs":
        return _enough_runs(params, runs)
    scores = _scores(params, facts, runs)
    if params.require == "metrics-match":
        return _metrics_match(params, scores)
    return _best_chosen(params, runs, scores, tracking.best_tag)


def _enough_runs(params: Params, runs: list[Run]) -> CheckOutcome:
    distinct = distinct_param_sets(runs)
    evidence = {"runs": [{"run_id": r.run_id, "params": dict(list(r.params.items())[:10])} for r in runs][:30],
                "distinct_param_sets": distinct, "experiment_id": runs[0].experiment_id}
    if len(runs) < params.min_runs:
        return CheckOutcome.failed(f"the sweep has {len(runs)} run(s) logging {params.metric!r}, "
                                   f"{params.min_runs} expected", **evidence)
    if distinct < params.min_runs:
        return CheckOutcome.failed(f"{len(runs)} runs but only {distinct} distinct parameter set(s), "
                                   f"{params.min_runs} expected", **evidence)
    return CheckOutcome.passed(f"{len(runs)} runs with {distinct} distinct parameter sets", **evidence)


def _scores(params: Params, facts: Facts, runs: list[Run]) -> list[RunScore]:
    predictions: dict[str, list[Any] | str] = {}
    for run_id, evaluation in facts.run_evaluations().items():
        output = evaluation.predictions.get(params.dataset)
        why = evaluation.errors.get(params.dataset) or evaluation.load_error or "no predictions"
        predictions[run_id] = output if output is not None else f"its model could not be evaluated: {why}"
    return score_runs(runs, params.metric, predictions, facts.labels(params.dataset), facts.classes(),
                      METRICS[params.score])


def _metrics_match(params: Params, scores: list[RunScore]) -> CheckOutcome:
    evidence = {"metric": params.metric, "dataset": params.dataset, "tolerance": params.tolerance,
                "runs": [s.as_evidence() for s in scores]}
    wrong = [s for s in scores if not s.matches(params.tolerance)]
    if not wrong:
        return CheckOutcome.passed(f"{params.metric} of all {len(scores)} runs matches the grader's measurement",
                                   **evidence)
    first = wrong[0]
    detail = first.problem or f"claimed {first.claimed:.4f}, measured {first.measured:.4f}"
    return CheckOutcome.failed(f"{len(wrong)}/{len(scores)} run(s) logged a {params.metric} their model does not "
                               f"score: run {first.run_id} {detail} (tolerance {params.tolerance})", **evidence)


def _best_chosen(params: Params, runs: list[Run], scores: list[RunScore], tag: str) -> CheckOutcome:
    measured = {s.run_id: s.measured for s in scores if s.measured is not None}
    evidence: dict[str, Any] = {"tag": tag, "runs": [s.as_evidence() for s in scores]}
    marked = marked_runs(runs, tag)
    if len(marked) != 1:
        found = "no run" if not marked else f"{len(marked)} runs ({', '.join(r.run_id for r in marked)})"
        return CheckOutcome.failed(f"{found} of the sweep tagged {tag}=true: exactly one expected", **evidence)
    chosen = marked[0]
    if chosen.run_id not in measured:
        return CheckOutcome.failed(f"the chosen run {chosen.run_id}'s model could not be measured", **evidence)
    best_id = max(measured, key=lambda run_id: measured[run_id])
    evidence |= {"chosen": chosen.run_id, "chosen_measured": round(measured[chosen.run_id], 4),
                 "best": best_id, "best_measured": round(measured[best_id], 4)}
    if measured[chosen.run_id] >= measured[best_id] - params.tie_tolerance:
        return CheckOutcome.passed(f"run {chosen.run_id} is the best of {len(runs)}: {params.score} "
                                   f"{measured[chosen.run_id]:.4f} measured", **evidence)
    return CheckOutcome.failed(f"the chosen run {chosen.run_id} measures {measured[chosen.run_id]:.4f}, but run "
                               f"{best_id} measures {measured[best_id]:.4f} on {params.dataset}", **evidence)


CHECK = CheckType(name="sweep", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
