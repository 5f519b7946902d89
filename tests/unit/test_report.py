"""The report stage: JSON stability, what the candidate's Markdown hides, hostile text, atomic writes."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.errors import BadInputError
from grader.models import CheckResult, Report, ServiceResult, Status, StepResult, SubmissionInfo, Visibility
from grader.results.report import html as html_report
from grader.results.report import json_report, markdown, render, write_reports
from grader.results.report.text import clean_text, format_points, tail

ReportFactory = Callable[..., Report]

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
HOSTILE = (
    "<script>alert(1)</script>"
    '" onmouseover="alert(2)'
    " | pipe | "
    "\x1b[31mred\x1b[0m"
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"
    "nul\x00byte"
    "`tick`\nsecond line"
)


def _check(check_id: str, status: Status, points: float, max_points: float, **fields: Any) -> CheckResult:
    defaults: dict[str, Any] = {
        "title": f"Title of {check_id}",
        "section": "basics",
        "type": "file_exists",
        "message": f"message of {check_id}",
    }
    return CheckResult(
        id=check_id, status=status, points=points, max_points=max_points, **{**defaults, **fields}
    )


@pytest.fixture
def make_report() -> ReportFactory:
    """Builds a realistic report: public and hidden checks in two sections, a failed step, a service."""

    def build(**overrides: Any) -> Report:
        fields: dict[str, Any] = {
            "grader_version": "0.1.0",
            "run_id": "run-0001",
            "lab": {"id": "mlops-capstone", "version": "2", "title": "MLOps capstone"},
            "rubric": {"id": "capstone", "version": "3", "digest": "sha256:rubric"},
            "submission": SubmissionInfo(
                source="/submissions/alice", kind="directory", digest="sha256:sub", files=12, bytes=3456
            ),
            "images": {"runtime": "sha256:image"},
            "score": 9.0,
            "max_score": 14.0,
            "pass_mark": 0.6,
            "passed": True,
            "started_at": "2024-05-01T10:00:00+00:00",
            "finished_at": "2024-05-01T10:03:00+00:00",
            "timing": {"intake": 0.2, "steps": 120.5, "checks": 3.1},
            "checks": [
                _check("readme", Status.passed, 1, 1, hint="HINT-readme-passed"),
                _check("train-runs", Status.failed, 0, 3, hint="HINT-train-failed", evidence={"exit": 1}),
                _check("api-up", Status.error, 0, 2, section="serving", hint="HINT-api-error"),
                _check("api-predicts", Status.skipped, 0, 2, section="serving", hint="HINT-api-skip"),
                _check(
                    "secret-drift",
                    Status.passed,
                    4,
                    4,
                    visibility=Visibility.hidden,
                    title="SECRET-TITLE",
                    message="SECRET-MESSAGE",
                    hint="SECRET-HINT",
                    evidence={"secret": "SECRET-EVIDENCE"},
                ),
                _check(
                    "secret-leak",
                    Status.failed,
                    0,
                    2,
                    visibility=Visibility.hidden,
                    section="serving",
                    title="SECRET-TITLE-2",
                    message="SECRET-MESSAGE-2",
                    hint="SECRET-HINT-2",
                ),
            ],
            "steps": [
                StepResult(
                    id="train",
                    command="python train.py",
                    exit_code=137,
                    duration_s=61.5,
                    oom_killed=True,
                    stdout="STDOUT-LOG epoch 1\n",
                    stderr="STDERR-LOG Killed\n",
                )
            ],
            "services": [
                ServiceResult(id="api", ready=False, message="never answered", log_tail="SERVICE-LOG")
            ],
        }
        return Report(**{**fields, **overrides})

    return build


def _hostile_report(make_report: ReportFactory, where: str) -> Report:
    """A report with HOSTILE placed in one submission-controlled spot."""
    report = make_report()
    checks = list(report.checks)
    if where == "message":
        checks[1] = checks[1].model_copy(update={"message": HOSTILE})
    elif where == "evidence":
        checks[1] = checks[1].model_copy(update={"evidence": {HOSTILE: [HOSTILE, {"nested": HOSTILE}]}})
    elif where == "file name":
        checks[0] = checks[0].model_copy(
            update={"message": f"found {HOSTILE}.py", "evidence": {"path": HOSTILE}}
        )
    elif where == "step output":
        step = report.steps[0].model_copy(update={"stdout": HOSTILE, "stderr": HOSTILE, "command": HOSTILE})
        service = report.services[0].model_copy(update={"log_tail": HOSTILE, "message": HOSTILE})
        return report.model_copy(update={"steps": (step,), "services": (service,)})
    elif where == "submission source":
        assert report.submission is not None
        submission = report.submission.model_copy(update={"source": HOSTILE, "ref": HOSTILE})
        return report.model_copy(update={"submission": submission})
    return report.model_copy(update={"checks": tuple(checks)})


# --- json ----------------------------------------------------------------------------------------


def test_json_is_byte_stable_sorted_and_round_trips(make_report: ReportFactory) -> None:
    report = make_report()
    text = json_report.render(report)

    assert text == json_report.render(make_report())
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert Report.model_validate_json(text) == report


def test_render_dispatches_by_format_name(make_report: ReportFactory) -> None:
    report = make_report()
    assert render(report, "json") == json_report.render(report)
    assert render(report, "md") == markdown.render(report)


def test_unknown_format_is_bad_input_listing_valid_formats(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    with pytest.raises(BadInputError, match=r"unknown report format 'pdf': choose from html, json, md"):
        write_reports(make_report(), tmp_path / "out", ["json", "pdf"])
    assert not (tmp_path / "out").exists()


# --- markdown ------------------------------------------------------------------------------------


def test_markdown_never_names_hidden_checks_but_counts_their_points(make_report: ReportFactory) -> None:
    text = markdown.render(make_report())

    assert "secret" not in text.lower()
    assert "2 hidden checks: 4.0/6.0 points" in text
    assert "| readme |" in text


def test_markdown_shows_hints_only_for_public_checks_that_did_not_pass(make_report: ReportFactory) -> None:
    text = markdown.render(make_report())

    assert "HINT-readme-passed" not in text
    for hint in ("HINT-train-failed", "HINT-api-error", "HINT-api-skip"):
        assert hint in text


def test_markdown_has_no_evidence_and_no_logs_of_what_ran(make_report: ReportFactory) -> None:
    ran = StepResult(id="train", command="python train.py", exit_code=0, duration_s=1, stdout="STDOUT-LOG")
    ready = ServiceResult(id="api", ready=True, message="ready", log_tail="SERVICE-LOG (probe requests)")
    text = markdown.render(make_report(steps=[ran], services=[ready]))

    for leaked in ("STDOUT-LOG", "SERVICE-LOG", '"exit"', "python train.py", "What went wrong"):
        assert leaked not in text


def test_markdown_says_what_went_wrong_in_a_failed_step_and_a_dead_service(make_report: ReportFactory) -> None:
    crash = "Traceback (most recent call last):\nModuleNotFoundError: No module named 'xgboost'\n"
    step = StepResult(id="train", command="python train.py", exit_code=1, duration_s=1, stderr=crash)
    dead = ServiceResult(id="api", ready=False, message="exited before listening on port 9000",
                         log_tail="FileNotFoundError: [Errno 2] No such file or directory: 'model.pkl'")
    text = markdown.render(make_report(steps=[step], services=[dead]))

    assert "## What went wrong" in text
    assert "**Step train** exited with code 1: the code imports 'xgboost', which is not installed" in text
    assert "<br>ModuleNotFoundError: No module named 'xgboost'" in text  # the last lines, escaped
    assert "**Service api** exited before listening on port 9000: the file 'model.pkl' does not exist" in text


def test_markdown_last_lines_are_escaped_text(make_report: ReportFactory) -> None:
    crash = "Traceback (most recent call last):\n````\n# injected heading <script>\nValueError: x\n"
    step = StepResult(id="train", command="x", exit_code=1, duration_s=1, stderr=crash)
    text = markdown.render(make_report(steps=[step], services=[]))

    assert "<br>&#96;&#96;&#96;&#96;<br># injected heading &lt;script&gt;<br>ValueError: x" in text


def test_markdown_header_states_score_and_verdict(make_report: ReportFactory) -> None:
    assert "**Result: PASSED**. Score: **9.0 / 14.0** (64%); pass mark 60%." in render(make_report(), "md")
    failed = render(make_report(passed=False, score=3.0), "md")
    assert "**Result: NOT PASSED**" in failed
    errored = render(make_report(outcome="error", error="engine lost <b>"), "md")
    assert "NOT GRADED" in errored
    assert "engine lost &lt;b&gt;" in errored


# --- hostile text --------------------------------------------------------------------------------

PLACES = ["message", "evidence", "file name", "step output", "submission source"]


@pytest.mark.parametrize("where", PLACES)
def test_html_escapes_and_strips_hostile_text(make_report: ReportFactory, where: str) -> None:
    text = html_report.render(_hostile_report(make_report, where))

    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert '" onmouseover' not in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert "evil.example" not in text
    assert "click" in text
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'.replace("'", "&#39;") in text


@pytest.mark.parametrize("where", PLACES)
def test_markdown_escapes_and_strips_hostile_text(make_report: ReportFactory, where: str) -> None:
    text = markdown.render(_hostile_report(make_report, where))

    assert "<script" not in text.lower()
    assert "<" not in text.replace("<br>", "")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert "evil.example" not in text
    assert "`" not in text
    # A pipe or newline from the submission must not add cells or end a row: every row keeps 5 columns.
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows
    assert all(row.count("|") == 6 for row in rows)


def test_html_has_no_script_or_external_resource(make_report: ReportFactory) -> None:
    text = html_report.render(make_report())

    assert "<script" not in text.lower()
    assert "href=" not in text
    assert " src=" not in text
    assert "http://" not in text
    assert "https://" not in text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b]8;;http://evil\x07link\x1b]8;;\x1b\\", "link"),
        ("\x1b]0;title", "0;title"),  # unterminated OSC: drop the introducer, keep the text visible
        ("a\x00b\x07c\x7fd\x85e", "abcde"),
        ("\x9b31mred", "red"),
        ("progress 10%\rprogress 20%\r\n", "progress 10%\nprogress 20%\n"),
        ("tab\tnew\nline", "tab\tnew\nline"),
        ("abc\u202edcba", "abcdcba"),
        ("lone \udcff surrogate", "lone \ufffd surrogate"),
        ("\x1b", ""),
    ],
)
def test_clean_text_strips_escapes_and_controls(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_tail_keeps_the_end_from_a_line_boundary() -> None:
    text = "".join(f"line {n}\n" for n in range(1000))
    kept, omitted = tail(text, 100)
    assert kept.endswith("line 999\n")
    assert kept.startswith("line ")
    assert omitted == len(text) - len(kept)
    assert tail("short", 100) == ("short", 0)


@pytest.mark.parametrize(("value", "text"), [(4, "4.0"), (2.5, "2.5"), (2 / 3, "0.67"), (0, "0.0")])
def test_format_points(value: float, text: str) -> None:
    assert format_points(value) == text


# --- html content --------------------------------------------------------------------------------


def test_html_shows_reviewers_everything(make_report: ReportFactory) -> None:
    text = html_report.render(make_report())

    for shown in (
        "SECRET-TITLE",
        "SECRET-MESSAGE",
        "SECRET-HINT",
        "SECRET-EVIDENCE",
        "badge-hidden",
        "STDOUT-LOG",
        "STDERR-LOG",
        "SERVICE-LOG",
        "killed: out of memory",
        "sha256:sub",
        "sha256:image",
        "sha256:rubric",
        "/submissions/alice",
        "120.50 s",
        "PASSED",
    ):
        assert shown in text
    assert "<details><summary>Evidence</summary><pre>{\n  &#34;exit&#34;: 1\n}</pre></details>" in text


# --- writing -------------------------------------------------------------------------------------


def test_write_reports_leaves_only_the_final_files(make_report: ReportFactory, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "out"
    written = write_reports(make_report(), out)

    assert written == {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    assert sorted(os.listdir(out)) == ["report.html", "report.json", "report.md"]
    assert Report.model_validate_json(written["json"].read_text("utf-8")) == make_report()


def test_write_reports_writes_only_the_requested_formats(make_report: ReportFactory, tmp_path: Path) -> None:
    assert write_reports(make_report(), tmp_path, ["md", "md"]) == {"md": tmp_path / "report.md"}
    assert os.listdir(tmp_path) == ["report.md"]


def test_failing_renderer_leaves_previous_reports_intact(
    make_report: ReportFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_reports(make_report(), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def explode(report: Report) -> str:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(html_report, "render", explode)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_reports(make_report(run_id="run-0002", score=1.0), tmp_path)

    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_failing_write_removes_its_temporary_file(
    make_report: ReportFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_reports(make_report(), tmp_path, ["json"])
    before = (tmp_path / "report.json").read_bytes()

    def fail_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="disk full"):
        write_reports(make_report(score=1.0), tmp_path, ["json"])

    assert os.listdir(tmp_path) == ["report.json"]
    assert (tmp_path / "report.json").read_bytes() == before


def test_reports_name_the_required_checks_that_failed_the_verdict(make_report: ReportFactory) -> None:
    failed = CheckResult(id="server-ready", title="The server answers", section="s", type="http",
                         status=Status.failed, points=0, max_points=5, message="not ready", required=True)
    hidden = failed.model_copy(update={"id": "holdout", "visibility": Visibility.hidden})
    report = make_report(checks=[failed, hidden], passed=False, missed_required=("server-ready", "holdout"))

    text = markdown.render(report)
    assert "A pass requires these checks, which did not pass: **server-ready** (The server answers), " \
           "1 hidden check." in text
    assert "| server-ready | The server answers (required) |" in text
    assert "holdout" not in text
    assert "Required checks that did not pass: <code>server-ready</code>, <code>holdout</code>" in \
        html_report.render(report)
