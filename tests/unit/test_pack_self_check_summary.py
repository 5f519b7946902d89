"""What `grader check` tells a candidate at the end (pure logic over a report): the exit decision, the check to
fix first, the summary lines and the note appended to report.md."""

from __future__ import annotations

from pathlib import Path

from grader.cli.check import first_to_fix, self_check_note, self_check_passed, self_check_summary
from grader.labs.pack import BundledLab, BundledRubric, BundleManifest
from grader.models import CheckResult, Report, Status, Visibility

BUNDLE = BundleManifest(
    grader_version="0.1.0",
    lab=BundledLab(id="lab", version="1.0", title="Lab", digest="sha256:aa"),
    rubric=BundledRubric(id="lab", version="1.0", digest="sha256:bb", public_digest="sha256:cc"),
    hidden_checks=2, hidden_points=9, stand_ins={"holdout": "data/valid.csv"}, dropped_needs={}, files={},
)


def result(check_id: str, status: Status, *, points: float = 2, required: bool = False, hint: str | None = None,
           visibility: Visibility = Visibility.public) -> CheckResult:
    earned = points if status is Status.passed else 0
    return CheckResult(id=check_id, title=f"{check_id} title", section="s", type="file", status=status,
                       points=earned, max_points=points, message=f"{check_id} says why", required=required,
                       hint=hint, visibility=visibility)


def report(*checks: CheckResult) -> Report:
    return Report(grader_version="0.1.0", run_id="r1", lab={"id": "lab", "version": "1.0", "title": "Lab"},
                  rubric={"id": "lab"}, started_at="2026-12-03T00:00:00Z", checks=checks)


def test_exit_follows_required_public_checks_or_every_public_check_when_strict():
    optional_failure = report(result("a", Status.passed, required=True), result("b", Status.failed),
                              result("m", Status.manual))
    assert self_check_passed(optional_failure, strict=False)
    assert not self_check_passed(optional_failure, strict=True)
    required_skipped = report(result("a", Status.failed), result("b", Status.skipped, required=True))
    assert not self_check_passed(required_skipped, strict=False)
    hidden_failure = report(result("a", Status.passed), result("h", Status.failed, visibility=Visibility.hidden))
    assert self_check_passed(hidden_failure, strict=True)


def test_fix_first_is_a_failed_required_check_else_the_first_failure_never_a_skipped_or_hidden_one():
    checks = (result("h", Status.failed, visibility=Visibility.hidden), result("skipped", Status.skipped),
              result("early", Status.failed), result("required", Status.error, required=True))
    assert first_to_fix(report(*checks)).id == "required"  # type: ignore[union-attr]
    assert first_to_fix(report(*checks[:3])).id == "early"  # type: ignore[union-attr]
    assert first_to_fix(report(result("ok", Status.passed), checks[1])) is None


def test_summary_says_score_required_hidden_fix_first_and_where_the_report_is():
    lines = self_check_summary(report(result("a", Status.passed, points=3, required=True),
                                      result("b", Status.failed, points=1, hint="Add b."),
                                      result("c", Status.skipped, points=4)),
                               BUNDLE, Path("/out/report.md"))
    text = "\n".join(lines)
    assert "public checks: [bold]3/8[/bold] points (38%) — 1 passed, 1 failed, 1 skipped" in text
    assert "all 1 required checks pass" in text
    assert "not run here: 2 hidden checks worth 9 points" in text
    assert "fix first:[/bold] b — b title: b says why" in text and "hint: Add b." in text
    assert text.endswith("report.md: /out/report.md")


def test_note_in_report_md_names_the_bundle_hidden_points_and_stand_ins():
    note = self_check_note(BUNDLE)
    assert note.startswith("\n## Self-check\n")
    assert "public bundle of lab lab v1.0 (rubric lab v1.0, sha256:bb)" in note
    assert "2 hidden checks worth 9 points did not run" in note
    assert "public stand-ins (holdout: data/valid.csv)" in note
