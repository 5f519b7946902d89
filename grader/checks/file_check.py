"""``file``: files exist (or must not) — a path or a glob, in the submission or in the step artifacts.

Passes when the number of matching regular files is within ``min_matches``..``max_matches`` and each
is at least ``min_bytes`` long. With ``absent: true`` it passes only when nothing matches (for
example no committed ``.env`` or data dumps).

Example::

    - {id: dockerfile, title: Has a Dockerfile, type: file, points: 1, path: Dockerfile}
    - {id: model-saved, title: Training saved a model, type: file, points: 2,
       path: "artifacts/*.joblib", where: artifacts, min_bytes: 100}
"""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import CheckContext, CheckType, FileParams
from grader.models import CheckOutcome


class Params(FileParams):
    min_matches: int = Field(1, ge=0, description="fewest matching files")
    max_matches: int | None = Field(None, ge=0, description="most matching files (no limit when unset)")
    min_bytes: int = Field(0, ge=0, description="smallest size each matching file must have")
    absent: bool = Field(False, description="pass only when nothing matches")


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    matches = ctx.find(params.path, params.where)
    names = [ctx.relative(p, params.where) for p in matches]
    evidence = {"pattern": params.path, "where": params.where, "matches": names[:20], "count": len(names)}
    if params.absent:
        if names:
            return CheckOutcome.failed(f"{params.path} must not exist, found: {', '.join(names[:5])}", **evidence)
        return CheckOutcome.passed(f"no {params.path}, as required", **evidence)
    if len(names) < params.min_matches:
        return CheckOutcome.failed(
            f"{params.path}: {len(names)} found in the {params.where}, at least {params.min_matches} expected",
            **evidence,
        )
    if params.max_matches is not None and len(names) > params.max_matches:
        return CheckOutcome.failed(f"{params.path}: {len(names)} found, at most {params.max_matches} allowed",
                                   **evidence)
    too_small = [ctx.relative(p, params.where) for p in matches if p.stat().st_size < params.min_bytes]
    if too_small:
        return CheckOutcome.failed(
            f"smaller than {params.min_bytes} bytes: {', '.join(too_small[:5])}", too_small=too_small, **evidence
        )
    return CheckOutcome.passed(f"{params.path}: {len(names)} found", **evidence)


CHECK = CheckType(name="file", params=Params, evaluate=evaluate, summary=__doc__ or "")
