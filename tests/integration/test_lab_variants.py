"""Every lab through the real pipeline: the reference gets full marks, each broken variant loses exactly
the checks it declares (with the status it declares), and nothing is left on the engine afterwards.

Each reference and variant is graded once per session by the shared ``graded`` fixture (conftest.py);
`grader rubric test` (test_rubric_test.py) reads the same gradings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader.labs.loading import list_lab_ids, load_lab, load_variants, materialize_variant
from grader.models import Status
from grader.paths import project_paths

PATHS = project_paths()
VARIANTS = [(lab_id, name) for lab_id in list_lab_ids(PATHS) for name in load_variants(load_lab(lab_id, PATHS))]


@pytest.mark.parametrize("lab_id", list_lab_ids(PATHS))
def test_reference_solution_gets_full_marks(graded, lab_id):
    grading = graded(lab_id)
    report = grading.report
    # Manual items await a reviewer whatever the submission: not a loss.
    failures = {c.id: c.message for c in report.checks if c.status not in (Status.passed, Status.manual)}
    assert failures == {}
    assert report.score == report.max_score and report.passed
    assert grading.leftovers == []


@pytest.mark.parametrize(("lab_id", "variant"), VARIANTS, ids=[f"{lab}/{name}" for lab, name in VARIANTS])
def test_broken_variant_loses_exactly_its_declared_checks(graded, lab_id, variant):
    grading = graded(lab_id, variant)
    report = grading.report
    lost = {c.id: c.status.value for c in report.checks if c.status not in (Status.passed, Status.manual)}
    assert lost == load_variants(load_lab(lab_id, PATHS))[variant].loses, {c.id: c.message for c in report.checks}
    assert report.outcome == "graded"
    assert grading.leftovers == []


def test_cli_grades_the_reference_with_json_and_writes_all_reports(docker_client, runtime_image, tmp_path):
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", "labs/train-and-test/reference", "--lab", "train-and-test",
         "--json", "--out", str(out), "--no-store", "--quiet"],
        cwd=PATHS.root, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["score"] == report["max_score"] == 17
    assert report["images"]["runtime"].startswith("sha256:")
    assert report["submission"]["digest"].startswith("sha256:")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]


def test_cli_exit_code_is_1_when_graded_but_not_passed(docker_client, runtime_image, tmp_path):
    lab = load_lab("train-and-test", PATHS)
    submission = materialize_variant(lab, "training-crashes", tmp_path / "s")
    (submission / "tests").rename(submission / "no-tests")
    completed = subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", str(submission), "--lab", "train-and-test",
         "--out", str(tmp_path / "out"), "--no-store", "--quiet"],
        cwd=PATHS.root, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 1, completed.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["passed"] is False and report["outcome"] == "graded"
