"""`grader rubric test`: passes for a lab whose declarations are right; names the check when one is wrong."""

from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from grader.paths import project_paths

PATHS = project_paths()


def run_rubric_test(home, lab: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader.cli", "--home", str(home), "rubric", "test", lab],
                          cwd=PATHS.root, capture_output=True, text=True, timeout=900)


def test_rubric_test_passes_for_the_train_and_test_lab_and_lists_untested_checks(runtime_image):
    completed = run_rubric_test(PATHS.root, "train-and-test")
    assert completed.returncode == 0, completed.stderr
    assert "all as declared" in completed.stdout
    assert "untested checks" in completed.stderr and "readme" in completed.stderr


def test_rubric_test_fails_naming_the_check_whose_declaration_is_wrong(runtime_image, tmp_path):
    home = tmp_path / "home"
    for folder in ("rubrics", "sandboxes"):
        shutil.copytree(PATHS.root / folder, home / folder)
    shutil.copytree(PATHS.labs / "train-and-test", home / "labs" / "train-and-test")
    declaration = home / "labs" / "train-and-test" / "variants" / "no-dockerfile" / "variant.yaml"
    variant = yaml.safe_load(declaration.read_text())
    variant["loses"] = {"dockerfile": "fail", "readme": "fail"}  # wrong: base is skipped, readme passes
    declaration.write_text(yaml.safe_dump(variant))
    completed = run_rubric_test(home, "train-and-test")
    assert completed.returncode == 1
    assert "dockerfile-base: got skip but was expected to pass" in completed.stderr
    assert "readme: passed, declared fail" in completed.stderr
    assert "1 of 6 failed" in completed.stdout
