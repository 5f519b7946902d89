"""``line-count``: a text file has enough non-blank lines (and not too many).

Counts the non-blank lines of every file matching ``path`` (in the submission, or in the artifacts a
lab's step copied out with ``where: artifacts``). Passes when each has between ``min_lines`` and
``max_lines`` of them. Comes from the example plug-in package (``examples/plugin-example``).

Example::

    - {id: changelog-entries, title: The changelog has three entries, type: line-count, points: 2,
       path: CHANGELOG.md, min_lines: 3}
"""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import CheckContext, CheckType, FileParams
from grader.models import CheckOutcome


class Params(FileParams):
    min_lines: int = Field(1, ge=0, description="fewest non-blank lines each matching file must have")
    max_lines: int | None = Field(None, ge=0, description="most non-blank lines allowed (no limit when unset)")


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    files = ctx.find(params.path, params.where)
    if not files:
        return CheckOutcome.failed(f"no {params.path} in the {params.where}", pattern=params.path)
    counts = {ctx.relative(f, params.where): _non_blank_lines(ctx.read_text(f)) for f in files}
    evidence = {"pattern": params.path, "lines": counts}
    short = {name: n for name, n in counts.items() if n < params.min_lines}
    if short:
        return CheckOutcome.failed(f"fewer than {params.min_lines} non-blank lines: {short}", **evidence)
    long = {name: n for name, n in counts.items() if params.max_lines is not None and n > params.max_lines}
    if long:
        return CheckOutcome.failed(f"more than {params.max_lines} non-blank lines: {long}", **evidence)
    return CheckOutcome.passed(", ".join(f"{name}: {n} lines" for name, n in counts.items()), **evidence)


def _non_blank_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


CHECK = CheckType(name="line-count", params=Params, evaluate=evaluate, summary=__doc__ or "")
