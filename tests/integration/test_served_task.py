"""Serving judged on answers, with the task a capstone's manifest describes (lab capstone-review).

Each test grades one small capstone of our own (tests/integration/submissions/served-task) in a convention
real capstones use: a records body nested under a key with the prediction at ``predictions[0]``, a regression
on scikit-learn's diabetes data with one field per feature, a server that answers from a local joblib file,
one that answers at random, and a gunicorn app whose worker never finishes loading.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.models import Report, Status
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.docker.engine import DockerEngine

SUBMISSION = Path(__file__).parent / "submissions" / "served-task"
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DIABETES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
RECORDS = {"body": {"inputs": "{{ records }}"}}
SCALARS = {"body": {name: "{{ %s }}" % name for name in DIABETES}}  # noqa: UP031 (braces)


def manifest(dataset: str, register: bool, source: str, body: str, task: dict[str, Any],
             serve: str | None = None) -> dict[str, Any]:
    features = ",".join(IRIS if dataset == "iris" else DIABETES)
    env = f"SOURCE={source} BODY={body} FEATURES={features}"
    return {
        "train": {"command": f"DATASET={dataset} REGISTER={int(register)} python train.py"},
        "serve": {"command": serve or f"{env} python -m uvicorn app:app --host 0.0.0.0 --port 8000",
                  "port": 8000, "predict_path": "/predict", "ready_timeout": 90},
        "model": {"name": "served-model", "alias": "live"},
        "task": task,
    }


def grade(tmp_path: Path, docker_client: Any, capstone: dict[str, Any]) -> dict[str, Any]:
    root = tmp_path / "submission"
    shutil.copytree(SUBMISSION, root)
    (root / "capstone.yaml").write_text(yaml.safe_dump(capstone, sort_keys=False))
    paths = project_paths()
    report: Report = grade_submission(str(root), "capstone-review", paths, DockerEngine(paths, docker_client),
                                      GradeOptions(out_dir=tmp_path / "report", store=False)).report
    checks = {c.id: c for c in report.checks}
    markdown = (tmp_path / "report" / "report.md").read_text()
    return {"checks": checks, "markdown": markdown, "services": {s.id: s for s in report.services}}


def test_a_records_body_under_a_key_is_served_by_the_registered_model(tmp_path, docker_client):
    task = {"loader": "sklearn:iris", "features": IRIS, "request": RECORDS, "prediction": "predictions[0]"}
    graded = grade(tmp_path, docker_client, manifest("iris", True, "registry", "records", task))
    checks = graded["checks"]
    assert checks["server-ready"].status is Status.passed
    assert "answered HTTP at /predict" in checks["server-ready"].message
    served = checks["predictions-served"]
    assert served.status is Status.passed and served.points == served.max_points, served.message
    assert "40/40 answers match the registered model 'served-model' version 1" in served.message
    assert "scikit-learn's sklearn:iris data set" in served.evidence["rows"]
    assert served.evidence["first_request"]["inputs"][0].keys() == set(IRIS)
    assert checks["malformed-input"].status is Status.passed, checks["malformed-input"].message
    assert checks["latency-under-load"].status is Status.passed, checks["latency-under-load"].message


def test_a_diabetes_regression_with_one_field_per_feature_matches_within_the_tolerance(tmp_path, docker_client):
    task = {"loader": "sklearn:diabetes", "kind": "regression", "tolerance": 1e-6, "request": SCALARS,
            "prediction": "result.value"}
    checks = grade(tmp_path, docker_client, manifest("diabetes", True, "registry", "scalars", task))["checks"]
    served = checks["predictions-served"]
    assert served.status is Status.passed and served.points == served.max_points, served.message
    assert served.evidence["first_request"].keys() == set(DIABETES)


def test_a_server_answering_from_its_own_model_file_earns_partial_credit(tmp_path, docker_client):
    task = {"loader": "sklearn:diabetes", "kind": "regression", "request": SCALARS, "prediction": "result.value"}
    graded = grade(tmp_path, docker_client, manifest("diabetes", False, "file", "scalars", task))
    served = graded["checks"]["predictions-served"]
    assert served.status is Status.failed and served.points == pytest.approx(served.max_points / 2), served.message
    assert "the server answers valid predictions, R² " in served.message
    assert "they do not come from a registered model: nothing was registered under 'served-model'" in served.message
    assert "load the registered model (models:/served-model@live" in served.message
    assert "nothing was registered under 'served-model'" in graded["markdown"]


def test_random_answers_earn_nothing(tmp_path, docker_client):
    task = {"loader": "sklearn:iris", "features": IRIS, "request": RECORDS, "prediction": "predictions[0]"}
    served = grade(tmp_path, docker_client, manifest("iris", True, "random", "records", task))["checks"][
        "predictions-served"]
    assert served.status is Status.failed and served.points == 0, served.message
    assert "dummy output" in served.message or "random or dummy output" in served.message


def test_a_gunicorn_app_whose_worker_never_loads_is_not_ready(tmp_path, docker_client):
    task = {"loader": "sklearn:iris", "features": IRIS, "request": RECORDS, "prediction": "predictions[0]"}
    serve = "python -m gunicorn --bind 0.0.0.0:8000 --timeout 300 broken_app:app"
    capstone = manifest("iris", True, "registry", "records", task, serve=serve)
    capstone["serve"]["ready_timeout"] = 60
    graded = grade(tmp_path, docker_client, capstone)
    ready = graded["checks"]["server-ready"]
    assert ready.status is Status.failed
    assert ("port 8000 accepted connections but nothing answered HTTP at /predict within 20 s: the app likely failed "
            "to load in its workers") in ready.message
    assert graded["checks"]["predictions-served"].status is Status.skipped
    assert "nothing answered HTTP" in graded["markdown"]
