"""``promotion``: the grader promotes a version of its own and rolls it back; the candidate's server must follow.

The drill (one per run, shared by every ``promotion`` check): a trusted grader container registers a
*sentinel* version of the candidate's model (``model.name``) — a constant classifier whose one answer is
a token made for this run — then the probe points ``model.alias`` at it, sends ``rows`` hidden rows
round after round, points the alias back at the candidate's version and watches again. The server
follows per the manifest's ``serve.reload``: ``poll`` (it watches the registry itself) or ``restart``
(the grader restarts its container after each move). Each switch must show within
``serve.reload_within`` seconds and hold for 3 rounds in a row. ``require`` picks the property:

- ``promotion``: after the alias moved to the sentinel, every answer is the sentinel's;
- ``rollback``: after the alias moved back, no answer is the sentinel's and the answers agree with the
  candidate's registered version (as the model evaluator measured it) in at least ``min_agreement``;
- ``no-errors``: every request during both switches got a 2xx (no 5xx, no dropped connection).

Example::

    - {id: follows-promotion, title: The server follows a promotion, type: promotion, points: 6,
       require: promotion, rows: 10}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence import Facts
from grader.evidence.labels import normalise
from grader.evidence.promotion import PROMOTION, ROLLBACK, DrillResult, WatchPhase
from grader.evidence.request import EvidenceRequest
from grader.evidence.serving import decode_prediction
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["promotion", "rollback", "no-errors"]
    rows: int = Field(10, ge=1, le=100, description="hidden rows sent in every round of the drill")
    min_agreement: float = Field(0.98, ge=0, le=1, description="``rollback``: share of answers that must agree "
                                                               "with the candidate's version")


def plan(params: Params) -> EvidenceRequest:
    """The promotion drill with ``rows`` rows a round, and the candidate's version scored before it."""
    return EvidenceRequest(registry=True, model_evaluation=True, promotion_rows=params.rows)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts: Facts = ctx.require_facts()
    drill = facts.promotion_drill()
    if drill.plan is None:
        return CheckOutcome.failed(drill.problem or "the drill could not run", **drill.evidence())
    if params.require == "promotion":
        return _promotion(drill)
    if params.require == "rollback":
        return _rollback(params, facts, drill)
    return _no_errors(drill)


def _served(bodies: list[str]) -> list[Any]:
    return [decode_prediction(body) for body in bodies]


def _not_followed(phase: WatchPhase, what: str, evidence: dict[str, Any]) -> CheckOutcome:
    served = _served(phase.last_bodies[-1]) if phase.last_bodies else []
    why = f" ({phase.note})" if phase.note else ""
    return CheckOutcome.failed(f"{what} within {phase.deadline_s:g}s of the alias move{why}; last answers: "
                               f"{served[:5]}", **evidence)


def _promotion(drill: DrillResult) -> CheckOutcome:
    assert drill.plan is not None
    phase = drill.phases[PROMOTION]
    evidence = {**drill.evidence(), PROMOTION: phase.summary()}
    if not phase.matched:
        return _not_followed(phase, f"the server did not serve the promoted version {drill.plan.sentinel_version}",
                             evidence)
    served = [answer for bodies in phase.last_bodies for answer in _served(bodies)]
    if any(str(answer) != drill.plan.token for answer in served):
        return CheckOutcome.failed(f"answers held the sentinel's token but not as the prediction: {served[:5]}",
                                   **evidence)
    return CheckOutcome.passed(f"served the promoted version {drill.plan.sentinel_version} "
                               f"{phase.switched_after_s:g}s after the alias moved", **evidence)


def _rollback(params: Params, facts: Facts, drill: DrillResult) -> CheckOutcome:
    assert drill.plan is not None
    phase = drill.phases[ROLLBACK]
    evidence: dict[str, Any] = {**drill.evidence(), ROLLBACK: phase.summary()}
    if not phase.matched:
        return _not_followed(phase, f"the server still served the sentinel version {drill.plan.sentinel_version}",
                             evidence)
    evaluation = facts.model_evaluation()
    reference = evaluation.predictions.get(facts.served_dataset)
    if reference is None:
        return CheckOutcome.failed(f"the candidate's version could not be evaluated: {evaluation.load_error}",
                                   **evidence)
    classes = facts.classes()
    served = _served(phase.last_bodies[-1])
    expected = [normalise(value, classes) for value in reference[: len(served)]]
    agree = sum(answer is not None and normalise(answer, classes) == want
                for answer, want in zip(served, expected, strict=True))
    share = agree / len(served) if served else 0.0
    evidence |= {"agreement": round(share, 4), "served": served[:10], "candidate_version_predicts": expected[:10]}
    if share < params.min_agreement:
        return CheckOutcome.failed(f"after the rollback only {agree}/{len(served)} answers match version "
                                   f"{drill.plan.original_version} ({params.min_agreement:.0%} needed)", **evidence)
    return CheckOutcome.passed(f"back on version {drill.plan.original_version} {phase.switched_after_s:g}s after "
                               f"the rollback: {agree}/{len(served)} answers match it", **evidence)


def _no_errors(drill: DrillResult) -> CheckOutcome:
    phases = [drill.phases[PROMOTION], drill.phases[ROLLBACK]]
    evidence = {**drill.evidence(), **{phase.name: phase.summary() for phase in phases}}
    answered = sum(len(entry.get("statuses", [])) for phase in phases for entry in phase.rounds)
    errors = sum(phase.errors() for phase in phases)
    if errors:
        phase, first = next((phase, f) for phase in phases for f in phase.failures)
        return CheckOutcome.failed(f"{errors} of {answered} requests during the switches failed, e.g. "
                                   f"{first.get('status') or 'no answer'} {first.get('t')}s into the {phase.name}: "
                                   f"{str(first.get('body'))[:120]}", **evidence)
    return CheckOutcome.passed(f"all {answered} requests during the switches got a 2xx", **evidence)


CHECK = CheckType(name="promotion", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
