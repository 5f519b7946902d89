"""``dependencies``: the submission's own requirements could be installed for grading.

Reads the outcome of the dependency step (a lab with ``dependencies: {install: true}``): the
requirements were resolved and built into wheels in a dedicated container — the only one that may
reach a package index — and installed into the work area with no network. Passes when there was
nothing to install, the runtime stack already met every requirement, or the install succeeded; fails
naming the requirement that could not be resolved or built. With ``on_failure: continue`` the rest
of the run goes on with the lab's runtime stack.

Example::

    - {id: dependencies, title: Requirements install, type: dependencies, points: 1}
"""

from __future__ import annotations

from dataclasses import asdict

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.models import CheckOutcome


class Params(CheckParams):
    pass


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    outcome = ctx.dependencies
    if outcome is None:
        return CheckOutcome.errored("this lab does not install the submission's requirements")
    evidence = {k: v for k, v in asdict(outcome).items() if k not in ("env", "log_tail", "message")}
    evidence["log_tail"] = outcome.log_tail[-2000:]
    if outcome.status == "failed":
        return CheckOutcome.failed(outcome.message, **evidence)
    return CheckOutcome.passed(outcome.message, **evidence)


CHECK = CheckType(name="dependencies", params=Params, evaluate=evaluate, summary=__doc__ or "")
