"""Preparation like the candidate's CI: a step whose command is a manifest value the candidate did not set is
skipped with that reason (set, it runs before training), and ``tests.after: pipeline`` runs the tests in the
work area as preparation and training left it."""

from __future__ import annotations

import sys
from pathlib import Path

from grader.labs.manifest import SubmissionManifest
from grader.models import Status

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from fakes import FakeEngine, passing_script  # noqa: E402
from fakes.grading import grade_unit_lab  # noqa: E402


def with_templated_prepare(monkeypatch) -> None:
    import fakes.lab as lab

    templated = lab.LAB_YAML.replace("{{id: prepare, run: python prepare.py}}",
                                     "{{id: prepare, run: '{{{{ prepare.command }}}}'}}")
    templated = templated.replace("needs: [prepare], ", "")
    monkeypatch.setattr(lab, "LAB_YAML", templated)


def test_an_unset_prepare_command_is_skipped_and_training_still_runs(monkeypatch, tmp_path):
    with_templated_prepare(monkeypatch)
    engine = FakeEngine(passing_script())
    report = grade_unit_lab(tmp_path, engine=engine).report

    prepare = next(step for step in report.steps if step.id == "prepare")
    assert prepare.skipped_reason == "nothing to run: {{ prepare.command }} is not set"
    assert next(step for step in report.steps if step.id == "train").succeeded
    assert "run train" in engine.calls.entries and "run prepare" not in engine.calls.entries  # no container
    assert all(check.status in (Status.passed, Status.manual) for check in report.checks)


def test_a_declared_prepare_command_runs_before_training(monkeypatch, tmp_path):
    with_templated_prepare(monkeypatch)
    engine = FakeEngine(passing_script())
    report = grade_unit_lab(tmp_path, engine=engine, manifest="prepare:\n  command: python make_data.py\n").report

    commands = [spec.command for spec in engine.sandboxes[0].specs if spec.name in ("prepare", "train")]
    assert commands[0] == "python make_data.py" and commands[1].endswith("python train.py")
    assert next(step for step in report.steps if step.id == "prepare").succeeded


def test_the_manifest_takes_a_prepare_command():
    assert SubmissionManifest().prepare.command is None
    manifest = SubmissionManifest.model_validate({"prepare": {"command": "mkdir -p models"}})
    assert manifest.prepare.command == "mkdir -p models"


def test_tests_run_on_the_repository_as_submitted_unless_the_manifest_says_after_the_pipeline(tmp_path):
    early = FakeEngine(passing_script())
    grade_unit_lab(tmp_path / "early", engine=early)
    assert early.calls.index("run pytest") < early.calls.index("run train")

    late = FakeEngine(passing_script())
    report = grade_unit_lab(tmp_path / "late", engine=late, manifest="tests:\n  after: pipeline\n").report
    assert late.calls.index("run pytest") > late.calls.index("run evaluate")  # after the whole pipeline
    assert next(c for c in report.checks if c.id == "unit-tests").status == Status.passed
