"""Retraining evidence: which versions the late steps (e.g. ``retrain``) registered, next to the version
that was served before them. Both are scored by the grader on hidden data, each loaded in the model
evaluator sandbox; nothing the candidate logged about either is used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion

if TYPE_CHECKING:
    from grader.evidence import ModelEvaluation

RETRAINED_EVALUATOR = "evaluator-retrained"


@dataclass
class Retraining:
    """The served version before the late steps, and the newest version they registered (if any)."""

    previous: ModelEvaluation
    retrained: ModelEvaluation
    registered: list[ModelVersion]  # every version registered by the late steps, oldest first
    aliases_after: dict[str, str] = field(default_factory=dict)  # alias → version, after the late steps


def registered_between(before: MlflowSnapshot, after: MlflowSnapshot, name: str) -> list[ModelVersion]:
    """Versions of ``name`` in ``after`` that ``before`` did not have, oldest first."""
    known = {v.version for v in before.versions if v.name == name}
    return [v for v in after.versions_of(name) if v.version not in known]
