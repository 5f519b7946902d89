"""The cohort report in a real headless Chromium (Debian's, driven by Playwright): the chart draws, the tables
hold what the reports say, report links open, and a hostile candidate name or message runs nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from grader.models import CheckResult, Report, Status
from grader.results.export import export
from grader.results.export.entries import CohortEntry, safe_stem

HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: run `bash scripts/ensure-browser.sh`", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def graded(run_id: str, score: float, message: str = "ok") -> Report:
    checks = (
        CheckResult(id="readme", title="Has a README", section="basics", type="file",
                    status=Status.passed if score else Status.failed, points=min(score, 2), max_points=2,
                    message=message),
        CheckResult(id="model", title="Model beats the baseline", section="model", type="command",
                    status=Status.failed, points=0, max_points=8, message="accuracy 0.4 < 0.8"),
    )
    return Report(grader_version="test", run_id=run_id, lab={"id": "lab", "version": "1", "title": "Lab"},
                  rubric={"id": "lab"}, started_at="2026-01-01T00:00:00+00:00", score=min(score, 2), max_score=10,
                  pass_mark=0.5, passed=False, sections={"basics": "Basics", "model": "Model"}, checks=checks,
                  timing={"total": 30.0, "steps": 20.0, "services": 5.0})


def test_the_cohort_report_renders_in_chromium_and_runs_nothing_from_submissions(browser, tmp_path):
    alice_dir = tmp_path / "reports" / "alice" / "r1"
    alice_dir.mkdir(parents=True)
    (alice_dir / "report.html").write_text("<!DOCTYPE html><title>alice's report</title><h1>alice</h1>")
    entries = [
        CohortEntry("alice", "graded", None, graded("r1", 2), alice_dir, "alice"),
        CohortEntry(HOSTILE, "graded", None, graded("r2", 0, message=HOSTILE), None, safe_stem(HOSTILE)),
        CohortEntry("carol", "error", HOSTILE, None, None, "carol"),
    ]
    [page_file] = export(entries, "html", tmp_path / "export")
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    failed_requests: list[str] = []
    page.on("requestfailed", lambda request: failed_requests.append(request.url))
    page.goto(page_file.as_uri())

    assert page.title() == "Cohort report — Lab"
    assert dialogs == [] and page.evaluate("document.images.length") == 0
    assert page.evaluate("document.scripts.length") == 0
    assert HOSTILE in page.locator("#submissions").inner_text()  # shown as text, not markup

    bars = page.locator("svg.chart rect.bar")
    assert bars.count() == 10
    heights = [float(bars.nth(i).get_attribute("height") or 0) for i in range(10)]
    assert heights[2] > 0 and heights[0] > 0 and sum(1 for h in heights if h > 0) == 2  # 20 % and 0 %
    drawn = bars.nth(2).bounding_box()
    assert drawn is not None and drawn["height"] > 10

    assert "model" in page.locator("#failing-everywhere").inner_text()
    rates = page.locator("#rates tbody tr")
    assert rates.count() == 2 and "1/2" in rates.nth(0).inner_text() and "0/2" in rates.nth(1).inner_text()
    assert page.locator("#phases tbody tr").first.inner_text().startswith("steps")

    page.locator("#submissions a", has_text="report").first.click()
    page.wait_for_load_state()
    assert page.title() == "alice's report"
    assert failed_requests == []
    page.close()
