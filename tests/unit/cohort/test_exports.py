"""Cohort exports from hand-made reports: the CSV gradebook, Gradescope results.json, JUnit XML and the cohort
page's figures and escaping. (The page in a real browser: tests/integration/test_cohort_report_browser.py.)"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.models import CheckResult, Report, Status
from grader.models.rubric import Visibility
from grader.results.export import cohort_html, export, gradebook, gradescope, junit
from grader.results.export.cohort_stats import cohort_stats
from grader.results.export.entries import CohortEntry, safe_stem

HOSTILE = '<img src=x onerror=alert(1)>=HYPERLINK("http://evil.invalid")'


def check(check_id: str, status: Status, points: float, max_points: float = 2, section: str = "basics",
          visibility: Visibility = Visibility.public, message: str = "ok") -> CheckResult:
    return CheckResult(id=check_id, title=f"Title of {check_id}", section=section, type="file", status=status,
                       points=points, max_points=max_points, message=message, visibility=visibility,
                       hint="add the file" if status is Status.failed else None, evidence={"path": "README.md"})


def report(run_id: str, *checks: CheckResult, outcome: str = "graded", error: str | None = None) -> Report:
    score = sum(c.points for c in checks if c.status is not Status.manual)
    max_score = sum(c.max_points for c in checks if c.status is not Status.manual)
    return Report(grader_version="test", run_id=run_id, lab={"id": "lab", "version": "1", "title": "A lab"},
                  rubric={"id": "lab"}, started_at="2026-01-01T00:00:00+00:00", outcome=outcome, error=error,
                  score=score, max_score=max_score, pass_mark=0.5,
                  passed=outcome == "graded" and score >= max_score / 2,
                  sections={"basics": "Basics", "model": "Model"}, checks=checks,
                  timing={"total": 61.0, "steps": 40.0, "images": 2.0})


def entry(candidate: str, rep: Report | None, state: str = "graded", error: str | None = None,
          folder: Path | None = None) -> CohortEntry:
    return CohortEntry(candidate=candidate, state=state, error=error, report=rep, report_dir=folder,
                       file_stem=safe_stem(candidate))


def cohort(tmp_path: Path) -> list[CohortEntry]:
    alice_dir = tmp_path / "alice" / "r1"
    alice_dir.mkdir(parents=True)
    (alice_dir / "report.html").write_text("<html></html>")
    alice = report("r1", check("readme", Status.passed, 2), check("model", Status.failed, 0, section="model"),
                   check("holdout", Status.passed, 4, 4, section="model", visibility=Visibility.hidden),
                   check("review", Status.manual, 0))
    bob = report("r2", check("readme", Status.failed, 0, message=HOSTILE),
                 check("model", Status.error, 0, section="model"),
                 check("holdout", Status.failed, 0, 4, section="model", visibility=Visibility.hidden, message="secret"))
    return [entry("alice", alice, folder=alice_dir), entry(HOSTILE, bob),
            entry("carol", None, "error", "git could not clone 'https://git.invalid/carol'")]


def test_the_gradebook_has_a_row_per_candidate_with_sections_checks_and_report(tmp_path):
    rows = list(csv.reader(io.StringIO(gradebook.render(cohort(tmp_path)))))
    assert rows[0] == ["candidate", "state", "score", "max", "percent", "passed", "error", "section:basics",
                       "section:model", "check:readme", "check:model", "check:holdout", "check:review", "report"]
    assert rows[1] == ["alice", "graded", "6", "8", "75.0", "yes", "", "2", "4", "pass", "fail", "pass", "manual",
                       str(tmp_path / "alice" / "r1" / "report.html")]
    assert rows[3][:7] == ["carol", "error", "", "", "", "", "git could not clone 'https://git.invalid/carol'"]


def test_gradebook_cells_cannot_become_spreadsheet_formulas(tmp_path):
    entries = [entry("=cmd|'/c calc'!A1", None, "error", "-2+3"), entry("@SUM(1)", None, "error", "+1")]
    rows = list(csv.reader(io.StringIO(gradebook.render(entries))))
    assert [row[0] for row in rows[1:]] == ["'=cmd|'/c calc'!A1", "'@SUM(1)"]
    assert [row[6] for row in rows[1:]] == ["'-2+3", "'+1"]


def test_the_gradebook_file_is_utf8_with_a_bom_and_crlf(tmp_path):
    [path] = export(cohort(tmp_path), "csv", tmp_path / "export")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcandidate,") and b"\r\n" in data


def test_gradescope_results_follow_the_autograder_format_and_hide_hidden_checks(tmp_path):
    entries = cohort(tmp_path)
    alice = gradescope.results(entries[0])
    assert (alice["score"], alice["execution_time"], alice["output_format"]) == (6, 61, "md")
    assert [(t["name"], t["score"], t["max_score"], t["status"], t["visibility"]) for t in alice["tests"]] == [
        ("Title of readme", 2, 2, "passed", "visible"), ("Title of model", 0, 2, "failed", "visible"),
        ("Hidden check 3", 4, 4, "passed", "hidden")]
    assert alice["tests"][1]["output"] == "ok\n\nadd the file"
    bob = json.dumps(gradescope.results(entries[1]))
    assert "secret" not in bob and "holdout" not in bob
    carol = gradescope.results(entries[2])
    assert carol["score"] == 0 and carol["tests"] == [] and "git could not clone" in carol["output"]
    files = export(entries, "gradescope", tmp_path / "export")
    assert sorted(p.relative_to(tmp_path / "export").as_posix() for p in files)[0] == "gradescope/alice/results.json"
    assert json.loads(files[0].read_text())["score"] == 6


def test_junit_has_a_testcase_per_check_with_failures_errors_and_skips(tmp_path):
    entries = cohort(tmp_path)
    suite = ET.fromstring(junit.render(entries[1]))
    assert suite.tag == "testsuite" and suite.get("name") == HOSTILE
    counts = [suite.get(name) for name in ("tests", "failures", "errors", "skipped")]
    assert counts == ["3", "2", "1", "0"]
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"readme", "model", "hidden-1"}
    assert cases["readme"].find("failure").get("message") == HOSTILE
    assert "evidence" in cases["readme"].find("failure").text and "README.md" in cases["readme"].find("failure").text
    assert cases["hidden-1"].find("failure").get("message") == "" and "secret" not in junit.render(entries[1]).decode()
    assert next(iter(suite)).tag == "properties"
    alice = ET.fromstring(junit.render(entries[0]))
    assert alice.find("testcase[@name='review']/skipped") is not None
    carol = ET.fromstring(junit.render(entries[2]))
    assert carol.find("testcase/error").get("message").startswith("git could not clone")


def test_junit_drops_characters_xml_cannot_carry(tmp_path):
    rep = report("r9", check("readme", Status.failed, 0, message="bad \x00\x01 byte \ud800"))
    ET.fromstring(junit.render(entry("x", rep)))  # parses


def test_cohort_figures_count_what_passed_and_what_failed_everywhere(tmp_path):
    stats = cohort_stats(cohort(tmp_path))
    assert (stats.graded, stats.errors, stats.passed) == (2, 1, 1)
    assert stats.histogram[7] == 1 and stats.histogram[0] == 1  # 75 % and 0 %
    assert [(r.check_id, r.passed, r.graded) for r in stats.rates] == [("readme", 1, 2), ("model", 0, 2),
                                                                       ("holdout", 1, 2)]
    assert [r.check_id for r in stats.failing_everywhere] == ["model"]
    assert [p.phase for p in stats.slowest] == ["steps", "images"]
    assert (stats.mean_percent, stats.median_percent) == (37.5, 37.5)


def test_the_cohort_page_escapes_what_submissions_wrote_and_links_reports_relatively(tmp_path):
    page = cohort_html.render(cohort(tmp_path), tmp_path)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="alice/r1/report.html"' in page
    assert "<script" not in page and "default-src &#39;none&#39;" in page  # the CSP, attribute-escaped
    assert page.count('class="bar"') == 10
