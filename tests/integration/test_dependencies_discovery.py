"""The candidate's environment from the files its code actually uses, against a real engine and the package
index the host's pip uses. Each submission (tests/integration/submissions/deps-*) reproduces a layout seen in
real capstones (docs/real-capstones/analysis.md):

- deps-uv-lock: pyproject.toml + uv.lock for the project, and a requirements.txt written for the API image;
- deps-pipfile-py39: a Pipfile.lock written for Python 3.9 that does not install on 3.11 (a binary package
  pinned to a version with no wheel for 3.11, whose source does not build);
- deps-subfolders: no root requirements, only ``airflow/`` and ``inference/`` ones beside the commands;
- deps-mlflow3-tree: unpinned MLflow (3.x today) saving a random forest with MLflow's defaults.

The only address outside this engine these tests reach is the package index (through the dependency step).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from grader.labs.manifest import load_manifest
from grader.models import Limits
from tests.integration.test_dependencies import SUBMISSIONS, prepare, run_in_environment

# Importing MLflow 3 and saving three models takes more than the default test sandbox's 20 s and 256 MiB.
TRAINING_LIMITS = Limits(memory="1g", cpus=1, pids=256, timeout=240, tmpfs="256m", output="1m")


def copy_of(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(SUBMISSIONS / name, target)
    return target


def test_a_uv_project_runs_on_its_lock_and_its_api_requirements_only_add_packages(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    outcome = prepare(sandbox, copy_of("deps-uv-lock", tmp_path), tmp_path / "cache")
    assert outcome.status == "installed", outcome.message + "\n" + outcome.log_tail
    assert outcome.requirement_files == ["pyproject.toml", "uv.lock", "requirements.txt"]
    assert outcome.lock_file == "uv.lock" and outcome.overridden == ["requirements.txt:2: tabulate==0.8.10"]
    ran = run_in_environment(sandbox, outcome, "python train.py")
    assert ran.stdout.split("\n")[:3] == ["tabulate 0.9.0", "six 1.16.0", "attrs 23.2.0"], ran.stderr


def test_a_pipfile_lock_for_python_39_falls_back_to_the_pipfile_as_of_the_last_commit(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    outcome = prepare(sandbox, copy_of("deps-pipfile-py39", tmp_path), tmp_path / "cache",
                      as_of=datetime(2023, 6, 1, tzinfo=UTC))
    assert outcome.status == "installed", outcome.message + "\n" + outcome.log_tail
    assert outcome.requirement_files == ["Pipfile"] and outcome.lock_file is None
    assert outcome.python == "3.11" and outcome.python_requested == "3.9"
    [fallback] = outcome.fallbacks
    # psycopg2-binary 2.8.6 has wheels up to CPython 3.9; its source needs PostgreSQL's pg_config to build.
    assert fallback.startswith("Pipfile.lock (written for Python 3.9) did not install on Python 3.11 (")
    assert "psycopg2-binary" in fallback and fallback.endswith("as of 2023-06-01T00:00:00Z")
    ran = run_in_environment(sandbox, outcome, "python train.py tabulate six psycopg2-binary")
    # the newest in June 2023
    assert ran.stdout.split("\n")[:3] == ["tabulate 0.9.0", "six 1.16.0", "psycopg2-binary 2.9.6"], ran.stderr


def test_the_requirements_beside_the_commands_make_one_environment(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    root = copy_of("deps-subfolders", tmp_path)
    manifest, _ = load_manifest(root)
    outcome = prepare(sandbox, root, tmp_path / "cache", commands=[manifest.train.command, manifest.serve.command])
    assert outcome.status == "installed", outcome.message + "\n" + outcome.log_tail
    assert outcome.requirement_files == ["airflow/requirements.txt", "inference/requirements.txt"]
    ran = run_in_environment(sandbox, outcome, f"{manifest.train.command} && {manifest.serve.command}")
    assert ran.stdout.split("\n")[:2] == ["dag 1.16.0", "serve 0.9.0"], ran.stderr


def test_without_the_commands_the_subfolder_requirements_are_not_found(sandbox_factory, tmp_path):
    outcome = prepare(sandbox_factory(), copy_of("deps-subfolders", tmp_path), tmp_path / "cache")
    assert outcome.status == "none" and outcome.requirement_files == []


def test_mlflow_3_saves_a_forest_it_would_refuse_and_leaves_a_chosen_format_alone(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(TRAINING_LIMITS)
    outcome = prepare(sandbox, copy_of("deps-mlflow3-tree", tmp_path), tmp_path / "cache")
    assert outcome.status == "installed", outcome.message + "\n" + outcome.log_tail
    assert int((outcome.version_of("mlflow") or "0").split(".")[0]) >= 3 and outcome.adjustments
    ran = run_in_environment(sandbox, outcome, "python train.py")
    assert ran.exit_code == 0, ran.failure_reason + ran.stdout + ran.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in ran.stdout.splitlines() if " " in line)
    assert lines["forest"].startswith("saved model.pkl loads RandomForestClassifier"), ran.stdout + ran.stderr
    assert lines["linear"].startswith("saved model.skops loads LogisticRegression"), ran.stdout
    assert lines["forest-skops-chosen"] == "refused MlflowException", ran.stdout
    # The same environment without the grader's hook: MLflow's own default refuses the forest.
    unhooked = ("python -c \"import sys; sys.meta_path[:] = [f for f in sys.meta_path "
                "if type(f).__name__ != '_AfterImport']; exec(open('train.py').read())\"")
    plain = run_in_environment(sandbox, outcome, unhooked)
    assert "forest refused MlflowException" in plain.stdout, plain.stdout + plain.stderr
