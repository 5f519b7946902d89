"""`grader rubric test`: passes for a lab whose declarations are right; names the check when one is wrong.

The command runs in this process with the gradings it asks for handed over from the session's shared
gradings (conftest.py ``graded``), which test_lab_variants.py checks and which are the same submissions: what
is tested here is the command itself — which submissions it grades, how it compares them with the
declarations and what it prints. `grader rubric test` end to end, in its own process with its own gradings,
is tested on the smallest labs in test_authoring.py (the walkthrough lab and the example plug-in's lab).
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
import yaml

import grader.run.rubric_test
from grader.cli import main
from grader.labs.loading import load_lab, load_variants
from grader.paths import project_paths
from grader.run.orchestrate import GradeOutcome

PATHS = project_paths()
LAB = "train-and-test"


@pytest.fixture
def rubric_test(graded, monkeypatch, capsys):
    """Runs `grader [--home HOME] rubric test LAB` in this process; returns (exit code, stdout, stderr) and
    the names of the submissions it graded, in order."""
    asked: list[str] = []

    def shared_grading(submission: str, lab_reference: str, paths, engine, options) -> GradeOutcome:
        lab = load_lab(lab_reference, paths)
        folder = Path(submission)
        # The rubric test writes each variant to a scratch folder named after it.
        name = "reference" if folder == lab.reference_dir else folder.name
        assert name == "reference" or folder.parent.name == "variants", submission
        asked.append(name)
        return GradeOutcome(report=graded(lab.lab.id, name).report)

    def run(home: Path, lab: str) -> tuple[int, str, str, list[str]]:
        monkeypatch.setattr(grader.run.rubric_test, "grade_submission", shared_grading)
        sigterm = signal.getsignal(signal.SIGTERM)  # main() installs its own handler
        try:
            code = main(["--home", str(home), "rubric", "test", lab])
        finally:
            signal.signal(signal.SIGTERM, sigterm)
        out, err = capsys.readouterr()
        return code, out, err, asked

    return run


def test_rubric_test_passes_for_the_train_and_test_lab_and_lists_untested_checks(rubric_test):
    code, out, err, asked = rubric_test(PATHS.root, LAB)
    assert code == 0, err
    assert asked == ["reference", *load_variants(load_lab(LAB, PATHS))]
    assert "✔ reference: 17/17" in err
    assert "all as declared" in out
    assert "untested checks" in err and "readme" in err


def test_rubric_test_fails_naming_the_check_whose_declaration_is_wrong(rubric_test, tmp_path):
    home = tmp_path / "home"
    for folder in ("rubrics", "sandboxes"):
        shutil.copytree(PATHS.root / folder, home / folder)
    shutil.copytree(PATHS.labs / LAB, home / "labs" / LAB)
    declaration = home / "labs" / LAB / "variants" / "no-dockerfile" / "variant.yaml"
    variant = yaml.safe_load(declaration.read_text())
    variant["loses"] = {"dockerfile": "fail", "readme": "fail"}  # wrong: base is skipped, readme passes
    declaration.write_text(yaml.safe_dump(variant))
    code, out, err, _ = rubric_test(home, LAB)
    assert code == 1
    assert "dockerfile-base: got skip but was expected to pass" in err
    assert "readme: passed, declared fail" in err
    assert "1 of 6 failed" in out
