"""The report, assembled once when the run ends: from the run's state, the lab, and the rubric's results."""

from __future__ import annotations

from typing import Any

from grader import __version__
from grader.labs.loading import LoadedLab
from grader.labs.provenance import lab_digest, plugin_check_types
from grader.models import Report
from grader.results.scoring import score_checks
from grader.run.attempts import results_in_rubric_order
from grader.run.state import RunState


def assemble_report(run: RunState, *, finished_at: str, total_seconds: float) -> Report:
    """The frozen report of the run whose last try is ``run``."""
    rubric = run.lab.rubric.rubric
    checks = results_in_rubric_order(rubric, run.checks, run.error)
    score = score_checks(checks, graded=run.error is None, max_score=rubric.max_score, pass_mark=rubric.pass_mark)
    return Report(
        **_lab_fields(run.lab),
        grader_version=__version__,
        run_id=run.run_id,
        backend=run.backend,
        runtime=run.runtime,
        submission=run.submission,
        manifest=run.manifest_file,
        images=run.images,
        dependencies=_dependency_summary(run.dependencies),
        outcome="error" if run.error is not None else "graded",
        error=run.error,
        score=score.score,
        passed=score.passed,
        missed_required=score.missed_required,
        started_at=run.started_at,
        finished_at=finished_at,
        timing={**run.timing, "total": round(total_seconds, 3)},
        checks=checks,
        steps=tuple(run.steps.values()),
        services=tuple(run.services.values()),
        attempts=tuple(run.attempts),
    )


def _lab_fields(lab: LoadedLab) -> dict[str, Any]:
    """What the report says about the lab and rubric that graded it."""
    rubric = lab.rubric
    return {
        "lab": {"id": lab.lab.id, "version": lab.lab.version, "title": lab.lab.title, "digest": lab_digest(lab)},
        "plugins": plugin_check_types(lab),
        "rubric": {"id": rubric.rubric.id, "version": rubric.rubric.version, "digest": rubric.digest},
        "max_score": rubric.rubric.max_score,
        "review_points": rubric.rubric.review_points,
        "sections": {section.id: section.title for section in rubric.rubric.sections},
        "pass_mark": rubric.rubric.pass_mark,
    }


def _dependency_summary(outcome: Any) -> dict[str, Any] | None:
    """The dependency step's outcome as the report shows it: everything but the environment it sets."""
    if outcome is None:
        return None
    summary: dict[str, Any] = outcome.for_report()
    return summary
