"""Authoring, end to end against the real engine: the walkthrough of docs/authoring.md followed as written
(scaffold, add its check, write its variant, rubric test), a wrong declaration named by the rubric test,
and the example plug-in package installed with pip and used by the grader's CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.paths import project_paths

PATHS = project_paths()
DOC = PATHS.root / "docs" / "authoring.md"
EXAMPLE_PLUGIN = PATHS.root / "examples" / "plugin-example"


def grader(*args: str, env: dict[str, str] | None = None, cwd: Path = PATHS.root) -> subprocess.CompletedProcess[str]:
    """The grader's CLI in its own process (wide output, so rich never folds a name)."""
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "200", **(env or {})})


def walkthrough_block(name: str) -> str:
    """The fenced block marked ``<!-- walkthrough: NAME -->`` in docs/authoring.md."""
    found = re.search(rf"<!-- walkthrough: {name} -->\n```\w+\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert found, f"docs/authoring.md has no walkthrough block {name!r}"
    return found.group(1)


def add_check_after_readme(rubric: Path, check_yaml: str) -> None:
    """What the walkthrough says: paste the check under the repository section, after the readme check."""
    text = rubric.read_text()
    anchor = "        hint: Add a README.md that says what the project does and how to run it.\n"
    assert text.count(anchor) == 1
    rubric.write_text(text.replace(anchor, anchor + check_yaml))


@pytest.fixture(scope="module")
def walked_lab(runtime_image, tmp_path_factory) -> Path:
    """A lab made by following docs/authoring.md: `grader lab new`, the added check, the added variant."""
    labs = tmp_path_factory.mktemp("course") / "labs"
    created = grader("lab", "new", "my-lab", "--dir", str(labs))
    assert created.returncode == 0, created.stderr
    lab = labs / "my-lab"
    add_check_after_readme(lab / "rubric.yaml", walkthrough_block("check"))
    commands = subprocess.run(["bash", "-c", walkthrough_block("variant")], cwd=lab, capture_output=True, text=True,
                              timeout=60)
    assert commands.stderr == "", commands.stderr
    assert not (lab / "broken").exists()
    return lab


def test_the_walkthrough_lab_passes_its_rubric_test(walked_lab):
    validated = grader("rubric", "validate", str(walked_lab))
    assert validated.returncode == 0, validated.stderr
    tested = grader("rubric", "test", str(walked_lab))
    assert tested.returncode == 0, tested.stderr + tested.stdout
    assert "all as declared" in tested.stdout
    assert "✔ reference: 9/9" in tested.stderr
    assert "✔ committed-data: 8/9" in tested.stderr
    assert "✔ wrong-metrics-key: 7/9" in tested.stderr
    assert "untested checks (no variant makes them fail): readme, training-runs, unit-tests" in tested.stderr


def test_a_wrong_declaration_is_named_as_the_walkthrough_shows(walked_lab, tmp_path):
    lab = Path(shutil.copytree(walked_lab, tmp_path / "my-lab"))
    declaration = lab / "variants" / "committed-data" / "variant.yaml"
    declaration.write_text(declaration.read_text() + "  readme: fail\n")
    tested = grader("rubric", "test", str(lab))
    assert tested.returncode == 1
    assert "✘ committed-data: 8/9\n    readme: passed, declared fail" in tested.stderr
    assert "rubric test of my-lab: 1 of 3 failed" in tested.stdout


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The example plug-in installed for real with pip, offline, into its own folder (a copy is built, so
    the build leaves nothing in examples/)."""
    scratch = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(EXAMPLE_PLUGIN, scratch / "source")
    site = scratch / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    return site


def test_the_example_plugin_adds_its_check_type_and_its_lab(runtime_image, plugin_site, tmp_path):
    env = {"PYTHONPATH": str(plugin_site)}
    checks = grader("checks", env=env)
    assert checks.returncode == 0, checks.stderr
    assert re.search(r"line-count\s+│.*non-blank lines.*│ capstone-grader-example-plugin 0\.1\.0", checks.stdout)

    labs = grader("lab", "list", env=env)
    assert re.search(r"example-changelog .*│ capstone-grader-example-plugin 0\.1\.0", labs.stdout), labs.stdout
    installed_lab = plugin_site / "grader_example_plugin" / "labs" / "example-changelog"
    validated = grader("rubric", "validate", str(installed_lab / "rubric.yaml"), env=env)
    assert validated.returncode == 0, validated.stderr
    assert "valid rubric example-changelog: 3 checks, 4 points" in validated.stdout

    tested = grader("rubric", "test", "example-changelog", env=env)
    assert tested.returncode == 0, tested.stderr + tested.stdout
    assert "✔ reference: 4/4" in tested.stderr and "✔ short-changelog: 2/4" in tested.stderr

    graded = grader("grade", str(installed_lab / "reference"), "--lab", "example-changelog", "--json", "--no-store",
                    "--out", str(tmp_path / "report"), env=env)
    assert graded.returncode == 0, graded.stderr
    report = json.loads(graded.stdout)
    assert report["plugins"] == {"line-count": "capstone-grader-example-plugin 0.1.0"}
    assert report["lab"]["digest"].startswith("sha256:") and report["rubric"]["version"] == "1"
    footer = (tmp_path / "report" / "report.md").read_text().split("\n---\n", 1)[1]
    assert "check type line-count from capstone-grader-example-plugin 0.1.0" in footer


def test_without_the_plugin_its_rubric_names_the_missing_check_type(plugin_site):
    rubric = plugin_site / "grader_example_plugin" / "labs" / "example-changelog" / "rubric.yaml"
    validated = grader("rubric", "validate", str(rubric))
    assert validated.returncode == 2
    assert "unknown check type 'line-count'" in " ".join(validated.stderr.split())
