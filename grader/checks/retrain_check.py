"""``retrain``: the lab's late steps (e.g. ``retrain`` after drift) register a new version that is better
on the data after the shift — measured by the grader, not taken from what the candidate logged.

Before the late steps run, the grader reads the registry and keeps the served version (the manifest's
alias or stage); afterwards it reads the registry again. ``require`` picks:

- ``registered``: a version of the manifest's model that did not exist before was registered;
- ``improves``: the newest such version scores at least ``margin`` more than the previously served
  version on the hidden ``dataset`` (``metric``). Both versions are loaded in the model evaluator
  sandbox, which receives only the features; the grader scores their predictions against labels
  that never leave the host;
- ``promoted``: after the late steps the manifest's alias points to the new version (or, with a legacy
  ``model.stage`` and no alias, the new version is in that stage).

Example::

    - {id: retrained-better, title: The retrained version is better after the shift, type: retrain,
       points: 10, require: improves, dataset: shifted, metric: accuracy, margin: 0.1}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence import Facts
from grader.evidence.labels import METRICS, normalise
from grader.evidence.request import EvidenceRequest
from grader.evidence.retraining import Retraining
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["registered", "improves", "promoted"]
    dataset: str = Field("shifted", description="``improves``: hidden data set both versions are scored on")
    metric: Literal["accuracy", "f1_macro"] = Field("accuracy", description="``improves``: the score")
    margin: float = Field(0.05, ge=0, le=1, description="``improves``: by how much the new version must be better")


def plan(params: Params) -> EvidenceRequest:
    """The served version scored before the late steps, and the newest one they registered."""
    return EvidenceRequest(registry=True, model_evaluation=True, retraining=True)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts: Facts = ctx.require_facts()
    retraining: Retraining = facts.retraining()
    registered = [v.version for v in retraining.registered]
    previous = retraining.previous.version
    evidence: dict[str, Any] = {"previous_version": previous.version if previous else None,
                                "new_versions": registered}
    new = retraining.retrained.version
    if new is None:
        return CheckOutcome.failed(f"no new version of {facts.model_name!r} was registered by the late steps",
                                   **evidence)
    if params.require == "registered":
        return CheckOutcome.passed(f"{facts.model_name!r} version {new.version} registered by the late steps",
                                   run_id=new.run_id, **evidence)
    if params.require == "promoted":
        return _promoted(facts, retraining, new.version, evidence)
    return _improves(params, facts, retraining, evidence)


def _promoted(facts: Facts, retraining: Retraining, new: str, evidence: dict[str, Any]) -> CheckOutcome:
    alias, stage = facts.manifest.model.alias, facts.manifest.model.stage
    if not alias and stage:  # legacy stages: the new version itself carries the stage
        current = next((v.stage for v in retraining.registered if v.version == new), "None")
        evidence.update(stage=stage, new_version_stage=current)
        if current.lower() == stage.lower():
            return CheckOutcome.passed(f"the new version {new} is in stage {stage!r}", **evidence)
        return CheckOutcome.failed(f"the new version {new} is in stage {current!r}, not {stage!r}", **evidence)
    if not alias:
        return CheckOutcome.errored("the manifest names neither a model alias nor a stage to follow")
    target = retraining.aliases_after.get(alias)
    evidence.update(alias=alias, alias_target=target)
    if target == new:
        return CheckOutcome.passed(f"alias {alias!r} points to the new version {new}", **evidence)
    return CheckOutcome.failed(f"alias {alias!r} points to version {target or 'nothing'}, not the new version {new}",
                               **evidence)


def _improves(params: Params, facts: Facts, retraining: Retraining, evidence: dict[str, Any]) -> CheckOutcome:
    labels, classes = facts.labels(params.dataset), facts.classes()
    scores: dict[str, float] = {}
    for role, evaluation in (("previous", retraining.previous), ("new", retraining.retrained)):
        predictions = evaluation.predictions.get(params.dataset)
        if predictions is None or len(predictions) != len(labels):
            why = evaluation.errors.get(params.dataset) or evaluation.load_error or "wrong number of predictions"
            return CheckOutcome.failed(f"the {role} version could not be scored on {params.dataset!r}: {why}",
                                       **evidence)
        scores[role] = METRICS[params.metric]([normalise(p, classes) for p in predictions], labels)
    gain = scores["new"] - scores["previous"]
    evidence.update({f"{role}_{params.metric}": round(score, 4) for role, score in scores.items()},
                    gain=round(gain, 4), margin=params.margin, rows=len(labels))
    summary = f"{params.metric} on {params.dataset!r}: new {scores['new']:.3f}, previous {scores['previous']:.3f}"
    if gain < params.margin:
        return CheckOutcome.failed(f"{summary}: not better by {params.margin}", **evidence)
    return CheckOutcome.passed(f"{summary} (+{gain:.3f})", **evidence)


CHECK = CheckType(name="retrain", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
