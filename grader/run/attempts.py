"""A run that fails on the grader's side: every check still gets a result, and a retry starts from scratch.

An infrastructure failure (the engine lost or restarted mid-run, an image that would not build) says nothing
about the submission. The run then ends ``outcome: error`` and every check that was not evaluated gets status
``error`` with the reason, never ``fail``, so no point is lost to the candidate's account. A lab with
``retry_on_infrastructure_error`` grades the submission again from the start, from a fresh run state
(``RunState.next_attempt``); ``Report.attempts`` records every try.
"""

from __future__ import annotations

from collections.abc import Mapping

from grader.models import CheckResult, CheckSpec, Rubric, Status

NOT_EVALUATED = "not evaluated: the run ended in error on the grader's side, not the submission's fault ({reason})"
INTERRUPTED = "interrupted before grading finished"


def not_evaluated(check: CheckSpec, section: str, reason: str) -> CheckResult:
    """The result of a check the run could not get to, through no fault of the submission."""
    return CheckResult(
        id=check.id, title=check.title, section=section, type=check.type, status=Status.error, points=0,
        max_points=check.points, message=NOT_EVALUATED.format(reason=reason), visibility=check.visibility, hint=None,
        required=check.required,
    )


def results_in_rubric_order(rubric: Rubric, results: Mapping[str, CheckResult],
                            error: str | None) -> tuple[CheckResult, ...]:
    """Every check's result in rubric order. When the run ended in ``error``, a check without a result gets
    ``error`` with that reason; the checks evaluated before the failure keep their results."""
    ordered: list[CheckResult] = []
    for section in rubric.sections:
        for check in section.checks:
            result = results.get(check.id)
            if result is None and error is not None:
                result = not_evaluated(check, section.id, error)
            if result is not None:
                ordered.append(result)
    return tuple(ordered)
