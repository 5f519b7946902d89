"""``command``: a lab step ran as expected — its exit code, and patterns in its output.

Looks at a step the lab already ran (it does not run anything itself). Passes when the step exited
with one of ``exit_codes`` within its time limit and its output matches every ``stdout``/``stderr``
pattern given. A step that was skipped, timed out or ran out of memory fails with that reason.

Example::

    - {id: training-runs, title: Training completes, type: command, points: 3, step: train,
       stdout: "accuracy"}
"""

from __future__ import annotations

import re

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.models import CheckOutcome, describe_exit_code

TAIL = 2000


class Params(CheckParams):
    step: str = Field(description="id of a step in the lab")
    exit_codes: list[int] = Field(default_factory=lambda: [0], description="accepted exit codes")
    stdout: str | None = Field(None, description="regex that must be found in the step's stdout")
    stderr: str | None = Field(None, description="regex that must be found in the step's stderr")
    not_output: str | None = Field(None, description="regex that must not appear in stdout or stderr")


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    result = ctx.steps.get(params.step)
    if result is None:
        return CheckOutcome.errored(f"the lab has no step {params.step!r} or it did not run")
    evidence = {
        "step": result.id, "command": result.command, "exit_code": result.exit_code,
        "duration_s": round(result.duration_s, 2), "timed_out": result.timed_out, "oom_killed": result.oom_killed,
        "stdout_tail": result.stdout[-TAIL:], "stderr_tail": result.stderr[-TAIL:],
    }
    if result.skipped_reason:
        return CheckOutcome.failed(f"step {result.id!r} did not run: {result.skipped_reason}", **evidence)
    if result.timed_out or result.oom_killed:
        return CheckOutcome.failed(f"step {result.id!r} {result.failure_reason}", **evidence)
    if result.exit_code not in params.exit_codes:
        return CheckOutcome.failed(
            f"step {result.id!r} {describe_exit_code(result.exit_code)}, expected {params.exit_codes}", **evidence
        )
    for stream, pattern in (("stdout", params.stdout), ("stderr", params.stderr)):
        if pattern and not re.search(pattern, getattr(result, stream), re.MULTILINE):
            return CheckOutcome.failed(f"step {result.id!r}: {stream} does not match {pattern!r}", **evidence)
    if params.not_output and (found := re.search(params.not_output, result.stdout + result.stderr, re.MULTILINE)):
        return CheckOutcome.failed(f"step {result.id!r} printed forbidden output {found.group(0)[:100]!r}", **evidence)
    return CheckOutcome.passed(f"step {result.id!r} exited with code {result.exit_code}", **evidence)


CHECK = CheckType(name="command", params=Params, evaluate=evaluate, summary=__doc__ or "")
