"""Every lab through the real pipeline: the reference gets full marks, each broken variant loses exactly
the checks it declares (with the status it declares), and nothing is left on the engine afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.labs.loading import list_lab_ids, load_lab, load_variants, materialize_variant
from grader.models import Status
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.docker.engine import DockerEngine

PATHS = project_paths()
VARIANTS = [(lab_id, name) for lab_id in list_lab_ids(PATHS) for name in load_variants(load_lab(lab_id, PATHS))]


def grader_objects(client, run_id: str) -> list[str]:
    label = f"capstone-grader.run={run_id}"
    found = [c.name for c in client.containers.list(all=True, filters={"label": label})]
    found += [n.name for n in client.networks.list(filters={"label": label})]
    found += [v.name for v in client.volumes.list(filters={"label": label})]
    found += [f"image {i.short_id}" for i in client.images.list(filters={"label": label})]  # built from submissions
    return found


@pytest.fixture
def grade(docker_client, runtime_image, tmp_path):
    def run(submission: Path, lab_id: str):
        options = GradeOptions(out_dir=tmp_path / "report", store=False)
        outcome = grade_submission(str(submission), lab_id, PATHS, DockerEngine(PATHS, docker_client), options)
        assert grader_objects(docker_client, outcome.report.run_id) == []
        return outcome.report
    return run


@pytest.mark.parametrize("lab_id", list_lab_ids(PATHS))
def test_reference_solution_gets_full_marks(grade, lab_id):
    lab = load_lab(lab_id, PATHS)
    report = grade(lab.reference_dir, lab_id)
    # Manual items await a reviewer whatever the submission: not a loss.
    failures = {c.id: c.message for c in report.checks if c.status not in (Status.passed, Status.manual)}
    assert failures == {}
    assert report.score == report.max_score and report.passed


@pytest.mark.parametrize(("lab_id", "variant"), VARIANTS, ids=[f"{lab}/{name}" for lab, name in VARIANTS])
def test_broken_variant_loses_exactly_its_declared_checks(grade, tmp_path, lab_id, variant):
    lab = load_lab(lab_id, PATHS)
    submission = materialize_variant(lab, variant, tmp_path / "submission")
    report = grade(submission, lab_id)
    lost = {c.id: c.status.value for c in report.checks if c.status not in (Status.passed, Status.manual)}
    assert lost == load_variants(lab)[variant].loses, {c.id: c.message for c in report.checks}
    assert report.outcome == "graded"


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
