"""``grader serve`` as a reviewer uses it, in a real browser: Playwright driving Debian's chromium, headless,
against the workspace started with the ``grader`` command on loopback, over a results store filled by
grading three real submissions: the train-and-test reference and its ``failing-tests`` variant (the shared
gradings), and a copy of the reference whose README and training output are hostile, graded against a copy
of the lab whose rubric adds a manual item.

Checked by what a reviewer does (sign in, search, sort, filter, score a manual item, override a check,
release) and what the pages, the JSON and the candidate's report then show; never by HTML snapshots.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from playwright.sync_api import Dialog, Page, sync_playwright

from grader.paths import project_paths
from grader.results.report.text import format_points
from grader.results.store import ResultStore
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.docker.engine import DockerEngine

PATHS = project_paths()
REVIEW_LAB = "train-and-review"
MANUAL_ITEM = "explains-model"
REVIEWER = "Ada Reviewer"
SERVER_START_S = 30
# What a hostile submission puts where a reviewer reads it: markup, script, terminal escapes (colour, an OSC 8
# hyperlink to a loopback address nothing listens on, a screen clear) and bidi overrides ("Trojan Source").
HOSTILE = ("<script>alert('x')</script><img src=x onerror=alert('img')><b>bold</b> "
           "\x1b[31mRED\x1b[0m \x1b]8;;http://127.0.0.1:9/\x07LINK\x1b]8;;\x07\x1b[2J "
           "\u202eDESREVER\u202c \u2067ISOLATE\u2069")
HOSTILE_DIRECTORY = "mallory<img src=x onerror=alert('dir')>\x1b[31m\u202e"


# --- the store: three real gradings ----------------------------------------------------------------------


def _review_lab(folder: Path) -> Path:
    """train-and-test, copied under another id, its rubric with one manual item more."""
    lab_dir = folder / REVIEW_LAB
    shutil.copytree(PATHS.labs / "train-and-test", lab_dir, ignore=shutil.ignore_patterns("variants"))
    rubric = yaml.safe_load((PATHS.rubrics / "train-and-test.yaml").read_text())
    rubric["id"] = REVIEW_LAB
    rubric["sections"].append({"id": "review", "title": "Reviewer's judgement", "checks": [
        {"id": MANUAL_ITEM, "title": "The README explains the model choice", "type": "manual", "points": 2,
         "instructions": "Does the README say why this model and how it is evaluated?", "show": ["README.md"]},
    ]})
    (lab_dir / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    lab = yaml.safe_load((lab_dir / "lab.yaml").read_text())
    lab.update(id=REVIEW_LAB, rubric="rubric.yaml", reference=str(PATHS.labs / "train-and-test" / "reference"))
    (lab_dir / "lab.yaml").write_text(yaml.safe_dump(lab, sort_keys=False))
    return lab_dir


def _hostile_submission(folder: Path) -> Path:
    submission = folder / HOSTILE_DIRECTORY
    shutil.copytree(PATHS.labs / "train-and-test" / "reference", submission)
    readme = submission / "README.md"
    readme.write_text(readme.read_text() + f"\n## Notes\n\n{HOSTILE}\n")
    train = submission / "train.py"
    text = train.read_text()
    train.write_text(text.replace("import argparse\n", f"import argparse\n\nprint({HOSTILE!r}, flush=True)\n", 1))
    return submission


@pytest.fixture(scope="module")
def store_path(graded, docker_client, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("review-workspace")
    reports = [graded("train-and-test").report, graded("train-and-test", "failing-tests").report]
    options = GradeOptions(out_dir=folder / "report", store=False)
    reports.append(grade_submission(str(_hostile_submission(folder)), str(_review_lab(folder)), PATHS,
                                    DockerEngine(PATHS, docker_client), options).report)
    assert [r.outcome for r in reports] == ["graded"] * 3, [r.error for r in reports]
    db_path = folder / "results.sqlite3"
    with ResultStore(db_path) as store:
        for report in reports:
            store.save(report)
    return db_path


@pytest.fixture(scope="module")
def hostile_run(store_path: Path) -> str:
    with ResultStore(store_path) as store:
        return next(run.run_id for run in store.list(REVIEW_LAB))


# --- the server and the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(store_path: Path) -> Iterator[str]:
    """``grader serve`` on loopback, on a free port, over the test's store; its base URL."""
    env = {**os.environ, "COLUMNS": "500", "GRADER_DB": str(store_path)}
    server = subprocess.Popen([sys.executable, "-m", "grader.cli", "serve", "--port", "0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stderr or ()], daemon=True).start()
    try:
        yield _announced_url(server, lines)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _announced_url(server: subprocess.Popen[str], lines: queue.Queue[str]) -> str:
    deadline = time.monotonic() + SERVER_START_S
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if server.poll() is not None:
                break
            continue
        seen.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if found:
            return found.group(0)
    pytest.fail(f"grader serve did not announce its address within {SERVER_START_S} s: {''.join(seen)}")


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium for the browser tests: run `bash scripts/ensure-browser.sh` (or `make setup`)")
    return found


@dataclass
class Browser:
    """One headless browser page, and what it saw: dialogs (an alert means a script of the submission ran),
    console errors (a Content-Security-Policy violation shows there) and requests off the workspace."""

    page: Page
    base: str
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)

    def sign_in(self, name: str = REVIEWER, then: str = "/") -> None:
        self.open(then)
        assert urlsplit(self.page.url).path == "/login"
        self.page.fill("#name", name)
        self.submit("button[type=submit]")
        assert self.page.locator("#reviewer-name").inner_text() == name

    def text(self, selector: str) -> str:
        return self.page.locator(selector).inner_text()

    def flash(self) -> str:
        return self.page.locator(".flash").inner_text()

    def open_override(self, check_id: str) -> str:
        """Open the override form of a check (a closed <details> until then); its selector."""
        details = self.page.locator(f"#check-{check_id} details.override")
        if not details.evaluate("element => element.open"):
            details.locator("summary").click()
        return f"#check-{check_id}"

    def submit(self, selector: str) -> None:
        """Click what sends a form (or follows a link) and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.click(selector)


@pytest.fixture
def browser(workspace: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), headless=True)
        try:
            page = chromium.new_page()
            seen = Browser(page, workspace)

            def on_dialog(dialog: Dialog) -> None:
                seen.dialogs.append(f"{dialog.type}: {dialog.message}")
                if dialog.type == "confirm" and dialog.message.startswith("Release this grade?"):
                    dialog.accept()
                else:
                    dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: None if r.url.startswith(workspace) else seen.foreign_requests.append(r.url))
            yield seen
        finally:
            chromium.close()


def _json(browser: Browser, path: str) -> dict:
    answer = browser.page.request.get(browser.base + path)
    assert answer.ok, answer.status
    return answer.json()


def _candidate_markdown(browser: Browser, run_id: str) -> str:
    answer = browser.page.request.get(f"{browser.base}/runs/{run_id}/candidate.md")
    assert answer.ok
    return answer.text()


# --- what a reviewer does -------------------------------------------------------------------------------------


def test_a_reviewer_signs_in_and_narrows_the_cohort_by_search_lab_and_sort(browser: Browser, store_path: Path) -> None:
    browser.sign_in()
    rows = browser.page.locator("#cohort tbody tr[data-run]")
    assert rows.count() == 3
    browser.page.fill("#search", "mallory")  # narrows while typing (the script runs under the CSP)
    assert browser.text("#shown-count") == "1"
    assert browser.page.locator("#cohort tbody tr[data-run]:visible").count() == 1
    browser.page.fill("#search", "")
    browser.page.select_option("select[name=lab]", "train-and-test")  # applies on change
    browser.page.wait_for_url(re.compile(r"lab=train-and-test"))
    assert rows.count() == 2
    browser.submit("th a:text('Score')")  # sorts descending first
    browser.submit("th a:text('Score')")  # then ascending: the variant, which lost its unit tests, first
    assert "order=asc" in browser.page.url
    with ResultStore(store_path) as store:
        variant = min(store.list("train-and-test"), key=lambda run: run.score)
    assert rows.first.get_attribute("data-run") == variant.run_id
    assert f"{format_points(variant.score)} / {format_points(variant.max_score)}" in rows.first.inner_text()
    assert browser.console_errors == [] and browser.dialogs == [] and browser.foreign_requests == []


def test_pass_rates_show_how_many_submissions_passed_each_check(browser: Browser) -> None:
    browser.sign_in(then="/rates")
    row = browser.page.locator("#lab-train-and-test + table tr[data-check=unit-tests]")
    assert "1 / 2" in row.inner_text() and "50%" in row.inner_text()
    passing = browser.page.locator("#lab-train-and-test + table tr[data-check=readme]")
    assert "2 / 2" in passing.inner_text() and "100%" in passing.inner_text()


def test_a_reviewer_scores_the_manual_item_overrides_a_check_and_releases_the_grade(
        browser: Browser, hostile_run: str, store_path: Path) -> None:
    with ResultStore(store_path) as store:
        graded_report = store.get(hostile_run)
    assert graded_report is not None and graded_report.passed
    full, score = graded_report.max_score, graded_report.score
    browser.sign_in(then=f"/runs/{hostile_run}")
    assert browser.text("#review-status") == "not reviewed"
    automatic = browser.text("#automatic-score")
    assert automatic == f"{format_points(score)} / {format_points(full)}"
    assert browser.text("#review-points") == "0.0 / 2.0"
    manual = f"#check-{MANUAL_ITEM}"

    browser.page.fill(f"{manual} input[name=points]", "2.5")  # above the item's 2 points
    browser.submit(f"{manual} button[type=submit]")
    assert f"{MANUAL_ITEM}: points must be between 0 and 2, not 2.5" in browser.flash()

    browser.page.fill(f"{manual} input[name=points]", "1.5")
    browser.page.fill(f"{manual} textarea[name=comment]", "names the model, not why")
    browser.submit(f"{manual} button[type=submit]")
    assert f"Score saved for {MANUAL_ITEM}" in browser.flash()
    assert browser.text("#review-points") == "1.5 / 2.0"
    assert browser.text("#total-with-review") == f"{format_points(score + 1.5)} / {format_points(full + 2)}"

    pinned = browser.open_override("dockerfile-base")
    browser.page.fill(f"{pinned} input[name=points]", "0")
    browser.page.fill(f"{pinned} textarea[name=reason]", "   ")  # blank: the browser sends it, the server refuses
    browser.submit(f"{pinned} button[type=submit]")
    assert "a reason for the override is required" in browser.flash()
    browser.open_override("dockerfile-base")
    browser.page.fill(f"{pinned} input[name=points]", "0")
    browser.page.fill(f"{pinned} textarea[name=reason]", "FROM python:3.11 floats: pin a patch version")
    browser.submit(f"{pinned} button[type=submit]")
    assert "Override saved for dockerfile-base" in browser.flash()
    assert browser.text("#reviewed-score") == f"{format_points(score - 1)} / {format_points(full)}"
    assert browser.text("#automatic-score") == automatic
    assert "automatic 1.0" in browser.text(f"{pinned} .points")  # the automatic result stays on the page

    before_release = _candidate_markdown(browser, hostile_run)
    assert "\n## Review\n" not in before_release and "pin a patch version" not in before_release

    browser.submit("#release")
    assert browser.dialogs == ["confirm: Release this grade? It becomes final and the candidate's report will "
                               "show the review."]
    assert "Grade released" in browser.flash() and browser.text("#review-status") == "released"
    assert browser.page.locator(".score-form, .override-form, #release").count() == 0

    audit = browser.page.locator("#audit tr.audit-entry")
    assert [audit.nth(i).locator("td").nth(2).inner_text() for i in range(audit.count())] == \
        ["score", "override", "release"]
    assert all(REVIEWER in audit.nth(i).inner_text() for i in range(3))
    override_row = audit.nth(1).inner_text()
    assert "dockerfile-base" in override_row and "1.0" in override_row and "pin a patch version" in override_row

    review = _json(browser, f"/runs/{hostile_run}/review.json")
    assert [(e["action"], e["check"], e["old_points"], e["new_points"], e["reviewer"]) for e in review["audit"]] == [
        ("score", MANUAL_ITEM, None, 1.5, REVIEWER), ("override", "dockerfile-base", 1.0, 0.0, REVIEWER),
        ("release", None, score, score - 1 + 1.5, REVIEWER)]

    released = _candidate_markdown(browser, hostile_run)
    assert "\n## Review\n" in released and f"Released by {REVIEWER}" in released
    assert "**dockerfile-base** changed to 0.0/1.0: FROM python:3.11 floats: pin a patch version" in released
    assert f"**{MANUAL_ITEM}** awarded 1.5/2.0: names the model, not why" in released

    # The same from the command line, the way exports and scripts read it.
    shown = subprocess.run([sys.executable, "-m", "grader.cli", "results", "--show", hostile_run, "--format", "json"],
                           env={**os.environ, "GRADER_DB": str(store_path)}, capture_output=True, text=True,
                           timeout=60, check=True)
    data = json.loads(shown.stdout)
    assert data["score"] == score - 1 and data["review"]["reviewed"]["total"] == score - 1 + 1.5
    assert [e["action"] for e in data["review"]["audit"]] == ["score", "override", "release"]
    with ResultStore(store_path) as store:  # the automatic result is kept as it was graded
        stored = store.get(hostile_run)
    assert stored == graded_report
    assert browser.console_errors == [] and browser.foreign_requests == []


@pytest.mark.parametrize("page_of", [lambda run: "/", lambda run: f"/runs/{run}", lambda run: "/rates"],
                         ids=["cohort", "report", "pass-rates"])
def test_hostile_text_from_a_submission_shows_as_text(browser: Browser, hostile_run: str,
                                                      page_of: Callable[[str], str]) -> None:
    browser.sign_in(then=page_of(hostile_run))
    page = browser.page
    for details in page.locator("details").all():  # evidence and logs, as a reviewer would open them
        details.evaluate("element => { element.open = true; }")
    visible = page.locator("main").inner_text()
    assert page.locator("script").count() == 1 and page.locator("main img, main b").count() == 0
    assert "\x1b" not in visible and "[31m" not in visible and "]8;;" not in visible
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", visible)
    if "/runs/" in page.url:
        markup = "<script>alert('x')</script><img src=x onerror=alert('img')><b>bold</b>"
        assert visible.count(markup) >= 2  # in the README's excerpt and in the training's output
        assert "RED" in visible and "LINK" in visible and "DESREVER" in visible
        assert "mallory<img src=x onerror=alert('dir')>" in page.locator("#source").inner_text()
    elif page.url.endswith("/"):
        assert "mallory<img src=x onerror=alert('dir')>" in visible
    assert browser.dialogs == [] and browser.foreign_requests == [] and browser.console_errors == []
