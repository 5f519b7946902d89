"""The capstone-review lab's pieces: manual items (status, scoring, every report format, the rubric test)
and the ``lint`` check type judged from the sandboxed ruff run given to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader.checks import get_check_type
from grader.checks.base import CheckContext
from grader.cli.console import summary_table
from grader.models import CheckOutcome, Report, Rubric, Status
from grader.results.report import render
from grader.results.scoring import result_from_outcome, score_report, skip_reason
from grader.run.rubric_test import compare
from tests.unit import check_contract as contract


def make_context(tmp_path: Path, files: dict[str, str], run_tool: Any = None) -> CheckContext:
    return contract.make_context(tmp_path, files, run_tool=run_tool or contract.never)


evaluate = contract.run_check


# --- manual items --------------------------------------------------------------------------------


def test_manual_item_needs_review_with_the_instructions_and_the_files_it_names(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, {"README.md": "# Problem\nPredict faults." + "x" * 10000})
    outcome = evaluate("manual", {"instructions": "Award 2 if clear.", "show": ["README.md", "flows/*.py"]}, ctx)
    assert outcome.status is Status.manual and outcome.message == "Award 2 if clear."
    assert outcome.evidence["excerpts"]["README.md"].startswith("# Problem\nPredict faults.")
    assert len(outcome.evidence["excerpts"]["README.md"]) == 4000
    assert outcome.evidence["missing"] == ["flows/*.py"]


def test_manual_item_without_instructions_is_refused() -> None:
    with pytest.raises(ValueError, match="instructions"):
        get_check_type("manual").params.model_validate({"show": ["README.md"]})


RUBRIC = Rubric.model_validate({
    "id": "r", "title": "R", "pass_mark": 0.5,
    "sections": [{"id": "s", "title": "S", "checks": [
        {"id": "auto", "title": "Auto", "type": "file", "points": 4, "path": "x"},
        {"id": "review", "title": "Review", "type": "manual", "points": 3, "instructions": "look"},
    ]}],
})


def manual_report() -> Report:
    auto, review = RUBRIC.checks
    results = [
        result_from_outcome(auto, "s", CheckOutcome.passed("found"), 0.0),
        result_from_outcome(review, "s", CheckOutcome.for_review("Read the README <b>closely</b>."), 0.0),
    ]
    report = Report(grader_version="t", run_id="run1", lab={"id": "lab", "title": "Lab"},
                    rubric={"id": "r", "version": "1", "digest": "d"}, max_score=RUBRIC.max_score,
                    review_points=RUBRIC.review_points, pass_mark=RUBRIC.pass_mark, sections={"s": "S"},
                    started_at="2026-01-01T00:00:00+00:00", checks=results)
    return score_report(report)


def test_manual_points_are_outside_the_automatic_score_and_verdict() -> None:
    report = manual_report()
    assert RUBRIC.max_score == 4 and RUBRIC.review_points == 3
    assert report.score == 4 and report.max_score == 4 and report.passed
    review = report.checks[1]
    assert (review.status, review.points, review.max_points) == (Status.manual, 0, 3)


def test_every_report_format_lists_the_manual_item_with_its_instructions() -> None:
    report = manual_report()
    as_json = json.loads(render(report, "json"))
    assert as_json["review_points"] == 3 and as_json["checks"][1]["status"] == "manual"
    markdown = render(report, "md")
    assert "📝 needs review" in markdown and "up to 3.0 (reviewer)" in markdown
    assert "1 item awaits a reviewer (up to 3.0 more points, not included in this score)" in markdown
    assert "Read the README &lt;b&gt;closely&lt;/b&gt;." in markdown
    html = render(report, "html")
    assert "For the reviewer" in html and "status-manual" in html
    assert "Read the README &lt;b&gt;closely&lt;/b&gt;." in html and "<b>closely" not in html
    assert "(4.0 / 4.0)" in html  # the section subtotal leaves the reviewer's points out
    assert "need a reviewer (up to 3 points" in str(summary_table(report).caption)


def test_the_rubric_test_never_counts_a_manual_item_as_lost() -> None:
    assert compare(manual_report(), {}) == []


def test_a_check_that_needs_a_manual_item_is_skipped_with_the_reason() -> None:
    review = manual_report().checks[1]
    dependent = RUBRIC.checks[0].model_copy(update={"needs": ["review"]})
    assert skip_reason(dependent, {"review": review}) == "skipped because 'review' awaits a reviewer"


# --- lint ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fake_ruff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "ruff-binary"
    binary.write_bytes(b"\x7fELF fake")
    binary.chmod(0o755)
    monkeypatch.setenv("GRADER_RUFF", str(binary))


class FakeRuff:
    def __init__(self, exit_code: int, output: str = "") -> None:
        self.exit_code, self.output, self.calls = exit_code, output, []

    def __call__(self, name: str, command: str, tools: Any, inputs: Path):
        from grader.models import StepResult

        self.calls.append((command, dict(tools), inputs))
        return StepResult(id=name, command=command, exit_code=self.exit_code, duration_s=0.1, stdout=self.output)


PYPROJECT = "[project]\nname = 'x'\n\n[tool.ruff]\nline-length = 120\n"


def test_lint_passes_when_ruff_is_configured_and_clean(tmp_path: Path) -> None:
    ruff = FakeRuff(0, "All checks passed!")
    ctx = make_context(tmp_path, {"pyproject.toml": PYPROJECT, "a.py": "x = 1\n"}, ruff)
    outcome = evaluate("lint", {}, ctx)
    assert outcome.status is Status.passed and "pyproject.toml [tool.ruff]" in outcome.message
    command, tools, inputs = ruff.calls[0]
    assert "/opt/grader-tools/ruff check --no-cache" in command and set(tools) == {"ruff"}
    assert inputs == ctx.submission_dir


def test_lint_fails_with_the_first_finding(tmp_path: Path) -> None:
    ruff = FakeRuff(1, "capstone/registry.py:8:8: F401 [*] `sys` imported but unused\nFound 1 error.")
    outcome = evaluate("lint", {}, make_context(tmp_path, {"ruff.toml": "line-length = 100\n"}, ruff))
    assert outcome.status is Status.failed
    assert outcome.message == "ruff check finds problems: capstone/registry.py:8:8: F401 [*] `sys` imported but unused"


def test_lint_fails_when_ruff_cannot_read_the_configuration(tmp_path: Path) -> None:
    ruff = FakeRuff(2, "ruff failed\n  Cause: unknown field `lenght`")
    outcome = evaluate("lint", {}, make_context(tmp_path, {".ruff.toml": "lenght = 1\n"}, ruff))
    assert outcome.status is Status.failed and "ruff cannot run on the repository (exit 2)" in outcome.message


def test_lint_without_any_configuration_fails_saying_so(tmp_path: Path) -> None:
    outcome = evaluate("lint", {}, make_context(tmp_path, {"a.py": "x = 1\n"}, FakeRuff(0)))
    assert outcome.status is Status.failed
    assert outcome.message.startswith("no linter configured: configure one of ruff, flake8, pylint, black")


def test_lint_names_configured_linters_the_rubric_does_not_accept(tmp_path: Path) -> None:
    files = {"setup.cfg": "[metadata]\nname = x\n\n[flake8]\nmax-line-length = 100\n",
             "pyproject.toml": "[tool.black]\nline-length = 100\n"}
    outcome = evaluate("lint", {"linters": ["ruff"]}, make_context(tmp_path, files, FakeRuff(0)))
    assert outcome.status is Status.failed
    assert "flake8 (setup.cfg [flake8]), black (pyproject.toml [tool.black]), which this rubric does not accept" \
        in outcome.message


def test_lint_can_run_with_ruffs_defaults_when_no_configuration_is_required(tmp_path: Path) -> None:
    outcome = evaluate("lint", {"require_config": False, "mode": "format"},
                       make_context(tmp_path, {"a.py": "x = 1\n"}, FakeRuff(0)))
    assert outcome.status is Status.passed and "default settings" in outcome.message
