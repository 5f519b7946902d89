"""The manifest's ``task:`` section: validation, request templates, where the prediction is, and judging answers."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from grader.checks import get_check_type
from grader.checks.served_answers import agrees, as_task_value, invalid_value, quality, unstable
from grader.checks.served_answers import predictions as served_predictions
from grader.checks.serving_verdict import judge_served
from grader.evidence import ModelEvaluation, ServingObservation
from grader.evidence.answers import HttpAnswer
from grader.evidence.mlflow_snapshot import ModelVersion
from grader.evidence.request_body import (
    BodyTemplate,
    at_path,
    broken_requests,
    encode_value,
    find_prediction,
    template_from_example,
)
from grader.evidence.served_task import NOT_DESCRIBED, ServedTask, manifest_task
from grader.labs.manifest import SubmissionManifest
from grader.labs.manifest_task import TaskSection, prediction_path_steps
from grader.models import CheckOutcome, Status
from tests.unit.check_contract import FakeEvidence, make_context, run_check

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROW = [5.1, 3.5, 1.4, 0.2]


def task_section(**values: Any) -> TaskSection:
    return SubmissionManifest.model_validate({"task": values}).task  # type: ignore[return-value]


# --- validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "message"), [
    ({"features": FEATURES, "label": "y"}, "exactly one of data"),
    ({"data": "d.csv", "loader": "sklearn:iris"}, "exactly one of data"),
    ({"data": "d.csv"}, "data needs label"),
    ({"data": "/etc/passwd.csv", "label": "y"}, "inside the repository"),
    ({"data": "../x.csv", "label": "y"}, "inside the repository"),
    ({"loader": "sklearn:california_housing"}, "need the internet"),
    ({"loader": "iris"}, "sklearn:<name>"),
    ({"loader": "sklearn:iris", "prediction": "a..b"}, "dotted path"),
    ({"loader": "sklearn:iris", "request": {"body": {"x": 1}}}, "no placeholder"),
    ({"loader": "sklearn:iris", "request": {"body": "{{ row }}", "example": "r.json"}}, "exactly one of body"),
    ({"loader": "sklearn:iris", "request": {"body": ["{{ row }}"], "encoding": "form"}}, "map form fields"),
    ({"loader": "sklearn:iris", "request": {"body": {"f": "{{ row }}"}, "files": ["f"]}}, "only with encoding"),
    ({"data": "d.csv", "label": "y", "features": ["a", "b"], "request": {"body": {"x": "{{ c }}"}}},
     "neither a feature"),
    ({"examples": [{"a": 1}, {"b": 2}]}, "example 2 does not have exactly the features"),
    ({"data": "d.csv", "label": "y", "features": ["a", "a"]}, "a name twice"),
    ({"loader": "sklearn:iris", "kind": "ranking"}, "classification"),
])
def test_a_bad_task_section_is_refused_with_what_to_change(values, message):
    with pytest.raises(ValidationError, match=message):
        task_section(**values)


def test_examples_name_the_features_in_their_order():
    section = task_section(examples=[{"x": 3.0, "a": "b"}], kind="regression")
    assert section.features == ["x", "a"] and section.kind == "regression"


def test_a_manifest_without_a_task_has_none():
    assert SubmissionManifest().task is None


# --- request templates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "body"), [
    ({"inputs": "{{ records }}"}, {"inputs": [dict(zip(FEATURES, ROW, strict=True))]}),
    ({"features": "{{ record }}"}, {"features": dict(zip(FEATURES, ROW, strict=True))}),
    ({"instances": "{{ rows }}"}, {"instances": [ROW]}),
    ("{{ row }}", ROW),
    ({"x": "{{ petal_width }}"}, {"x": 0.2}),
    ({"payload": {"columns": "{{ columns }}", "data": "{{ rows }}", "version": 2}},
     {"payload": {"columns": FEATURES, "data": [ROW], "version": 2}}),
])
def test_a_template_takes_one_row_where_the_candidate_put_the_placeholder(template, body):
    assert BodyTemplate(template).fill(FEATURES, ROW) == body
    sent = BodyTemplate(template).encode(FEATURES, ROW)
    assert json.loads(sent["body"]) == body and sent["content_type"] == "application/json"


def test_form_and_multipart_bodies_carry_lists_as_json_text():
    form = encode_value({"row": ROW, "name": "a b"}, "form")
    assert form == {"body": "row=%5B5.1%2C+3.5%2C+1.4%2C+0.2%5D&name=a+b",
                    "content_type": "application/x-www-form-urlencoded"}
    multipart = encode_value({"file": ROW}, "multipart", ["file"])
    boundary = multipart["content_type"].split("boundary=")[1]
    assert multipart["content_type"].startswith("multipart/form-data; boundary=")
    assert f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="file.json"' in multipart["body"]
    assert "\r\n\r\n[5.1, 3.5, 1.4, 0.2]\r\n" in multipart["body"] and multipart["body"].endswith(f"--{boundary}--\r\n")


@pytest.mark.parametrize(("example", "template"), [
    ({"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4}, "{{ record }}"),
    ({"inputs": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4}]},
     {"inputs": "{{ records }}"}),
    ({"data": [[1, 2, 3, 4]], "model": "v1"}, {"data": "{{ rows }}", "model": "v1"}),
    ([1, 2, 3, 4], "{{ row }}"),
])
def test_an_example_request_becomes_a_template(example, template):
    assert template_from_example(example, FEATURES) == template


def test_an_example_without_the_features_is_refused():
    with pytest.raises(ValueError, match="no place that holds the features"):
        template_from_example({"text": "hello"}, FEATURES)


def test_broken_requests_break_the_template_not_the_lab_format():
    cases = {case.why: case for case in broken_requests(BodyTemplate({"inputs": "{{ records }}"}), FEATURES, ROW)}
    assert set(cases) == {"body is not JSON", "empty JSON object", "one feature missing", "strings instead of numbers"}
    assert json.loads(cases["one feature missing"].body) == {"inputs": [dict(zip(FEATURES[:3], ROW[:3], strict=True))]}
    multipart = broken_requests(BodyTemplate({"file": "{{ row }}"}, "multipart", ("file",)), FEATURES, ROW)
    assert [c.why for c in multipart] == ["no form fields", "one feature missing", "strings instead of numbers"]
    assert all(c.content_type.startswith("multipart/form-data") for c in multipart)


# --- where the prediction is -------------------------------------------------------------------------------


def test_a_prediction_path_has_keys_and_list_indices():
    assert prediction_path_steps("predictions[0].label") == ["predictions", 0, "label"]
    assert prediction_path_steps("[0]") == [0]
    assert prediction_path_steps("result[-1]") == ["result", -1]


@pytest.mark.parametrize(("body", "path", "found"), [
    ('{"predictions": [2, 1]}', "predictions[0]", 2),
    ('{"result": {"label": "setosa"}}', "result.label", "setosa"),
    ("[[0.3]]", "[0][0]", 0.3),
    ('{"detections": [{"class": "object"}]}', "detections[0].class", "object"),
    ('{"predictions": []}', "predictions[0]", None),
    ('{"other": 1}', "predictions[0]", None),
    ("not json", "predictions[0]", None),
    ('{"prediction": 1}', None, 1),
    ('{"predicted_price": 41.5}', None, None),
])
def test_the_prediction_is_read_at_the_declared_path(body, path, found):
    assert find_prediction(body, path) == found


def test_a_path_past_a_scalar_is_missing():
    assert at_path({"a": 1}, "a.b") is not at_path({"a": {"b": 2}}, "a.b")


# --- the served task, from the manifest ----------------------------------------------------------------------


def refusing_probe(*args: Any) -> list[dict]:
    raise AssertionError("a CSV in the repository is read on the host")


def test_a_csv_task_picks_typed_rows_and_keeps_the_labels(tmp_path):
    lines = ["a,colour,y"] + [f"{i}.5,{'red' if i % 2 else 'blue'},{i % 3}" for i in range(300)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("\n".join(lines) + "\n")
    section = task_section(data="data/train.csv", label="y", prediction="predictions[0]",
                           request={"body": {"inputs": "{{ records }}"}})
    task = manifest_task(section, tmp_path, refusing_probe, tmp_path, BodyTemplate.from_format("features"), seed=1)
    assert task.features == ("a", "colour") and len(task.rows) == 200 and task.classes == ("0", "1", "2")
    assert isinstance(task.rows[0][0], float) and task.rows[0][1] in ("red", "blue")
    assert task.labels is not None and len(task.labels) == 200 and task.declared
    assert "not hidden from the candidate" in task.source
    assert json.loads(task.bodies()[0]["body"]) == {"inputs": [{"a": task.rows[0][0], "colour": task.rows[0][1]}]}


@pytest.mark.parametrize(("values", "message"), [
    ({"data": "missing.csv", "label": "y"}, "not a file in the repository as submitted"),
    ({"data": "d.csv", "label": "nope"}, "label 'nope' is not a column"),
    ({"data": "d.csv", "label": "y", "features": ["a", "zz"]}, r"features \['zz'\] are not columns"),
])
def test_task_data_that_does_not_fit_says_why(tmp_path, values, message):
    from grader.evidence.served_task import TaskUndescribed

    (tmp_path / "d.csv").write_text("a,y\n1,0\n")
    with pytest.raises(TaskUndescribed, match=message):
        manifest_task(task_section(**values), tmp_path, refusing_probe, tmp_path, BodyTemplate.from_format("flat"))


def test_a_loader_is_read_by_the_probe_and_renamed_in_order(tmp_path):
    calls: list[Any] = []

    def probe(script: str, plan: Any, arguments: list[str], folder: Any) -> list[dict]:
        calls.append((script, arguments))
        columns = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)", "target"]
        return [{"columns": columns,
                 "rows": [[5.1, 3.5, 1.4, 0.2, 0], [6.2, 2.9, 4.3, 1.3, 1]]}]

    task = manifest_task(task_section(loader="sklearn:iris", features=FEATURES), tmp_path, probe, tmp_path,
                         BodyTemplate.from_format("flat"))
    assert calls == [("task_data", ["sklearn:iris"])]
    assert task.features == tuple(FEATURES) and task.labels == ("0", "1") and task.classes == ("0", "1")


# --- judging answers ----------------------------------------------------------------------------------------


def served_task(kind: str = "classification", labels: tuple[str, ...] | None = ("a", "b", "a", "b"),
                classes: tuple[str, ...] = ("a", "b"), path: str | None = "predictions[0]") -> ServedTask:
    return ServedTask(features=("x",), rows=((1,), (2,), (3,), (4,)), labels=labels, classes=classes,
                      template=BodyTemplate({"inputs": "{{ records }}"}), dataset="task", source="test rows",
                      kind=kind, prediction_path=path, tolerance=0.01, declared=True)


def answers(*values: Any) -> list[HttpAnswer]:
    return [HttpAnswer(status=200, body=json.dumps({"predictions": [v]})) for v in values]


def test_classification_answers_are_labels_and_indices_map_to_them():
    task = served_task()
    assert [p.value for p in served_predictions(task, answers("a", 1, "b"))] == ["a", "b", "b"]
    assert invalid_value(task, ["a", "object"]) == "'object' is not one of the task's classes ['a', 'b']"
    assert quality(task, ["a", "b", "a", "b"]) == (1.0, 0.5, "accuracy")


def test_regression_answers_agree_within_the_tolerance_and_are_scored_by_r2():
    task = served_task("regression", labels=("1", "2", "3", "4"), classes=())
    assert as_task_value(task, [151.0]) == 151.0 and as_task_value(task, "x") is None
    assert agrees(task, 100.5, 100.0) and not agrees(task, 103.0, 100.0)
    assert quality(task, [1.0, 2.0, 3.0, 4.0]) == (1.0, 0.0, "R²")
    assert quality(task, [2.5, 2.5, 2.5, 2.5])[0] == pytest.approx(0.0)


def test_random_output_gives_two_answers_to_the_same_request():
    task = served_task("regression", labels=None, classes=())
    rng = random.Random(3)
    first = served_predictions(task, answers(*[rng.random() for _ in range(4)]))
    again = served_predictions(task, answers(*[rng.random() for _ in range(4)]))
    assert unstable(task, first, again) == 0
    assert unstable(task, first, first) is None


# --- the serving verdict (http require: served) --------------------------------------------------------------


@dataclass
class ServedFacts:
    """The evidence ``served`` reads: the task, the registered model's predictions, the manifest and the lab."""

    task: ServedTask
    evaluation: ModelEvaluation
    manifest: SubmissionManifest = field(default_factory=lambda: SubmissionManifest.model_validate(
        {"model": {"name": "iris-model", "alias": "live"}}))
    lab: Any = field(default_factory=lambda: SimpleNamespace(lab=SimpleNamespace(manifest={"model": {"name": "x"}})))

    def served_task(self) -> ServedTask:
        return self.task

    def model_evaluation(self) -> ModelEvaluation:
        return self.evaluation


VERSION = ModelVersion(name="iris-model", version="3", run_id="r", source="s", stage="None", created_ms=0)
REGISTERED = ModelEvaluation(version=VERSION, predictions={"task": ["a", "b", "a", "b"]})
NOTHING = ModelEvaluation(version=None, load_error="no version of 'iris-model' was registered during grading")


def observed(values: list[Any], again: list[Any] | None = None, status: int = 200) -> ServingObservation:
    def as_answers(items: list[Any]) -> tuple[HttpAnswer, ...]:
        return tuple(HttpAnswer(status=status, body=json.dumps({"predictions": [v]})) for v in items)
    return ServingObservation(predict_url="http://model-server:8000/predict", metrics_url="m",
                              bodies=({"inputs": [{"x": 1}]},), scrape_before=HttpAnswer(status=None),
                              scrape_after=HttpAnswer(status=None), parity=as_answers(values),
                              counter_window=as_answers(values if again is None else again))


def judged(evaluation: ModelEvaluation, serving: ServingObservation, **task: Any) -> CheckOutcome:
    params = get_check_type("http").params.model_validate({"require": "served", "rows": 4})
    return judge_served(params, ServedFacts(served_task(**task), evaluation), serving)  # type: ignore[arg-type]


def test_answers_from_the_registered_model_pass():
    outcome = judged(REGISTERED, observed(["a", "b", "a", "b"]))
    assert outcome.status is Status.passed and outcome.message == \
        "4/4 answers match the registered model 'iris-model' version 3"


def test_a_model_of_its_own_earns_partial_credit_and_says_why():
    outcome = judged(NOTHING, observed(["a", "b", "a", "a"]))
    assert outcome.status is Status.failed and outcome.score_fraction == 0.5
    assert outcome.message == (
        "the server answers valid predictions, accuracy 0.75 on the grader's rows, but they do not come from a "
        "registered model: nothing was registered under 'iris-model' (alias 'live'), the model capstone.yaml "
        "declares: load the registered model (models:/iris-model@live, given as MODEL_URI) instead of a file of "
        "your own")
    other = judged(REGISTERED, observed(["a", "b", "b", "b"]))
    assert other.score_fraction == 0.5 and "only 3/4 answers match the registered model 'iris-model' version 3" \
        in other.message


def test_dummy_output_earns_nothing():
    constant = judged(NOTHING, observed(["a", "a", "a", "a"]))
    assert constant.score_fraction == 0 and "no better than a baseline" in constant.message
    assert "dummy or random output" in constant.message
    outside = judged(NOTHING, observed(["object"] * 4))
    assert outside.score_fraction == 0 and "'object' is not one of the task's classes" in outside.message
    changing = judged(NOTHING, observed(["a", "b", "a", "b"], again=["b", "b", "a", "b"]))
    assert changing.score_fraction == 0 and "the same request got two different answers (row 1)" in changing.message


def test_no_usable_answer_says_what_came_back():
    refused = judged(REGISTERED, observed(["a"] * 4, status=422))
    assert refused.score_fraction == 0 and "none of 4 prediction requests to http://model-server:8000/predict got a " \
        "2xx answer (first: 422" in refused.message
    wrong_place = judged(REGISTERED, observed(["a"] * 4), path="result.label")
    assert wrong_place.score_fraction == 0 and "holds no classification prediction at 'result.label'" \
        in wrong_place.message


def test_rows_without_labels_cannot_be_scored_but_stable_answers_still_earn_partial_credit():
    outcome = judged(NOTHING, observed([120.5, 80.0, 99.0, 101.0]), kind="regression", labels=None, classes=())
    assert outcome.score_fraction == 0.5 and outcome.message.startswith("the server answers valid predictions, but")


def test_without_a_task_the_checks_that_send_predictions_skip_with_the_reason(tmp_path):
    serving = ServingObservation(predict_url="p", metrics_url="m", bodies=(), scrape_before=HttpAnswer(status=200),
                                 scrape_after=HttpAnswer(status=200), no_traffic=NOT_DESCRIBED)
    ctx = make_context(tmp_path, facts=FakeEvidence(served=serving))
    for params in ({"require": "served"}, {"require": "parity"}, {"require": "malformed"}, {"require": "load"}):
        outcome = run_check("http", params, ctx)
        assert outcome.status is Status.skipped
        assert outcome.message == "no prediction was sent: the manifest does not describe the task (add a task: " \
            "section to capstone.yaml)"
    counter = run_check("prometheus", {"require": "counter"}, ctx)
    assert counter.status is Status.skipped and "the manifest does not describe the task" in counter.message
