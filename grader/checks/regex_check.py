"""``regex``: file content matches (or must not match) a regular expression.

Searches every file matching ``path`` and counts matches across them; passes when at least
``min_matches`` are found. With ``must_not_match: true`` it passes only when there is no match at all,
which is how "every requirement is pinned" is written: no line that lacks ``==``.

Example::

    - id: pinned
      title: Requirements are pinned
      type: regex
      points: 1
      path: requirements.txt
      pattern: '^(?!\\s*(#|$))(?!.*==).*$'
      must_not_match: true
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from grader.checks.base import CheckContext, CheckType, FileParams
from grader.models import CheckOutcome

FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}


class Params(FileParams):
    pattern: str = Field(description="Python regular expression")
    flags: list[str] = Field(default_factory=lambda: ["multiline"], description=f"any of {sorted(FLAGS)}")
    min_matches: int = Field(1, ge=1, description="fewest matches needed across all files")
    must_not_match: bool = Field(False, description="pass only when the pattern matches nowhere")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(FLAGS))
        if unknown:
            raise ValueError(f"unknown flags {unknown}; use any of {sorted(FLAGS)}")
        return value


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    files = ctx.find(params.path, params.where)
    if not files:
        return CheckOutcome.failed(f"no file matches {params.path}", pattern=params.pattern)
    flags = 0
    for name in params.flags:
        flags |= FLAGS[name]
    regex = re.compile(params.pattern, flags)
    samples: list[str] = []
    total = 0
    for path in files:
        for match in regex.finditer(ctx.read_text(path)):
            total += 1
            if len(samples) < 10:
                samples.append(f"{ctx.relative(path, params.where)}: {match.group(0)[:200]}")
    evidence = {"pattern": params.pattern, "files": [ctx.relative(p, params.where) for p in files][:20],
                "matches": total, "samples": samples}
    if params.must_not_match:
        if total:
            return CheckOutcome.failed(f"{total} forbidden match(es), first: {samples[0]}", **evidence)
        return CheckOutcome.passed("no forbidden match", **evidence)
    if total < params.min_matches:
        return CheckOutcome.failed(f"{total} match(es) in {params.path}, {params.min_matches} needed", **evidence)
    return CheckOutcome.passed(f"{total} match(es) in {params.path}", **evidence)


CHECK = CheckType(name="regex", params=Params, evaluate=evaluate, summary=__doc__ or "")
