"""Failure causes read from a candidate's output: each known cause is named with what to change, anything else
by its last exception line, and a command that ran or says nothing gets no cause."""

from __future__ import annotations

import pytest

from grader.models import ServiceResult, StepResult
from grader.models.causes import EXCERPT_CHARS, EXCERPT_LINES, error_excerpt, explain_failure


def traceback(last: str, *middle: str) -> str:
    lines = ["Traceback (most recent call last):", '  File "/work/train.py", line 3, in <module>', *middle, last]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("output", "expected"), [
    (traceback("ModuleNotFoundError: No module named 'xgboost'"), "imports 'xgboost', which is not installed"),
    (traceback("ModuleNotFoundError: No module named 'sklearn.ensemble._gb'"),
     "imports 'sklearn'"),
    (traceback("ImportError: cannot import name 'TypeAdapter' from 'pydantic' (/opt/x.py)"),
     "'pydantic' in the sandbox has no 'TypeAdapter'"),
    (traceback("mlflow.exceptions.MlflowException: API request to endpoint /api/2.0/mlflow/runs/create failed: "
               "HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded with url: /api "
               "(Caused by NewConnectionError('Failed to establish a new connection: "
               "[Errno 111] Connection refused'))"),
     "nothing answers at 127.0.0.1:5000"),
    (traceback("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='archive.ics.uci.edu', port=443): "
               "Max retries exceeded (Caused by NameResolutionError(\"Failed to resolve 'archive.ics.uci.edu' "
               "([Errno -3] Temporary failure in name resolution)\"))"),
     "'archive.ics.uci.edu', which does not resolve"),
    (traceback("FileNotFoundError: [Errno 2] No such file or directory: 'data/heart.csv'"),
     "the file 'data/heart.csv' does not exist"),
    (traceback("mlflow.exceptions.MlflowException: The saved sklearn model references untrusted types "
               "['sklearn.tree._tree.Tree'] ... skops"), "MLflow refused to save the model"),
    (traceback("TypeError: LogisticRegression.__init__() got an unexpected keyword argument 'multi_class'"),
     "the argument 'multi_class'"),
    (traceback("mlflow.exceptions.RestException: RESOURCE_DOES_NOT_EXIST: Registered Model with name=churn not found"),
     "the registered model 'churn' does not exist"),
    (traceback("OSError: [Errno 30] Read-only file system: '/models'"), "writes to '/models', which is read-only"),
    ('  File "/work/app.py", line 4\n    def predict(\n               ^\nSyntaxError: \'(\' was never closed\n',
     "Python could not parse /work/app.py line 4"),
    (traceback("ValueError: Input X contains NaN."), "it stopped with: ValueError: Input X contains NaN."),
])
def test_known_causes_are_named_with_what_to_change(output, expected):
    assert expected in (explain_failure(output) or "")


def test_only_the_last_traceback_counts():
    handled = traceback("ModuleNotFoundError: No module named 'ujson'")
    assert "'data.csv' does not exist" in explain_failure(
        handled + "falling back to json\n" + traceback("FileNotFoundError: [Errno 2] No such file: 'data.csv'"))


def test_output_that_names_no_cause_gets_none():
    assert explain_failure("") is None
    assert explain_failure("training...\nepoch 3\n") is None


def test_excerpt_is_the_last_traceback_capped():
    noise = "\n".join(f"line {n}" for n in range(100))
    excerpt = error_excerpt(noise + "\n" + traceback("KeyError: 'label'", *[f'  File "x{n}.py"' for n in range(30)]))
    assert excerpt.endswith("KeyError: 'label'")
    assert len(excerpt.splitlines()) == EXCERPT_LINES and "line 99" not in excerpt
    assert len(error_excerpt("x" * 10 * EXCERPT_CHARS)) == EXCERPT_CHARS


def test_failed_step_carries_its_cause_in_the_json():
    step = StepResult(id="train", command="python train.py", exit_code=1, duration_s=1.0,
                      stderr=traceback("ModuleNotFoundError: No module named 'xgboost'"))
    dumped = step.model_dump(mode="json")
    assert "xgboost" in dumped["cause"] and dumped["error_lines"].endswith("No module named 'xgboost'")


def test_a_step_that_ran_or_was_skipped_or_timed_out_has_no_cause():
    ok = StepResult(id="train", command="x", exit_code=0, duration_s=1, stderr="ValueError: logged and handled")
    skipped = StepResult(id="t", command="x", exit_code=None, duration_s=0, skipped_reason="needs train")
    timed_out = StepResult(id="t", command="x", exit_code=137, duration_s=9, timed_out=True, stderr="Error: x")
    assert [s.cause for s in (ok, skipped, timed_out)] == [None, None, None]
    assert ok.error_lines == "" and skipped.error_lines == ""


def test_service_that_died_at_start_is_explained_and_a_ready_one_is_not():
    log = traceback("mlflow.exceptions.RestException: RESOURCE_DOES_NOT_EXIST: Registered Model with "
                    "name=fault-classifier not found")
    dead = ServiceResult(id="model-server", ready=False, message="exited before listening on port 9000", log_tail=log)
    ready = ServiceResult(id="model-server", ready=True, message="ready", log_tail=log)
    assert "'fault-classifier' does not exist" in (dead.cause or "")
    assert ready.cause is None and ready.error_lines == ""
