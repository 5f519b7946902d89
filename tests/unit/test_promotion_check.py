"""The promotion drill and the ``promotion`` check type against the real ``registry`` lab, with a scripted probe in
place of the containers; and the probe's ``watch`` action against a real HTTP server on loopback."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from grader.checks import get_check_type
from grader.labs.loading import load_lab
from grader.labs.manifest import SubmissionManifest
from grader.models import ServiceResult, Status
from grader.paths import project_paths
from grader.probe import agent
from tests.unit.check_contract import STARTED_MS, make_context, make_facts

LAB = load_lab("registry", project_paths())
ROWS = 10


def holdout_labels() -> list[str]:
    with (LAB.directory / "hidden" / "holdout.csv").open() as handle:
        return [row["fault"] for row in csv.DictReader(handle)]


CANDIDATE = holdout_labels()  # what the candidate's version predicts, as the evaluator reports it
Answer = tuple[int | None, str]  # (status, prediction) of one request
Round = list[Answer]


def candidate_round() -> Round:
    return [(200, label) for label in CANDIDATE[:ROWS]]


def sentinel_round(token: str) -> Round:
    return [(200, token)] * ROWS


def watch_result(rounds: list[Round], matched: bool, confirm: int = 3) -> dict[str, Any]:
    def body(status: int | None, prediction: str) -> str:
        return json.dumps({"prediction": prediction}) if status == 200 else "Internal Server Error"

    return {
        "matched": matched, "elapsed_s": 0.5 * len(rounds),
        "rounds": [{"t": 0.5 * i, "statuses": [s for s, _ in r], "hits": 0} for i, r in enumerate(rounds)],
        "last_bodies": [[body(s, p) for s, p in r] for r in rounds[-confirm:]],
        "failures": [{"t": 0.5 * i, "status": s, "body": "Internal Server Error"}
                     for i, r in enumerate(rounds) for s, _ in r if s != 200][:10],
    }


Scenario = Callable[[str, str], dict[str, Any]]  # (watch label, token) → the watch's result


def follows(label: str, token: str) -> dict[str, Any]:
    first = candidate_round() if label == "promotion" else sentinel_round(token)
    then = sentinel_round(token) if label == "promotion" else candidate_round()
    return watch_result([first, then, then, then], matched=True)


class ScriptedRun:
    """The containers of one run, scripted: registry, evaluator, sentinel registration and the drill's probe."""

    def __init__(self, scenario: Scenario, alias_set: bool = True) -> None:
        self.scenario = scenario
        self.alias_set = alias_set
        self.batches: list[list[str]] = []
        self.sentinel_plans: list[dict[str, Any]] = []
        self.restarts = 0

    def registry(self) -> dict[str, Any]:
        version = {"name": "fault-classifier", "version": "1", "creation_timestamp": STARTED_MS + 30_000,
                   "current_stage": "None", "source": "models:/m-1", "run_id": "r1"}
        aliases = [{"alias": "champion", "version": "1"}] if self.alias_set else []
        return {"experiments": [{"experiment_id": "1", "name": "fault-classifier"}],
                "runs": [{"info": {"run_id": "r1", "experiment_id": "1", "status": "FINISHED",
                                   "start_time": STARTED_MS + 20_000}, "data": {}}],
                "registered_models": [{"name": "fault-classifier", "aliases": aliases}], "versions": [version]}

    def run_probe(self, script: str, plan: dict[str, Any] | None, arguments: list[str],
                  files: Path | None) -> list[dict[str, Any]]:
        if script == "evaluate_model":
            assert files is not None
            order = json.loads((files / "go.json").read_text())
            assert order == {"models": {"registered": "models:/fault-classifier/1"}}
            return [{"key": "registered", "stage": "info", "signature": {"inputs": "[]"}},
                    {"key": "registered", "predictions": {"valid": [], "holdout": CANDIDATE}}]
        if script == "register_sentinel":
            assert plan is not None
            self.sentinel_plans.append(plan)
            return [{"version": "2", "run_id": "sentinel-run"}]
        assert script == "agent" and plan is not None
        actions = plan["actions"]
        if actions[0]["do"] == "mlflow":
            return [{"mlflow": self.registry()}]
        self.batches.append([action["label"] for action in actions])
        answers: dict[str, Any] = {}
        for action in actions:
            if action["do"] == "set-alias":
                answers[action["label"]] = {"status": 200, "body": "{}"}
            elif action["do"] == "predict":
                answers[action["label"]] = {"responses": [{"status": 200, "body": "{}"}] * len(action["bodies"])}
            else:
                assert len(action["bodies"]) == ROWS and action["deadline_s"] == 20
                answers[action["label"]] = self.scenario(action["label"], action["token"])
        return [answers]

    def restart(self) -> ServiceResult:
        self.restarts += 1
        return ServiceResult(id="model-server", ready=True, message="listening on port 8000", ready_after_s=1.5)


def drill(tmp_path: Path, run: ScriptedRun, **manifest_changes: Any) -> dict[str, Any]:
    """Every promotion check of the lab's rubric on one run, by check id → outcome."""
    manifest = SubmissionManifest.model_validate({**LAB.lab.manifest, **manifest_changes})
    facts = make_facts(tmp_path, LAB, run.run_probe, manifest=manifest, restart_model_server=run.restart)
    ctx = make_context(tmp_path, facts=facts, manifest=manifest)
    check = get_check_type("promotion")
    return {spec.id: check.evaluate(LAB.rubric.params[spec.id], ctx)
            for spec in LAB.rubric.rubric.checks if spec.type == "promotion"}


def test_a_server_that_follows_both_moves_passes_every_promotion_check(tmp_path):
    run = ScriptedRun(follows)
    outcomes = drill(tmp_path, run)
    assert {k: o.status for k, o in outcomes.items()} == dict.fromkeys(outcomes, Status.passed)
    assert outcomes["follows-promotion"].message == "served the promoted version 2 0.5s after the alias moved"
    assert outcomes["follows-rollback"].message == "back on version 1 0.5s after the rollback: 10/10 answers match it"
    assert outcomes["no-errors-during-switch"].message == "all 80 requests during the switches got a 2xx"
    # polling: one probe batch; the sentinel registered once, without a signature
    assert run.batches == [["before", "move-to-sentinel", "promotion", "move-back", "rollback"]]
    assert run.restarts == 0
    plan = run.sentinel_plans[0]
    assert plan["model"] == "fault-classifier" and "signature" not in plan
    assert plan["label"].startswith("grader-sentinel-") and plan["features"] == LAB.lab.task.features


def test_with_the_restart_policy_the_grader_restarts_the_server_after_each_move(tmp_path):
    run = ScriptedRun(follows)
    outcomes = drill(tmp_path, run, serve={"reload": "restart"})
    assert all(o.status == Status.passed for o in outcomes.values())
    assert run.batches == [["before", "move-to-sentinel"], ["promotion", "move-back"], ["rollback"]]
    assert run.restarts == 2
    assert outcomes["follows-promotion"].evidence["restarts"][0] == {"ready": True, "message": "listening on port 8000",
                                                                     "ready_after_s": 1.5}


def test_a_server_that_never_reloads_fails_the_promotion(tmp_path):
    def never(label: str, token: str) -> dict[str, Any]:
        rounds = [candidate_round()] * 40
        return watch_result(rounds, matched=label == "rollback")

    outcome = drill(tmp_path, ScriptedRun(never))["follows-promotion"]
    assert outcome.status == Status.failed
    assert outcome.message.startswith("the server did not serve the promoted version 2 within 20s of the alias move")
    assert outcome.evidence["promotion"]["rounds"] == 40


def test_a_server_that_stays_on_the_newest_version_fails_the_rollback(tmp_path):
    def latest(label: str, token: str) -> dict[str, Any]:
        return watch_result([sentinel_round(token)] * 30, matched=label == "promotion")

    outcomes = drill(tmp_path, ScriptedRun(latest))
    assert outcomes["follows-promotion"].status == Status.passed
    assert outcomes["follows-rollback"].status == Status.failed
    assert outcomes["follows-rollback"].message.startswith("the server still served the sentinel version 2 within 20s")


def test_rolling_back_to_some_other_model_is_not_a_rollback(tmp_path):
    def elsewhere(label: str, token: str) -> dict[str, Any]:
        if label == "promotion":
            return follows(label, token)
        return watch_result([[(200, "bearing" if c != "bearing" else "none") for c in CANDIDATE[:ROWS]]] * 3, True)

    outcome = drill(tmp_path, ScriptedRun(elsewhere))["follows-rollback"]
    assert outcome.status == Status.failed
    assert outcome.message == "after the rollback only 0/10 answers match version 1 (98% needed)"


def test_failed_requests_during_a_switch_fail_the_no_errors_check(tmp_path):
    def drops(label: str, token: str) -> dict[str, Any]:
        gap = [(500, "")] * 3 + [(200, token if label == "promotion" else c) for c in CANDIDATE[3:ROWS]]
        done = sentinel_round(token) if label == "promotion" else candidate_round()
        return watch_result([gap, done, done, done], matched=True)

    outcomes = drill(tmp_path, ScriptedRun(drops))
    assert outcomes["follows-promotion"].status == outcomes["follows-rollback"].status == Status.passed
    errors = outcomes["no-errors-during-switch"]
    assert errors.status == Status.failed
    assert errors.message.startswith("6 of 80 requests during the switches failed, e.g. 500 0.0s into the promotion")
    assert errors.evidence["promotion"]["statuses"] == {"200": 37, "500": 3}


def test_without_a_serving_alias_there_is_nothing_to_drill(tmp_path):
    run = ScriptedRun(follows, alias_set=False)
    outcome = drill(tmp_path, run)["follows-promotion"]
    assert outcome.status == Status.failed
    assert outcome.message == "alias 'champion' is not set on 'fault-classifier': there is no serving version to " \
                              "promote from"
    assert run.sentinel_plans == []


# --- the probe's watch action, against a real server on loopback --------------------------------------------


@pytest.fixture
def switching_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """Answers ``old`` to the first ``switch_after`` requests, a 500 to the next one, then ``new``."""
    state: dict[str, Any] = {"served": 0, "switch_after": 4}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state["served"] += 1
            if state["served"] == state["switch_after"] + 1:
                self.send_response(500)
                self.end_headers()
                return
            answer = "old" if state["served"] <= state["switch_after"] else "grader-sentinel-abc"
            data = json.dumps({"prediction": answer}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None: ...

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict", state
    finally:
        server.shutdown()
        server.server_close()


def test_watch_stops_after_confirming_rounds_and_keeps_the_failures(switching_server):
    url, state = switching_server
    result = agent.watch({"url": url, "bodies": [{"features": [1]}, {"features": [2]}], "token": "grader-sentinel-abc",
                          "until": "all", "confirm": 2, "deadline_s": 10, "interval_s": 0}, timeout=5)
    assert result["matched"] is True
    assert [r["hits"] for r in result["rounds"]] == [0, 0, 1, 2, 2]
    assert result["rounds"][2]["statuses"] == [500, 200]
    assert [f["status"] for f in result["failures"]] == [500]
    assert result["last_bodies"] == [['{"prediction": "grader-sentinel-abc"}'] * 2] * 2
    assert state["served"] == 10


def test_watch_gives_up_at_the_deadline(switching_server):
    url, state = switching_server
    state["switch_after"] = 10**6
    result = agent.watch({"url": url, "bodies": [{"features": [1]}], "token": "grader-sentinel-abc", "until": "all",
                          "confirm": 3, "deadline_s": 0.3, "interval_s": 0.01}, timeout=5)
    assert result["matched"] is False and result["elapsed_s"] >= 0.3
    assert all(r["hits"] == 0 for r in result["rounds"])
