"""Retraining evidence: which versions the late steps (e.g. ``retrain``) registered, next to the version
that was served before them. Both are scored by the grader on hidden data, each loaded in the model
evaluator sandbox; nothing the candidate logged about either is used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from grader.errors import InfrastructureError
from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion
from grader.evidence.model_evaluation import REGISTERED_KEY, ModelEvaluation, ModelEvaluator, ModelToEvaluate


@dataclass(frozen=True)
class Retraining:
    """The served version before the late steps, and the newest version they registered (if any)."""

    previous: ModelEvaluation
    retrained: ModelEvaluation
    registered: list[ModelVersion]  # every version registered by the late steps, oldest first
    aliases_after: Mapping[str, str] = field(default_factory=dict)  # alias → version, after the late steps


def registered_between(before: MlflowSnapshot, after: MlflowSnapshot, name: str) -> list[ModelVersion]:
    """Versions of ``name`` in ``after`` that ``before`` did not have, oldest first."""
    known = {v.version for v in before.versions if v.name == name}
    return [v for v in after.versions_of(name) if v.version not in known]


def collect_retraining(model: str, before: MlflowSnapshot, after: MlflowSnapshot,
                       previous: Callable[[], ModelEvaluation], evaluator: ModelEvaluator) -> Retraining:
    """Score the newest version the late steps registered with ``evaluator`` (released when there is none);
    ``previous`` gives the served version's evaluation from before them."""
    for moment, snapshot in (("before", before), ("after", after)):
        if snapshot.error:
            raise InfrastructureError(f"the registry could not be read {moment} the late steps: {snapshot.error}")
    served_before = previous()
    registered = registered_between(before, after, model)
    newest = registered[-1] if registered else None
    if newest is None:
        evaluator.cancel()
        retrained = ModelEvaluation(version=None,
                                    load_error=f"no new version of {model!r} was registered by the late steps")
    else:
        order = {REGISTERED_KEY: ModelToEvaluate(f"models:/{newest.name}/{newest.version}", newest)}
        retrained = evaluator.evaluate(order)[REGISTERED_KEY]
    return Retraining(previous=served_before, retrained=retrained, registered=registered,
                      aliases_after=after.aliases.get(model, {}))
