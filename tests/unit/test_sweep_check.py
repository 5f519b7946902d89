"""The ``sweep`` check type against the real ``track`` lab, with a scripted probe standing in for the containers:
the MLflow snapshot is what the probe's REST calls return, the evaluator answers the order the grader wrote."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from grader.evidence import Facts
from grader.evidence.mlflow_snapshot import MlflowSnapshot
from grader.evidence.sweep import sweep_runs
from grader.labs.loading import load_lab
from grader.models import Status
from grader.paths import project_paths
from tests.unit import check_contract as contract
from tests.unit.check_contract import STARTED_MS

LAB = load_lab("track", project_paths())


def valid_labels() -> list[str]:
    with (LAB.directory / "data" / "valid.csv").open() as handle:
        return [row["fault"] for row in csv.DictReader(handle)]


def with_errors(labels: list[str], wrong: int) -> list[str]:
    """``labels`` with the first ``wrong`` answers replaced by another class."""
    return [("none" if label != "none" else "bearing") if i < wrong else label for i, label in enumerate(labels)]


def run_entry(run_id: str, c: str, claimed: float | None, start: int, experiment: str = "1",
              tags: dict[str, str] | None = None) -> dict[str, Any]:
    metrics = [] if claimed is None else [{"key": "val_accuracy", "value": claimed, "timestamp": start, "step": 0}]
    return {
        "info": {"run_id": run_id, "experiment_id": experiment, "status": "FINISHED", "start_time": start,
                 "lifecycle_stage": "active"},
        "data": {"metrics": metrics, "params": [{"key": "C", "value": c}, {"key": "max_iter", "value": "1000"}],
                 "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }


class Sweep:
    """A sweep on the scripted server: run id → (C, claimed metric, wrong predictions of its model, tags)."""

    def __init__(self, runs: dict[str, tuple[str, float | None, int, dict[str, str]]]) -> None:
        self.runs = runs
        self.labels = valid_labels()
        self.orders: list[dict[str, Any]] = []

    def claim(self, wrong: int) -> float:
        return (len(self.labels) - wrong) / len(self.labels)

    def snapshot(self) -> dict[str, Any]:
        entries = [run_entry(run_id, c, claimed, STARTED_MS + 1000 * i, tags=tags)
                   for i, (run_id, (c, claimed, _, tags)) in enumerate(self.runs.items())]
        experiments = [{"experiment_id": "0", "name": "Default"}, {"experiment_id": "1", "name": "fault-sweep"}]
        return {"experiments": experiments,
                "runs": entries, "registered_models": [], "versions": []}

    def run_probe(self, script: str, plan: dict[str, Any] | None, arguments: list[str],
                  files: Path | None) -> list[dict[str, Any]]:
        if script == "agent":
            return [{"mlflow": self.snapshot()}]
        assert script == "evaluate_model" and files is not None
        order = json.loads((files / "go.json").read_text())
        self.orders.append(order)
        lines = []
        for key, uri in order["models"].items():
            run_id = key.removeprefix("run:")
            wrong = self.runs[run_id][2]
            lines.append({"key": key, "stage": "info", "model_uri": uri, "run_id": run_id})
            lines.append({"key": key, "model_uri": uri, "predictions": {"valid": with_errors(self.labels, wrong)}})
        return lines


def make_facts(tmp_path: Path, sweep: Sweep) -> Facts:
    return contract.make_facts(tmp_path, LAB, sweep.run_probe)


def grade(tmp_path: Path, sweep: Sweep | Facts, require: str, **params: Any):
    facts = sweep if isinstance(sweep, Facts) else make_facts(tmp_path, sweep)
    ctx = contract.make_context(tmp_path, facts=facts, manifest=facts.manifest)
    return contract.run_check("sweep", {"require": require, **params}, ctx)


def honest_sweep(tags: dict[str, dict[str, str]] | None = None, fake: dict[str, float] | None = None) -> Sweep:
    errors = {"r1": 4, "r2": 5, "r3": 7, "r4": 28}
    tags = tags if tags is not None else {"r1": {"best": "true"}}
    sweep = Sweep({})
    sweep.runs = {run_id: (c, (fake or {}).get(run_id, sweep.claim(errors[run_id])), errors[run_id],
                           tags.get(run_id, {}))
                  for run_id, c in zip(errors, ("1.0", "0.1", "0.01", "0.001"), strict=True)}
    return sweep


def test_an_honest_sweep_passes_all_three_properties(tmp_path):
    sweep = honest_sweep()
    facts = make_facts(tmp_path, sweep)
    for require in ("runs", "metrics-match", "best-chosen"):
        outcome = grade(tmp_path, facts, require)
        assert outcome.status == Status.passed, outcome.message
    # one evaluator order loaded every run's own model
    assert sweep.orders == [{"models": {f"run:r{i}": f"runs:/r{i}/model" for i in range(1, 5)}}]


def test_one_run_is_not_a_sweep(tmp_path):
    sweep = Sweep({"only": ("1.0", 0.98, 4, {"best": "true"})})
    outcome = grade(tmp_path, sweep, "runs", min_runs=3)
    assert outcome.status == Status.failed
    assert outcome.message == "the sweep has 1 run(s) logging 'val_accuracy', 3 expected"


def test_runs_with_the_same_params_are_one_parameter_set(tmp_path):
    sweep = Sweep({f"r{i}": ("1.0", 0.98, 4, {}) for i in range(3)})
    outcome = grade(tmp_path, sweep, "runs", min_runs=3)
    assert outcome.status == Status.failed
    assert outcome.message == "3 runs but only 1 distinct parameter set(s), 3 expected"


def test_a_run_claiming_more_than_its_model_scores_fails_metrics_match_with_claimed_and_measured(tmp_path):
    sweep = honest_sweep(fake={"r4": 0.91})
    outcome = grade(tmp_path, sweep, "metrics-match", tolerance=0.01)
    assert outcome.status == Status.failed
    assert "1/4 run(s)" in outcome.message and "run r4 claimed 0.9100, measured 0.8600" in outcome.message
    assert {r["run_id"]: (r["claimed"], r["measured"]) for r in outcome.evidence["runs"]}["r4"] == (0.91, 0.86)


def test_a_model_that_cannot_be_loaded_does_not_match(tmp_path):
    sweep = honest_sweep()
    original = sweep.run_probe

    def broken_r2(script: str, plan: Any, arguments: list[str], files: Path | None) -> list[dict[str, Any]]:
        lines = original(script, plan, arguments, files)
        return [({"key": "run:r2", "load_error": "OSError: no model"} if line.get("key") == "run:r2"
                 and "predictions" in line else line) for line in lines]

    sweep.run_probe = broken_r2  # type: ignore[method-assign]
    outcome = grade(tmp_path, sweep, "metrics-match")
    assert outcome.status == Status.failed
    assert "run r2 its model could not be evaluated: OSError: no model" in outcome.message


@pytest.mark.parametrize(("tags", "fragment"), [
    ({"r4": {"best": "true"}}, "the chosen run r4 measures 0.8600, but run r1 measures 0.9800"),
    ({}, "no run of the sweep tagged best=true"),
    ({"r1": {"best": "true"}, "r2": {"best": "True"}}, "2 runs (r1, r2) of the sweep tagged best=true"),
])
def test_best_chosen_fails_for_a_worse_run_or_not_exactly_one_mark(tmp_path, tags, fragment):
    outcome = grade(tmp_path, honest_sweep(tags=tags), "best-chosen")
    assert outcome.status == Status.failed
    assert fragment in outcome.message


def test_best_is_judged_by_the_measured_metric_not_the_claimed_one(tmp_path):
    # r4 claims to be the best and is tagged so; its model measures worst.
    outcome = grade(tmp_path, honest_sweep(tags={"r4": {"best": "true"}}, fake={"r4": 0.99}), "best-chosen")
    assert outcome.status == Status.failed
    assert outcome.evidence["best"] == "r1" and outcome.evidence["chosen_measured"] == 0.86


def test_the_sweep_is_the_named_experiment_and_skips_runs_without_the_metric():
    snapshot = MlflowSnapshot.from_probe({
        "experiments": [{"experiment_id": "1", "name": "scratch"}, {"experiment_id": "2", "name": "fault-sweep"}],
        "runs": [run_entry("a", "1", 0.9, STARTED_MS, "1"), run_entry("b", "2", 0.9, STARTED_MS + 1, "1"),
                 run_entry("parent", "0", None, STARTED_MS, "2"), run_entry("c", "3", 0.9, STARTED_MS + 2, "2"),
                 run_entry("old", "4", 0.9, STARTED_MS - 60_000, "2")],
    })
    assert [r.run_id for r in sweep_runs(snapshot, STARTED_MS, "fault-sweep", "val_accuracy")] == ["c"]
    assert [r.run_id for r in sweep_runs(snapshot, STARTED_MS, None, "val_accuracy")] == ["a", "b"]


def test_the_evaluator_reads_several_models_from_one_order(tmp_path):
    from grader.probe import evaluate_model

    go = tmp_path / "go.json"
    go.write_text(json.dumps({"models": {"run:a": "runs:/a/model", "run:b": "runs:/b/model"}}))
    assert evaluate_model.wait_for_orders(str(go)) == {"run:a": "runs:/a/model", "run:b": "runs:/b/model"}
    go.write_text(json.dumps({"model_uri": "models:/m/1"}))
    assert evaluate_model.wait_for_orders(str(go)) == {"model": "models:/m/1"}
