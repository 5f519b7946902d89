from grader.models import CheckResult, CheckSpec, Report, Status
from grader.results.scoring import score_checks, score_report, skip_reason


def _result(check_id: str, status: Status, points: float = 0, max_points: float = 1) -> CheckResult:
    return CheckResult(id=check_id, title=check_id, section="s", type="file", status=status, points=points,
                       max_points=max_points, message="")


def test_a_check_is_skipped_when_a_needed_check_did_not_pass():
    spec = CheckSpec(id="b", title="b", type="file", points=1, needs=["a"])
    assert skip_reason(spec, {"a": _result("a", Status.passed, 1)}) is None
    assert skip_reason(spec, {"a": _result("a", Status.failed)}) == "skipped because 'a' failed"
    assert skip_reason(spec, {"a": _result("a", Status.skipped)}) == "skipped because 'a' was skipped"
    assert skip_reason(spec, {"a": _result("a", Status.error)}) == "skipped because 'a' could not be decided"


def test_pass_mark_decides_and_an_errored_run_never_passes():
    checks = [_result("a", Status.passed, 7, 7), _result("b", Status.failed, 0, 3)]
    assert score_checks(checks, graded=True, max_score=10, pass_mark=0.7)[:2] == (7, True)
    assert score_checks(checks, graded=True, max_score=10, pass_mark=0.71)[:2] == (7, False)
    assert score_checks(checks, graded=False, max_score=10, pass_mark=0.7)[:2] == (7, False)


def test_a_required_check_that_did_not_pass_fails_the_verdict_whatever_the_score():
    baseline = _result("beats-baseline", Status.failed, 0, 1).model_copy(update={"required": True})
    checks = [_result("a", Status.passed, 9, 9), baseline]
    score = score_checks(checks, graded=True, max_score=10, pass_mark=0.7)
    assert score == (9, False, ("beats-baseline",))
    passing = baseline.model_copy(update={"status": Status.passed, "points": 1})
    assert score_checks([checks[0], passing], graded=True, max_score=10, pass_mark=0.7) == (10, True, ())


def test_a_manual_item_cannot_be_required():
    from grader.models import Rubric

    rubric = Rubric(id="r", title="r", sections=[{"id": "s", "title": "s", "checks": [
        {"id": "m", "title": "m", "type": "manual", "points": 1, "required": True}]}])
    assert [message for _, message in rubric.reference_problems()] == [
        "check 'm' is a manual item: a reviewer scores it after grading, so the automatic verdict cannot require it"]


def test_scoring_a_report_gives_a_scored_copy_and_leaves_the_frozen_original_alone():
    report = Report(grader_version="t", run_id="r", lab={}, rubric={}, started_at="", max_score=10, pass_mark=0.7,
                    checks=[_result("a", Status.passed, 7, 7), _result("b", Status.failed, 0, 3)])
    scored = score_report(report)
    assert (scored.score, scored.passed) == (7, True)
    assert (report.score, report.passed) == (0, False)
    assert score_report(report.model_copy(update={"outcome": "error"})).passed is False
