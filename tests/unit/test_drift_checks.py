"""The drift lab's evidence and check types, on recorded probe answers (no engine): reading a drift signal
from a metric or a JSON endpoint, the probe's traffic plan, the versions a retraining registered, and
the ``drift`` and ``retrain`` checks passing and failing for the right reasons."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader.evidence import ModelEvaluation
from grader.evidence.answers import HttpAnswer
from grader.evidence.drift import (
    BASELINE_BATCH,
    SHIFTED_BATCH,
    SIGNAL_AFTER_BASELINE,
    SIGNAL_AFTER_SHIFT,
    SIGNAL_AT_START,
    DriftPlan,
    drift_actions,
    read_signal,
)
from grader.evidence.drift_observation import DriftObservation
from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion
from grader.evidence.retraining import Retraining, registered_between
from grader.labs.manifest import DriftSection, SubmissionManifest
from grader.models import Status
from tests.unit.check_contract import FakeEvidence, make_context, run_check

GAUGE = """# HELP feature_drift_detected 1 while drifting.
# TYPE feature_drift_detected gauge
feature_drift_detected {value}
"""
LABELLED = """# TYPE feature_drift_score gauge
feature_drift_score{{feature="rpm"}} {rpm}
feature_drift_score{{feature="temperature"}} {temperature}
"""


def scraped(text: str, status: int = 200) -> HttpAnswer:
    return HttpAnswer(status=status, body=text)


# --- reading the signal -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "raised"), [("0.0", False), ("1.0", True)])
def test_a_gauge_is_read_and_compared_with_the_threshold(value, raised):
    reading = read_signal(scraped(GAUGE.format(value=value)), DriftSection())
    assert reading.value == float(value)
    assert reading.raised(1.0) is raised


def test_the_largest_sample_of_a_labelled_metric_is_the_signal():
    text = LABELLED.format(rpm=2.5, temperature=11.0)
    reading = read_signal(scraped(text), DriftSection(metric="feature_drift_score", threshold=6))
    assert reading.value == 11.0 and reading.raised(6)


@pytest.mark.parametrize(("response", "fragment"), [
    (scraped("# TYPE other gauge\nother 1\n"), "no metric 'feature_drift_detected'"),
    (scraped("", status=404), "answered 404"),
    (HttpAnswer(status=None, error="ConnectionRefusedError"), "ConnectionRefusedError"),
    (scraped("feature_drift_detected not-a-number\n"), "invalid exposition"),
])
def test_an_unreadable_metric_says_why(response, fragment):
    reading = read_signal(response, DriftSection())
    assert reading.value is None and fragment in reading.describe()
    assert not reading.raised(0)


@pytest.mark.parametrize(("body", "key", "value"), [
    ({"drift": True}, "drift", 1.0),
    ({"drift": False}, "drift", 0.0),
    ({"drift": {"score": 0.42}}, "drift.score", 0.42),
])
def test_a_json_endpoint_gives_a_boolean_or_a_number(body, key, value):
    reading = read_signal(scraped(json.dumps(body)), DriftSection(endpoint="/drift", key=key))
    assert reading.value == value


@pytest.mark.parametrize(("body", "fragment"), [
    ("{not json", "did not answer JSON"),
    (json.dumps({"status": "ok"}), "no key 'drift'"),
    (json.dumps({"drift": "yes"}), "not a boolean or a number"),
])
def test_a_json_endpoint_without_a_usable_signal_says_why(body, fragment):
    reading = read_signal(scraped(body), DriftSection(endpoint="/drift"))
    assert reading.value is None and fragment in reading.describe()


def test_a_drift_endpoint_must_be_a_path():
    with pytest.raises(ValueError, match="absolute URL path"):
        DriftSection(endpoint="http://elsewhere/drift")


# --- the probe's traffic ------------------------------------------------------------------------


def test_the_probe_reads_the_signal_around_an_in_distribution_then_a_shifted_batch():
    actions = drift_actions(DriftPlan(requests=5, baseline="holdout", shifted="shifted"), "http://s/predict",
                            "http://s/metrics", ["b1", "b2"], ["s1", "s2", "s3"])
    assert [a["label"] for a in actions] == [SIGNAL_AT_START, BASELINE_BATCH, SIGNAL_AFTER_BASELINE,
                                             SHIFTED_BATCH, SIGNAL_AFTER_SHIFT]
    assert actions[1]["bodies"] == ["b1", "b2", "b1", "b2", "b1"]  # rows are cycled up to the batch size
    assert actions[3]["bodies"] == ["s1", "s2", "s3", "s1", "s2"]
    assert {a["url"] for a in actions if a["do"] == "get"} == {"http://s/metrics"}


def test_the_in_distribution_batch_size_varies_with_the_seed_within_bounds():
    sizes = {DriftPlan.varied(100, "holdout", "shifted", seed).baseline_requests for seed in range(40)}
    assert min(sizes) >= 100 and max(sizes) <= 150 and len(sizes) > 5
    plan = DriftPlan.varied(100, "holdout", "shifted", seed=7)
    assert plan == DriftPlan.varied(100, "holdout", "shifted", seed=7)  # the same run, the same plan
    actions = drift_actions(plan, "http://s/p", "http://s/m", ["b"], ["s"])
    assert len(actions[1]["bodies"]) == plan.baseline_requests and len(actions[3]["bodies"]) == 100


# --- the drift check ----------------------------------------------------------------------------


def ok(count: int) -> tuple[HttpAnswer, ...]:
    return (HttpAnswer(status=200, body='{"prediction": "none"}'),) * count


def observation(after_baseline: str, after_shift: str,
                baseline: tuple[HttpAnswer, ...] | None = None) -> DriftObservation:
    return DriftObservation(signal_url="http://model-server:8000/metrics",
                            at_start=scraped(GAUGE.format(value=0)), baseline_batch=baseline or ok(100),
                            after_baseline=scraped(GAUGE.format(value=after_baseline)), shifted_batch=ok(100),
                            after_shift=scraped(GAUGE.format(value=after_shift)))


def StubFacts(observed: DriftObservation | None = None, **fields: Any) -> FakeEvidence:
    """The drift and retrain checks' evidence, recorded."""
    return FakeEvidence(drifted=observed, **fields)


def evaluate(check_type: str, params: dict[str, Any], facts: FakeEvidence, tmp_path: Path):
    return run_check(check_type, params, make_context(tmp_path, facts=facts))


@pytest.mark.parametrize(("require", "after_baseline", "after_shift", "status", "fragment"), [
    ("quiet", "0", "1", Status.passed, "(quiet) after 100 in-distribution requests"),
    ("quiet", "1", "1", Status.failed, "drift raised where there is none"),
    ("raised", "0", "1", Status.passed, "(raised) after 100 shifted requests"),
    ("raised", "0", "0", Status.failed, "the drift went unnoticed"),
])
def test_drift_check_judges_the_signal_after_each_batch(tmp_path, require, after_baseline, after_shift, status,
                                                         fragment):
    outcome = evaluate("drift", {"require": require}, StubFacts(observation(after_baseline, after_shift)), tmp_path)
    assert outcome.status == status, outcome.message
    assert fragment in outcome.message
    assert outcome.evidence["after_in_distribution"] == after_baseline


def test_drift_check_fails_when_the_server_refused_the_traffic(tmp_path):
    refused = (HttpAnswer(status=500),) * 90 + (HttpAnswer(status=200, body="{}"),) * 10
    outcome = evaluate("drift", {"require": "quiet"}, StubFacts(observation("0", "1", baseline=refused)), tmp_path)
    assert outcome.status == Status.failed
    assert "answered 10 of the 100 in-distribution requests" in outcome.message


def test_drift_check_fails_when_the_signal_is_not_exposed(tmp_path):
    facts = StubFacts(replace(observation("0", "1"), after_baseline=scraped("# TYPE other gauge\nother 0\n")))
    outcome = evaluate("drift", {"require": "quiet"}, facts, tmp_path)
    assert outcome.status == Status.failed and "unreadable" in outcome.message


# --- retraining ---------------------------------------------------------------------------------


def version(number: str, created: int = 0) -> ModelVersion:
    return ModelVersion(name="fault-classifier", version=number, run_id=f"run{number}", source="", stage="None",
                        created_ms=created)


def test_registered_between_lists_only_versions_the_late_steps_added():
    before = MlflowSnapshot(versions=[version("1")])
    after = MlflowSnapshot(versions=[version("1"), version("3"), version("2"),
                                     ModelVersion("other", "4", "", "", "None", 0)])
    assert [v.version for v in registered_between(before, after, "fault-classifier")] == ["2", "3"]


TRUTH = ["none", "bearing", "overheating", "none"] * 5


def retraining(previous: list[str], new: list[str] | None, alias_target: str = "2") -> Retraining:
    old = ModelEvaluation(version=version("1"), predictions={"shifted": previous})
    if new is None:
        return Retraining(previous=old, retrained=ModelEvaluation(version=None, load_error="none registered"),
                          registered=[])
    return Retraining(previous=old, retrained=ModelEvaluation(version=version("2"), predictions={"shifted": new}),
                      registered=[version("2")], aliases_after={"champion": alias_target})


def manifest_with_alias() -> SubmissionManifest:
    return SubmissionManifest.model_validate({"model": {"name": "fault-classifier", "alias": "champion"}})


@pytest.mark.parametrize(("new", "status", "fragment"), [
    (TRUTH, Status.passed, "new 1.000, previous 0.750 (+0.250)"),
    (["none"] * 20, Status.failed, "not better by 0.1"),
])
def test_retrain_improves_compares_both_versions_on_the_hidden_labels(tmp_path, new, status, fragment):
    previous = ["none"] * 10 + TRUTH[10:]  # right on 15 of 20 rows
    facts = StubFacts(retrained=retraining(previous, new), truth=TRUTH)
    outcome = evaluate("retrain", {"require": "improves", "margin": 0.1}, facts, tmp_path)
    assert outcome.status == status, outcome.message
    assert fragment in outcome.message


def test_retrain_fails_every_require_when_nothing_new_was_registered(tmp_path):
    facts = StubFacts(retrained=retraining(TRUTH, None), truth=TRUTH)
    for require in ("registered", "improves", "promoted"):
        outcome = evaluate("retrain", {"require": require}, facts, tmp_path)
        assert outcome.status == Status.failed
        assert "no new version of 'fault-classifier' was registered" in outcome.message


@pytest.mark.parametrize(("target", "status"), [("2", Status.passed), ("1", Status.failed)])
def test_retrain_promoted_follows_the_manifest_alias(tmp_path, target, status):
    facts = StubFacts(retrained=retraining(TRUTH, TRUTH, alias_target=target), truth=TRUTH,
                      manifest=manifest_with_alias())
    outcome = evaluate("retrain", {"require": "promoted"}, facts, tmp_path)
    assert outcome.status == status
    assert outcome.evidence["alias_target"] == target


# --- late steps in lab files --------------------------------------------------------------------


def lab_with(steps: list[dict[str, Any]], services: list[dict[str, Any]] | None = None):
    from grader.models import Lab

    return Lab.model_validate({"id": "demo", "title": "Demo", "rubric": "demo", "steps": steps,
                               "services": services or []})


def test_a_step_that_runs_after_the_services_must_be_written_last():
    lab = lab_with([{"id": "retrain", "run": "x", "after_services": True}, {"id": "train", "run": "y"}])
    assert lab.reference_problems() == [(("steps", 1, "after_services"),
                                         "step 'train' runs before the services but is written after a step that "
                                         "runs after them: put after_services steps last")]


def test_a_service_cannot_wait_for_a_step_that_runs_after_the_services():
    lab = lab_with([{"id": "train", "run": "y"}, {"id": "retrain", "run": "x", "after_services": True}],
                   [{"id": "server", "run": "serve", "port": 80, "needs": ["retrain"]}])
    assert lab.reference_problems() == [(("services", 0, "needs"),
                                         "'server' needs ['retrain'], which run after the services start")]


def test_the_drift_lab_mounts_its_retraining_data_into_the_retrain_step_only():
    from grader.labs.loading import load_lab
    from grader.paths import project_paths
    from grader.run.pipeline import data_mounts, step_data_mounts

    lab = load_lab("drift", project_paths())
    retrain = next(step for step in lab.lab.steps if step.id == "retrain")
    assert retrain.after_services
    assert {m.target for m in step_data_mounts(lab, retrain)} == {"/data/shifted/train.csv",
                                                                  "/data/shifted/valid.csv"}
    assert not any("shifted" in m.target for m in data_mounts(lab))
    assert all(source.startswith("hidden/") for source in lab.lab.hidden.values())


@pytest.mark.parametrize(("stage", "status"), [("Production", Status.passed), ("None", Status.failed)])
def test_retrain_promoted_follows_a_legacy_stage_without_an_alias(tmp_path, stage, status):
    new = ModelVersion("fault-classifier", "2", "run2", "", stage, 0)
    retrained = replace(retraining(TRUTH, TRUTH), registered=[new])
    manifest = SubmissionManifest.model_validate({"model": {"name": "fault-classifier", "stage": "Production"}})
    outcome = evaluate("retrain", {"require": "promoted"}, StubFacts(retrained=retrained, truth=TRUTH,
                                                                     manifest=manifest), tmp_path)
    assert outcome.status == status
    assert outcome.evidence["new_version_stage"] == stage
