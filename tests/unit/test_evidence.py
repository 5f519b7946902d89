"""Evidence logic without an engine: metrics text, request bodies, answers, scores and MLflow snapshots.

The Prometheus text comes from a real ``prometheus_client`` registry, rendered by ``generate_latest`` as a
candidate's server would serve it; the MLflow payloads are written the way an MLflow 3 server answers
the probe's REST calls.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from grader.checks import rubric_evidence_request
from grader.evidence.answers import HttpAnswer
from grader.evidence.labels import accuracy, f1_macro, majority_label, normalise
from grader.evidence.mlflow_snapshot import MlflowSnapshot
from grader.evidence.prometheus import Delta, deltas, naming_problems, parse_exposition, pick, total
from grader.evidence.request import DriftRequest, EvidenceRequest, merge_all
from grader.evidence.serving import decode_prediction, encode_row, malformed_bodies, percentile
from grader.labs.loading import load_lab
from grader.paths import project_paths
from grader.probe.labels import COUNTER_WINDOW, PARITY, SCRAPE_AFTER, SCRAPE_BEFORE
from tests.unit.check_contract import ScriptedProbe, make_facts

FEATURES = ["temperature", "vibration", "pressure"]
ROW = [57.5, 3.77, 86.8]
CLASSES = ["bearing", "none", "overheating"]


# --- Prometheus exposition ---------------------------------------------------------------------


class FakeServer:
    """The metrics of a small model server, rendered with prometheus_client like a real one."""

    def __init__(self, counts_per_request: int = 1, labelled: bool = True) -> None:
        self.registry = CollectorRegistry()
        labels = ["status"] if labelled else []
        registry = self.registry
        self.requests = Counter("prediction_requests_total", "Predictions.", labels, registry=registry)
        self.errors = Counter("prediction_errors_total", "Failed predictions.", ["reason"], registry=registry)
        self.latency = Histogram("prediction_latency_seconds", "Answer time.", registry=registry)
        self.loaded = Gauge("model_loaded", "1 once the model is loaded.", registry=registry)
        self.counts_per_request = counts_per_request
        self.labelled = labelled
        self.loaded.set(1)

    def predict(self, times: int = 1) -> None:
        for _ in range(times):
            for _ in range(self.counts_per_request):
                (self.requests.labels(status="200") if self.labelled else self.requests).inc()
            self.latency.observe(0.004)

    def scrape(self) -> str:
        return generate_latest(self.registry).decode()


def window(server: FakeServer, requests: int) -> tuple[list, list]:
    before = parse_exposition(server.scrape())
    server.predict(requests)
    return before, parse_exposition(server.scrape())


def test_exposition_of_a_real_registry_parses_into_families_by_type():
    server = FakeServer()
    server.predict(3)
    families = {f.name: f for f in parse_exposition(server.scrape())}
    assert families["prediction_requests"].type == "counter"  # the parser drops _total from the family name
    assert total(families["prediction_requests"], "_total") == 3
    assert families["prediction_latency_seconds"].type == "histogram"
    assert total(families["prediction_latency_seconds"], "_count") == 3
    assert families["model_loaded"].type == "gauge"
    assert families["model_loaded"].samples == {"model_loaded{}": 1.0}


def test_a_labelled_counter_never_incremented_has_no_sample_and_counts_as_zero():
    server = FakeServer()
    families = {f.name: f for f in parse_exposition(server.scrape())}
    assert families["prediction_errors"].samples == {}
    assert total(families["prediction_errors"], "_total") == 0
    assert total(None, "_total") == 0


@pytest.mark.parametrize("labelled", [True, False], ids=["labelled", "unlabelled"])
def test_counter_delta_equals_the_requests_sent(labelled):
    server = FakeServer(labelled=labelled)
    server.predict(5)  # traffic before the window does not count
    before, after = window(server, 20)
    moved = {d.name: d.change for d in deltas(before, after, "counter", "_total")}
    assert moved == {"prediction_requests": 20, "prediction_errors": 0}
    assert {d.name: d.change for d in deltas(before, after, "histogram", "_count")} == {
        "prediction_latency_seconds": 20}


def test_label_sets_are_summed():
    server = FakeServer()
    before = parse_exposition(server.scrape())
    server.requests.labels(status="200").inc(18)
    server.requests.labels(status="422").inc(2)
    after = parse_exposition(server.scrape())
    assert pick(deltas(before, after, "counter", "_total"), 20, "prediction_requests_total").change == 20


def test_counter_counted_twice_per_request_moves_by_double():
    before, after = window(FakeServer(counts_per_request=2), 20)
    chosen = pick(deltas(before, after, "counter", "_total"), 20, "prediction_requests_total")
    assert chosen is not None and chosen.change == 40


@pytest.mark.parametrize("preferred", ["prediction_requests_total", "prediction_requests"])
def test_declared_counter_wins_over_a_closer_one(preferred):
    server = FakeServer()
    before = parse_exposition(server.scrape())
    server.predict(20)
    server.requests.labels(status="200").inc(20)  # the declared counter is wrong...
    server.errors.labels(reason="none").inc(20)  # ...while another one happens to move by exactly 20
    after = parse_exposition(server.scrape())
    chosen = pick(deltas(before, after, "counter", "_total"), 20, preferred)
    assert chosen is not None and (chosen.name, chosen.change) == ("prediction_requests", 40)


def test_declared_counter_that_does_not_exist_is_not_replaced_by_another():
    before, after = window(FakeServer(), 20)
    assert pick(deltas(before, after, "counter", "_total"), 20, "http_requests_total") is None


def test_without_a_declared_name_the_closest_delta_is_picked():
    candidates = [Delta("cache_hits", 0, 7), Delta("jobs", 100, 119), Delta("prediction_calls", 0, 40)]
    assert pick(candidates, 20, None).name == "jobs"


def test_on_a_tie_a_request_ish_name_is_preferred():
    for order in ([Delta("cache_hits", 0, 20), Delta("api_requests", 0, 20)],
                  [Delta("api_requests", 0, 20), Delta("cache_hits", 0, 20)]):
        assert pick(order, 20, None).name == "api_requests"
    assert pick([Delta("cache_hits", 0, 20), Delta("predict_calls", 0, 20)], 20, None).name == "predict_calls"


def test_no_candidates_picks_nothing():
    assert pick([], 20, None) is None


def test_the_reference_metrics_follow_the_naming_conventions():
    server = FakeServer()
    server.predict(2)
    assert naming_problems(parse_exposition(server.scrape())) == []


def test_naming_problems_flag_camel_case_and_a_latency_histogram_in_milliseconds():
    registry = CollectorRegistry()
    Counter("predictionRequests", "Camel case.", registry=registry).inc()
    Histogram("request_latency_ms", "Milliseconds.", registry=registry).observe(4)
    Histogram("payload_bytes", "Not a timing.", registry=registry).observe(100)
    problems = naming_problems(parse_exposition(generate_latest(registry).decode()))
    assert "predictionRequests: not snake_case" in problems
    assert "request_latency_ms: a timing histogram should be in seconds (suffix _seconds)" in problems
    assert not [p for p in problems if p.startswith("payload_bytes")]


def test_default_collectors_are_not_judged():
    text = "# TYPE process_cpuSeconds counter\nprocess_cpuSeconds_total 1\n"
    assert naming_problems(parse_exposition(text)) == []


def test_naming_problems_flag_a_counter_without_total():
    text = ("# HELP prediction_requests Prediction requests.\n# TYPE prediction_requests counter\n"
            "prediction_requests 20\n")
    assert any("_total" in p for p in naming_problems(parse_exposition(text)))


@pytest.mark.parametrize("text", [
    "prediction_requests_total{status=200} 3\n",
    "# TYPE x counter\nx_total one\n",
    "# TYPE 1bad counter\n",
], ids=["unquoted-label", "not-a-number", "bad-name"])
def test_invalid_exposition_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_exposition(text)


# --- request bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(("request_format", "body"), [
    ("flat", {"temperature": 57.5, "vibration": 3.77, "pressure": 86.8}),
    ("features", {"features": [57.5, 3.77, 86.8]}),
    ("data", {"data": [[57.5, 3.77, 86.8]]}),
    ("instances", {"instances": [[57.5, 3.77, 86.8]]}),
    ("inputs", {"inputs": [[57.5, 3.77, 86.8]]}),
    ("dataframe_split", {"dataframe_split": {"columns": FEATURES, "data": [[57.5, 3.77, 86.8]]}}),
    ("dataframe_records",
     {"dataframe_records": [{"temperature": 57.5, "vibration": 3.77, "pressure": 86.8}]}),
])
def test_a_row_is_encoded_in_each_request_format(request_format, body):
    assert encode_row(request_format, FEATURES, ROW) == body
    json.dumps(body)  # it must be sendable as JSON


def test_an_unknown_request_format_is_refused():
    with pytest.raises(ValueError, match="unknown request format 'csv'"):
        encode_row("csv", FEATURES, ROW)


@pytest.mark.parametrize("request_format",
                         ["flat", "features", "data", "dataframe_split", "dataframe_records"])
def test_malformed_bodies_break_the_format_in_four_named_ways(request_format):
    cases = {case.why: case for case in malformed_bodies(request_format, FEATURES, ROW)}
    assert list(cases) == ["body is not JSON", "empty JSON object", "one feature missing",
                           "strings instead of numbers"]
    assert all(case.content_type == "application/json" for case in cases.values())
    with pytest.raises(ValueError):
        json.loads(cases["body is not JSON"].body)
    assert json.loads(cases["empty JSON object"].body) == {}
    short = json.loads(cases["one feature missing"].body)
    assert short == encode_row(request_format, FEATURES[:2], ROW[:2])
    assert "pressure" not in json.dumps(short) and "86.8" not in json.dumps(short)
    as_text = json.loads(cases["strings instead of numbers"].body)
    assert as_text == encode_row(request_format, FEATURES, ["not-a-number"] * 3)


# --- answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "prediction"), [
    ('{"prediction": "bearing"}', "bearing"),
    ('{"prediction": "bearing", "probability": 0.93}', "bearing"),
    ('{"predictions": ["none"]}', "none"),
    ('{"predictions": [2]}', 2),
    ('["overheating"]', "overheating"),
    ('[0]', 0),
    ('{"predictions": [{"label": "bearing", "score": 0.9}]}', "bearing"),
    ('{"predicted_class": 1}', 1),
    ('{"outputs": {"predictions": [{"label": "none"}]}}', "none"),
    ('"bearing"', "bearing"),
])
def test_decode_prediction_finds_the_first_prediction_in_common_shapes(body, prediction):
    assert decode_prediction(body) == prediction


@pytest.mark.parametrize("body", [
    "<html>Internal Server Error</html>", "", '{"detail": "bad input"}', "[]", '{"predictions": []}',
])
def test_decode_prediction_gives_none_when_there_is_no_prediction(body):
    assert decode_prediction(body) is None


@pytest.mark.parametrize(("value", "label"), [
    ("bearing", "bearing"),
    (" none\n", "none"),
    (1, "none"),
    (2.0, "overheating"),
    ([1], "none"),
    ([[0]], "bearing"),
    ({"label": "overheating"}, "overheating"),
    ({"predicted_class": 0}, "bearing"),
    (7, "7"),  # not a class index
    (1.5, "1.5"),
])
def test_normalise_maps_predictions_to_class_labels(value, label):
    assert normalise(value, CLASSES) == label


@pytest.mark.parametrize(("value", "label"), [(1, "1"), (1.0, "1"), ([0], "0"), ("2", "2"), (-1, "-1")])
def test_numeric_class_labels_stay_as_they_are(value, label):
    assert normalise(value, ["-1", "0", "1", "2"]) == label


def test_float_formatted_numeric_labels_are_not_taken_for_indices():
    assert normalise(1.0, ["1.0", "2.0"]) == "1.0"


# --- scores ---------------------------------------------------------------------------------


def test_accuracy_is_the_share_of_equal_labels():
    assert accuracy(["a", "b", "b", "a"], ["a", "b", "a", "a"]) == 0.75
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        accuracy(["a"], ["a", "b"])


def test_f1_macro_averages_the_per_class_f1():
    predicted = ["a", "a", "b", "b", "c", "c"]
    actual = ["a", "b", "b", "b", "c", "a"]
    # a: tp 1 fp 1 fn 1 → 0.5; b: tp 2 fp 0 fn 1 → 0.8; c: tp 1 fp 1 fn 0 → 2/3
    assert f1_macro(predicted, actual) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert f1_macro(actual, actual) == 1.0
    assert f1_macro([], []) == 0.0


def test_f1_macro_counts_a_label_only_predicted_as_scikit_learn_does():
    # sklearn.metrics.f1_score(["a", "a"], ["a", "b"], average="macro") == 1/3
    assert f1_macro(["a", "b"], ["a", "a"]) == pytest.approx(1 / 3)


def test_majority_label_is_the_most_frequent():
    assert majority_label(["none", "bearing", "none", "overheating"]) == "none"


@pytest.mark.parametrize(("fraction", "expected"), [(0.5, 10), (0.95, 19), (0.99, 20), (0.01, 1), (1.0, 20)])
def test_percentile_is_nearest_rank(fraction, expected):
    values = [float(v) for v in range(20, 0, -1)]  # unsorted on purpose
    assert percentile(values, fraction) == expected


def test_percentile_of_nothing_is_zero():
    assert percentile([], 0.95) == 0.0
    assert percentile([42.0], 0.99) == 42.0


# --- MLflow snapshot ------------------------------------------------------------------------

STARTED_MS = 1_735_000_000_000  # when grading started


def mlflow_run(run_id: str, start: int, status: str = "FINISHED") -> dict:
    """One entry of POST /api/2.0/mlflow/runs/search as MLflow 3 answers it."""
    return {
        "info": {
            "run_uuid": run_id, "run_id": run_id, "run_name": "bold-wolf-12", "experiment_id": "1",
            "user_id": "candidate", "status": status, "start_time": start, "end_time": start + 8123,
            "artifact_uri": f"mlflow-artifacts:/1/{run_id}/artifacts", "lifecycle_stage": "active",
        },
        "data": {
            "metrics": [
                {"key": "val_accuracy", "value": 0.9625, "timestamp": start + 8000, "step": 0},
                {"key": "train_accuracy", "value": 0.97, "timestamp": start + 7900, "step": 0},
            ],
            "params": [{"key": "C", "value": "1.0"}, {"key": "max_iter", "value": "500"}],
            "tags": [{"key": "mlflow.runName", "value": "bold-wolf-12"},
                     {"key": "mlflow.user", "value": "candidate"}],
        },
        "inputs": {},
        "outputs": {"model_outputs": [{"model_id": f"m-{run_id[:8]}", "step": 0}]},
    }


def model_version(version: str, run_id: str, created: int, stage: str = "None",
                  aliases: list[str] | None = None) -> dict:
    """One entry of GET /api/2.0/mlflow/model-versions/search."""
    return {
        "name": "fault-classifier", "version": version, "creation_timestamp": created,
        "last_updated_timestamp": created + 40, "current_stage": stage, "description": "",
        "source": f"models:/m-{run_id[:8]}", "run_id": run_id, "status": "READY", "run_link": "",
        "aliases": aliases or [], "model_id": f"m-{run_id[:8]}",
    }


def probe_payload(**changes: object) -> dict:
    """What the probe's ``mlflow`` action returns: the four REST answers side by side."""
    payload: dict = {
        "experiments": [
            {"experiment_id": "0", "name": "Default", "artifact_location": "mlflow-artifacts:/0",
             "lifecycle_stage": "active", "creation_time": STARTED_MS + 900,
             "last_update_time": STARTED_MS + 900},
            {"experiment_id": "1", "name": "fault-classifier", "artifact_location": "mlflow-artifacts:/1",
             "lifecycle_stage": "active", "creation_time": STARTED_MS + 1000,
             "last_update_time": STARTED_MS + 1000},
        ],
        "runs": [mlflow_run("b8e1f0a2c3d44e5f", STARTED_MS + 40_000),
                 mlflow_run("a7d0e9f1b2c34d5e", STARTED_MS + 2_000, status="FAILED")],
        "registered_models": [{
            "name": "fault-classifier", "creation_timestamp": STARTED_MS + 10_000,
            "last_updated_timestamp": STARTED_MS + 49_000,
            "latest_versions": [model_version("2", "b8e1f0a2c3d44e5f", STARTED_MS + 48_000)],
            "aliases": [{"alias": "champion", "version": "2"}, {"alias": "challenger", "version": "1"}],
        }],
        "versions": [model_version("2", "b8e1f0a2c3d44e5f", STARTED_MS + 48_000, aliases=["champion"]),
                     model_version("1", "a7d0e9f1b2c34d5e", STARTED_MS + 10_000, aliases=["challenger"])],
    }
    payload.update(changes)
    return payload


def test_snapshot_reads_runs_versions_and_aliases_from_the_rest_answers():
    snapshot = MlflowSnapshot.from_probe(probe_payload())
    assert snapshot.error is None
    run = snapshot.run("b8e1f0a2c3d44e5f")
    assert run is not None
    assert (run.experiment_id, run.status, run.start_time_ms) == ("1", "FINISHED", STARTED_MS + 40_000)
    assert run.params == {"C": "1.0", "max_iter": "500"}
    assert run.metrics == {"val_accuracy": 0.9625, "train_accuracy": 0.97}
    assert [(v.version, v.run_id, v.stage) for v in snapshot.versions_of("fault-classifier")] == [
        ("1", "a7d0e9f1b2c34d5e", "None"), ("2", "b8e1f0a2c3d44e5f", "None")]
    assert snapshot.versions[0].created_ms == STARTED_MS + 48_000
    assert snapshot.versions[0].source == "models:/m-b8e1f0a2"
    assert snapshot.aliases == {"fault-classifier": {"champion": "2", "challenger": "1"}}


def test_runs_since_allows_five_seconds_of_clock_skew():
    runs = [mlflow_run("skewed", STARTED_MS - 5_000), mlflow_run("old", STARTED_MS - 5_001),
            mlflow_run("new", STARTED_MS + 1, status="RUNNING")]
    snapshot = MlflowSnapshot.from_probe(probe_payload(runs=runs))
    assert [r.run_id for r in snapshot.runs_since(STARTED_MS)] == ["skewed", "new"]
    assert [r.run_id for r in snapshot.finished_runs_since(STARTED_MS)] == ["skewed"]


def test_versions_from_before_grading_are_not_this_runs():
    versions = [model_version("1", "r1", STARTED_MS - 60_000), model_version("2", "r2", STARTED_MS + 1_000)]
    snapshot = MlflowSnapshot.from_probe(probe_payload(versions=versions))
    assert [v.version for v in snapshot.versions_of("fault-classifier", STARTED_MS)] == ["2"]
    assert snapshot.versions_of("other-model", STARTED_MS) == []


def test_versions_sort_numerically():
    versions = [model_version(str(n), f"r{n}", STARTED_MS + n) for n in (10, 9, 2)]
    snapshot = MlflowSnapshot.from_probe(probe_payload(versions=versions))
    assert [v.version for v in snapshot.versions_of("fault-classifier")] == ["2", "9", "10"]



def test_served_version_is_the_alias_target_even_when_it_is_not_the_newest():
    snapshot = MlflowSnapshot.from_probe(probe_payload())
    assert snapshot.served_version("fault-classifier", "challenger", None, STARTED_MS).version == "1"
    assert snapshot.served_version("fault-classifier", "champion", None, STARTED_MS).version == "2"


def test_served_version_falls_back_to_the_stage_then_the_newest():
    versions = [model_version("1", "r1", STARTED_MS + 1_000, stage="Production"),
                model_version("2", "r2", STARTED_MS + 2_000, stage="Staging"),
                model_version("3", "r3", STARTED_MS + 3_000)]
    snapshot = MlflowSnapshot.from_probe(probe_payload(versions=versions, registered_models=[]))
    assert snapshot.served_version("fault-classifier", None, "production", STARTED_MS).version == "1"
    assert snapshot.served_version("fault-classifier", "champion", "Staging", STARTED_MS).version == "2"
    assert snapshot.served_version("fault-classifier", "champion", "Archived", STARTED_MS).version == "3"
    assert snapshot.served_version("fault-classifier", None, None, STARTED_MS).version == "3"


def test_an_alias_on_a_version_older_than_grading_is_not_served():
    versions = [model_version("1", "r1", STARTED_MS - 600_000), model_version("2", "r2", STARTED_MS + 1_000)]
    models = [{"name": "fault-classifier", "aliases": [{"alias": "champion", "version": "1"}]}]
    snapshot = MlflowSnapshot.from_probe(probe_payload(versions=versions, registered_models=models))
    assert snapshot.served_version("fault-classifier", "champion", None, STARTED_MS).version == "2"


def test_served_version_is_none_without_versions():
    snapshot = MlflowSnapshot.from_probe(probe_payload(versions=[], registered_models=[]))
    assert snapshot.served_version("fault-classifier", "champion", None, STARTED_MS) is None


def test_an_unreadable_server_becomes_an_error_snapshot():
    error = "RuntimeError: /api/2.0/mlflow/experiments/search: HTTP 503 Service Unavailable"
    snapshot = MlflowSnapshot.from_probe({"error": error})
    assert snapshot.error is not None and "HTTP 503" in snapshot.error
    assert (snapshot.runs, snapshot.versions, snapshot.aliases) == ([], [], {})
    assert snapshot.served_version("fault-classifier", "champion", None, STARTED_MS) is None


def test_an_empty_server_is_an_empty_snapshot_not_an_error():
    empty: dict = {"experiments": [], "runs": [], "registered_models": [], "versions": []}
    snapshot = MlflowSnapshot.from_probe(empty)
    assert snapshot.error is None
    assert snapshot.runs_since(STARTED_MS) == []


# --- what the rubric asks for, and what is collected -----------------------------------------


def test_requests_merge_to_the_most_traffic_any_check_asks_for():
    merged = merge_all([
        EvidenceRequest(parity_rows=40, load_requests=200, load_concurrency=4),
        EvidenceRequest(parity_rows=10, malformed=True, counter_requests=20, sweep_metric="val_f1"),
        EvidenceRequest(drift=DriftRequest(requests=50, baseline="holdout", shifted="shifted"),
                        sweep_metric="val_accuracy"),
        EvidenceRequest(drift=DriftRequest(requests=120, baseline="other", shifted="other-shift")),
    ])
    assert merged == EvidenceRequest(parity_rows=40, malformed=True, load_requests=200, load_concurrency=4,
                                     counter_requests=20, sweep_metric="val_accuracy",
                                     drift=DriftRequest(requests=120, baseline="holdout", shifted="shifted"))
    assert merged.serving and merged.models
    assert merge_all([]) == EvidenceRequest() and not EvidenceRequest().serving and not EvidenceRequest().models


@pytest.mark.parametrize("lab_id", ["capstone-review", "drift", "mlops-capstone", "observe", "registry", "track"])
def test_a_rubric_asks_for_the_traffic_its_serving_checks_name(lab_id):
    lab = load_lab(lab_id, project_paths())
    request = rubric_evidence_request(lab)
    params = [(c.type, lab.rubric.params[c.id]) for c in lab.rubric.rubric.checks]
    http = [p for t, p in params if t == "http"]
    resent = [p.requests for t, p in params if t == "client-consistency"]  # resends the probe's parity rows
    assert request.parity_rows == max([*(p.rows for p in http if p.require in ("parity", "accuracy", "served")),
                                       *resent],
                                      default=0)
    assert request.malformed == any(p.require == "malformed" for p in http)
    counted = [p.requests for t, p in params if t == "prometheus" and p.require in ("counter", "histogram")]
    repeated = [min(p.rows, 10) for p in http if p.require == "served"]  # the same rows again: stable answers
    assert request.counter_requests == max([*counted, *repeated], default=0)
    assert (request.drift is not None) == any(t == "drift" for t, _ in params)
    assert request.retraining == any(t == "retrain" for t, _ in params)
    assert bool(request.promotion_rows) == any(t == "promotion" for t, _ in params)


def refusing_probe(*args: Any) -> list[dict]:
    raise AssertionError("nothing was asked for: the probe must not run")


def test_evidence_nobody_asked_for_is_never_collected(tmp_path):
    facts = make_facts(tmp_path, load_lab("mlops-capstone", project_paths()), refusing_probe, request=EvidenceRequest())
    started: list[Any] = []
    facts.start_evaluator(started.append)
    facts.prefetch()
    facts.observe_before_late_steps(started.append)
    facts.observe_after_late_steps()
    assert started == []


def answering(script: str, plan: dict[str, Any] | None, arguments: list[str], files: Path | None) -> list[dict]:
    assert script == "agent" and plan is not None
    answers: dict[str, Any] = {}
    for action in plan["actions"]:
        if action["do"] == "get":
            answers[action["label"]] = {"status": 200, "body": f"# scraped for {action['label']}\n"}
        else:
            sent = action.get("bodies", action.get("requests", []))  # predictions, or raw (malformed) requests
            answers[action["label"]] = {"responses": [{"status": 200, "body": '{"prediction": "none"}',
                                                      "latency_ms": 3.5}] * len(sent)}
    return [answers]


def test_the_serving_sequence_is_what_the_request_asks_and_comes_back_typed(tmp_path):
    probe = ScriptedProbe(answering)
    facts = make_facts(tmp_path, load_lab("mlops-capstone", project_paths()), probe,
                       request=EvidenceRequest(parity_rows=3, counter_requests=5))
    observed = facts.serving()
    assert probe.actions() == [SCRAPE_BEFORE, COUNTER_WINDOW, SCRAPE_AFTER, PARITY]
    assert observed.scrape_after == HttpAnswer(status=200, body=f"# scraped for {SCRAPE_AFTER}\n")
    assert 5 < len(observed.counter_window) <= 5 + 5 // 2 + 3 and len(observed.parity) == 3  # a varied window
    assert all(answer.ok and answer.latency_ms == 3.5 for answer in observed.parity)
    assert observed.malformed == () and observed.load is None
    assert facts.serving() is observed and len(probe.calls) == 1  # collected once per run


def test_a_manifest_task_sends_its_own_rows_in_its_own_body(tmp_path):
    from grader.evidence.served_task import TASK_DATASET
    from grader.labs.manifest import SubmissionManifest

    plans: list[dict[str, Any]] = []

    def recording(script: str, plan: dict[str, Any] | None, arguments: list[str], files: Path | None) -> list[dict]:
        plans.append(plan or {})
        return answering(script, plan, arguments, files)

    root = tmp_path / "submission"
    root.mkdir()
    (root / "iris.csv").write_text("a,b,species\n" + "".join(f"{i},{i * 2}.5,s{i % 2}\n" for i in range(10)))
    manifest = SubmissionManifest.model_validate({"task": {
        "data": "iris.csv", "label": "species", "request": {"body": {"inputs": "{{ records }}"}},
        "prediction": "predictions[0]"}})
    lab = load_lab("capstone-review", project_paths())
    facts = make_facts(tmp_path, lab, ScriptedProbe(recording), manifest=manifest,
                       request=EvidenceRequest(parity_rows=3, malformed=True))
    facts.submission_root = root
    facts.data = dataclasses.replace(facts.data, submission_root=root)
    task = facts.served_task()
    assert task.dataset == TASK_DATASET and task.features == ("a", "b") and task.classes == ("s0", "s1")
    observed = facts.serving()
    parity = next(a for a in plans[0]["actions"] if a["label"] == PARITY)
    assert parity["prepared"] and len(parity["bodies"]) == 3
    first = json.loads(parity["bodies"][0]["body"])
    assert first == {"inputs": [dict(zip(task.features, task.rows[0], strict=True))]}
    assert observed.bodies[0] == first  # the report shows what was sent
    assert [m.why for m in observed.malformed_sent][:2] == ["body is not JSON", "empty JSON object"]


def test_a_lab_without_a_manifest_task_keeps_its_own(tmp_path):
    facts = make_facts(tmp_path, load_lab("mlops-capstone", project_paths()), refusing_probe)
    task = facts.served_task()
    assert not task.declared and task.dataset == "holdout" and "hidden from the candidate" in task.source
    assert json.loads(task.bodies()[0]["body"]) == {"features": list(task.rows[0])}
