"""Check messages say what happened in words a candidate can act on: no tests, nothing collected, the import
error that stopped the run, the failing test even when a minimum count also fails, and what the registry holds."""

from __future__ import annotations

from pathlib import Path

from grader.checks.pytest_check import parse_junit
from grader.models import StepResult
from tests.unit.check_contract import make_context, run_check
from tests.unit.fakes.sandbox import witness_output

JUNIT_ONE_FAILED = ('<testsuite><testcase classname="tests.test_api" name="test_predict"><failure message="boom"/>'
                    '</testcase></testsuite>')


def pytest_run(exit_code: int, output: str = "", junit: str | None = None):
    """A sandbox whose pytest ends with ``exit_code`` and writes ``junit`` (None: no report)."""
    written: dict[str, str] = {}

    def run(name: str, command: str, env) -> StepResult:
        written["report"] = command.rsplit("--junitxml=", 1)[1]
        seen = parse_junit(junit) if junit else None
        failures = [{"test": f["test"], "kind": "failed", "message": f["message"]}
                    for f in (seen.failures if seen else [])]
        witness = witness_output(seen.passed if seen else 0, seen.failed if seen else 0, exit_code, failures=failures)
        return StepResult(id=name, command=command, exit_code=exit_code, duration_s=1, stdout=output + witness)

    def copy(path: str, dest: Path) -> Path | None:
        if junit is None:
            return None
        (dest / path).write_text(junit)
        return dest / path

    return run, copy


def test_a_repository_without_tests_is_told_so_and_nothing_runs(tmp_path):
    ctx = make_context(tmp_path, {"train.py": "print(1)\n"})  # the sandbox must not be touched
    outcome = run_check("pytest", {"path": "tests"}, ctx)
    assert outcome.status.value == "fail"
    assert outcome.message.startswith("no tests found: the repository has no 'tests'")


def test_nothing_collected_is_said_as_no_tests_found(tmp_path):
    run, copy = pytest_run(5, junit="<testsuite/>")
    ctx = make_context(tmp_path, {"tests/helpers.py": ""}, run_in_sandbox=run, copy_from_sandbox=copy)
    outcome = run_check("pytest", {"path": "tests"}, ctx)
    assert outcome.message.startswith("no tests found: pytest collected none")


def test_an_import_error_that_stops_collection_is_named(tmp_path):
    output = "ImportError while importing test module\nE   ModuleNotFoundError: No module named 'xgboost'\n"
    run, copy = pytest_run(2, output=output, junit="<testsuite/>")
    ctx = make_context(tmp_path, {"tests/test_x.py": ""}, run_in_sandbox=run, copy_from_sandbox=copy)
    outcome = run_check("pytest", {"path": "tests"}, ctx)
    assert "the run was interrupted" in outcome.message and "imports 'xgboost'" in outcome.message


def test_the_failing_test_is_named_when_a_minimum_count_also_fails(tmp_path):
    run, copy = pytest_run(1, junit=JUNIT_ONE_FAILED)
    ctx = make_context(tmp_path, {"tests/test_api.py": ""}, run_in_sandbox=run, copy_from_sandbox=copy)
    outcome = run_check("pytest", {"path": "tests", "min_passed": 2}, ctx)
    assert outcome.message == ("0 passed, 1 failed, 0 errors, 0 skipped; at least 2 passing tests needed; "
                               "first failure: tests.test_api::test_predict")


def test_registry_failure_says_nothing_was_registered_or_names_what_was():
    from grader.checks.mlflow_check import _nothing_registered

    assert _nothing_registered("fault-classifier", []).startswith(
        "no model was registered in the MLflow registry during grading (the grader looked for 'fault-classifier')")
    assert _nothing_registered("fault-classifier", ["heart-model"]) == (
        "no version of 'fault-classifier' was registered; the registry holds 'heart-model': name the model you "
        "register in capstone.yaml (model.name)")


def test_a_metrics_endpoint_answering_json_is_told_it_is_not_prometheus_text(tmp_path):
    from tests.unit.check_contract import FakeEvidence, serving_observation

    evidence = FakeEvidence(served=serving_observation('{"requests": 3}'))
    outcome = run_check("prometheus", {"require": "exposition"}, make_context(tmp_path, facts=evidence))
    assert outcome.message == ("http://model-server:8000/metrics answered JSON, not Prometheus exposition text: "
                               "serve prometheus_client's generate_latest() (text/plain) there")
