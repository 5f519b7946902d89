"""``answers-are-labels``: every answer of the model server is one of the task's labels.

The grader's probe sends ``rows`` hidden rows to the candidate's server (one request each, in the
manifest's request format); each answer must be a 2xx whose prediction is a class of the lab's task —
a label as written, or a class index. Passes when at least ``min_share`` of the answers are. Needs a lab
with a task and a model server (see the ``mlops-capstone`` lab). Comes from the example plug-in package
(``examples/plugin-example``) and shows a check type asking for evidence: its ``plan`` asks for the
served answers, and the grader's probe sends them.

Example::

    - {id: answers-are-labels, title: The server answers with fault labels, type: answers-are-labels,
       points: 2, rows: 20}
"""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence.labels import normalise
from grader.evidence.request import EvidenceRequest
from grader.evidence.serving import decode_prediction
from grader.models import CheckOutcome


class Params(CheckParams):
    rows: int = Field(20, ge=1, le=1000, description="hidden rows sent to the server")
    min_share: float = Field(1.0, ge=0, le=1, description="share of answers that must be a label")


def plan(params: Params) -> EvidenceRequest:
    """The server's answers to ``rows`` hidden rows."""
    return EvidenceRequest(parity_rows=params.rows)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts = ctx.require_facts()
    answers = facts.serving().parity[: params.rows]
    if not answers:
        return CheckOutcome.errored("the probe sent no prediction requests")
    classes = facts.classes()
    strays = []
    for answer in answers:
        served = decode_prediction(answer.body) if answer.ok else None
        label = None if served is None else normalise(served, classes)
        if label not in classes:
            strays.append({"status": answer.status, "response": answer.text[:200]})
    labelled = len(answers) - len(strays)
    evidence = {"labels": classes, "answers": len(answers), "not_labels": strays[:10]}
    if labelled < params.min_share * len(answers):
        return CheckOutcome.failed(f"{len(strays)}/{len(answers)} answers are not one of {classes}", **evidence)
    return CheckOutcome.passed(f"{labelled}/{len(answers)} answers are labels of the task", **evidence)


CHECK = CheckType(name="answers-are-labels", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
