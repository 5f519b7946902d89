"""``manual``: an item for a human reviewer, where no check can prove the property (e.g. how well the
problem is described, or how good the orchestration is).

Its status is always ``manual`` ("needs review"): it is listed in every report with the reviewer's
``instructions`` and never counts in the automatic score; its ``points`` are what a reviewer may award
(the report's ``review_points``). ``show`` names submission files whose beginning is copied into the
evidence, so the reviewer reads them beside the instructions in the HTML report; a file that is missing
is noted, not failed.

Example::

    - id: problem-quality
      title: The problem description is clear and motivated
      type: manual
      points: 2
      instructions: Does the README say what is predicted, for whom, and why it matters?
      show: [README.md]
"""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.models import CheckOutcome

EXCERPT_CHARS = 4000


class Params(CheckParams):
    instructions: str = Field(min_length=1, description="what the reviewer looks at and how to award the points")
    show: list[str] = Field(default_factory=list, description="submission files (globs) whose beginning is shown")


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    excerpts: dict[str, str] = {}
    missing: list[str] = []
    for pattern in params.show:
        found = ctx.find(pattern)
        if not found:
            missing.append(pattern)
        for path in found[:5]:
            excerpts[ctx.relative(path)] = ctx.read_text(path, EXCERPT_CHARS)
    evidence: dict[str, object] = {"excerpts": excerpts} if excerpts else {}
    if missing:
        evidence["missing"] = missing
    return CheckOutcome.for_review(params.instructions, **evidence)


CHECK = CheckType(name="manual", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
