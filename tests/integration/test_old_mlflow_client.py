"""The oldest MLflow client of the real-capstone corpus (2.9, late 2023) against the grader's MLflow 3.x server:
it logs a run, registers the model, sets an alias and moves the version to a stage, and the grader's own reading
of the server sees all four. Graded as a git repository of December 2023, in the environment the dependency step
builds for it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from grader.models import Status
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.docker.engine import DockerEngine

SUBMISSION = Path(__file__).parent / "submissions" / "pinned-mlflow29"


def test_an_mlflow_29_client_logs_registers_sets_an_alias_and_a_stage_on_the_graders_server(
        docker_client, runtime_image, tmp_path):
    repository = tmp_path / "repo"
    shutil.copytree(SUBMISSION, repository)
    when = {"GIT_AUTHOR_DATE": "2023-12-15T12:00:00Z", "GIT_COMMITTER_DATE": "2023-12-15T12:00:00Z",
            "PATH": "/usr/bin:/bin"}
    git = ["git", "-C", str(repository), "-c", "user.name=candidate", "-c", "user.email=c@example.invalid"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "capstone"]):
        subprocess.run([*git, *command], check=True, env=when)
    paths = project_paths()
    options = GradeOptions(out_dir=tmp_path / "report", store=False, ref="HEAD", formats=("json",))
    report = grade_submission(str(repository), "mlops-capstone", paths, DockerEngine(paths, docker_client),
                              options).report

    dependencies = report.dependencies or {}
    assert dependencies.get("status") == "installed", dependencies.get("message")
    assert "mlflow==2.9.2" in dependencies["lock"]
    train = next(s for s in report.steps if s.id == "train")
    assert "mlflow 2.9.2: fault-classifier v1 @1 stage Production" in train.stdout, train.stderr[-2000:]
    checks = {c.id: c for c in report.checks}
    must_pass = ["training-runs", "run-created", "params-logged", "metrics-logged", "model-registered", "model-alias"]
    assert {i: checks[i].message for i in must_pass if checks[i].status != Status.passed} == {}
    # What the grader read from its own server, not what the client printed:
    assert checks["model-alias"].evidence["aliases"] == {"champion": "1"}
    assert checks["model-alias"].evidence["stages"] == {"1": "Production"}
