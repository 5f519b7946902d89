"""``client-consistency``: the model server answers the grader's probe as it answers any other client.

Some of the probe's prediction requests are sent again from a second client in another container, shaped
like curl (other headers and header order, one connection per request). Passes when every pair of answers
agrees — same kind of status, same prediction. A server that recognises the grader and answers it
differently from other clients fails, with the rows that differ.

Example::

    - {id: same-answers-for-everyone, title: Same answers for every client, type: client-consistency,
       points: 2, requests: 5}
"""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence.client_consistency import observe_second_client
from grader.evidence.request import EvidenceRequest
from grader.models import CheckOutcome
from grader.probe.second_client import USER_AGENT


class Params(CheckParams):
    requests: int = Field(5, ge=1, le=50, description="how many of the probe's prediction requests to resend")


def plan(params: Params) -> EvidenceRequest:
    """The probe's parity requests (at least as many as are resent)."""
    return EvidenceRequest(parity_rows=params.requests)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts = ctx.require_facts()
    serving = facts.serving()
    consistency = observe_second_client(facts.data, serving, params.requests)
    pairs = consistency.pairs
    if not pairs:
        return CheckOutcome.failed("the probe sent no prediction request to compare with another client")
    evidence = {"compared": len(pairs), "user_agent_of_the_other_client": USER_AGENT,
                "pairs": [pair.describe() for pair in pairs]}
    differing = consistency.disagreements
    if differing:
        return CheckOutcome.failed(
            f"the server answered the grader's probe differently from another client on {len(differing)} of "
            f"{len(pairs)} requests ({differing[0].describe()}): answer every client alike", **evidence)
    return CheckOutcome.passed(f"the same {len(pairs)} answers for the probe and another client", **evidence)


CHECK = CheckType(name="client-consistency", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
