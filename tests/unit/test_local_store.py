"""Local MLflow stores: how the reader finds and reads them (its pure parts, on the host's files), how its answer
becomes evidence, and how the ``mlflow`` check judges a run found only there."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.evidence.local_store import LocalStores, failed_reading, parse_reading
from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion
from grader.probe.read_local_store import find_stores, read_sqlite, read_store
from tests.unit.check_contract import make_context, run_check
from tests.unit.test_evidence import STARTED_MS, mlflow_run, model_version, probe_payload

# The tables MLflow's SQLAlchemy store creates for runs and the registry, reduced to the columns the reader uses.
MLFLOW_SCHEMA = """
CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT, lifecycle_stage TEXT);
CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, experiment_id INTEGER, status TEXT, start_time BIGINT,
                   lifecycle_stage TEXT);
CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);
CREATE TABLE latest_metrics (key TEXT, value FLOAT, timestamp BIGINT, step BIGINT, run_uuid TEXT);
CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
CREATE TABLE registered_models (name TEXT PRIMARY KEY);
CREATE TABLE model_versions (name TEXT, version INTEGER, run_id TEXT, source TEXT, current_stage TEXT,
                             creation_time BIGINT);
CREATE TABLE registered_model_aliases (name TEXT, alias TEXT, version INTEGER);
"""


def mlflow_db(path: Path, start_ms: int = STARTED_MS + 30_000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(MLFLOW_SCHEMA)
    db.execute("INSERT INTO experiments VALUES (1, 'diabetes', 'active')")
    db.execute("INSERT INTO runs VALUES ('r1', 1, 'FINISHED', ?, 'active')", (start_ms,))
    db.executemany("INSERT INTO params VALUES (?, ?, 'r1')", [("C", "0.5"), ("max_iter", "200")])
    db.execute("INSERT INTO latest_metrics VALUES ('val_accuracy', 0.81, 0, 0, 'r1')")
    db.execute("INSERT INTO registered_models VALUES ('fault-classifier')")
    db.execute("INSERT INTO model_versions VALUES ('fault-classifier', 1, 'r1', 'runs:/r1/model', 'Production', ?)",
               (start_ms + 2000,))
    db.execute("INSERT INTO registered_model_aliases VALUES ('fault-classifier', 'champion', 1)")
    db.commit()
    db.close()
    return path


# --- finding stores -----------------------------------------------------------------------------------------------

def test_sqlite_files_and_mlruns_folders_are_found_and_named_as_the_code_names_them(tmp_path):
    mlflow_db(tmp_path / "mlflow.db")
    mlflow_db(tmp_path / "src" / "tracking.sqlite")
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    (tmp_path / "src" / "mlruns" / "1" / "r1" / "artifacts").mkdir(parents=True)  # a database store's artifacts
    (tmp_path / "notes.db").write_text("not a database")
    found, skipped = find_stores(str(tmp_path))
    uris = [read_store(str(tmp_path), kind, path)["uri"] for kind, path in found]
    assert uris == ["sqlite:///mlflow.db", "./mlruns", "sqlite:///src/tracking.sqlite"]
    assert skipped == []


def test_symlinks_and_library_folders_are_never_followed(tmp_path):
    outside = tmp_path / "outside"
    mlflow_db(outside / "secret.db")
    root = tmp_path / "work"
    (root / ".venv" / "lib").mkdir(parents=True)
    mlflow_db(root / ".venv" / "lib" / "mlflow.db")
    os.symlink(outside / "secret.db", root / "mlflow.db")
    os.symlink(outside, root / "linked")
    os.symlink(outside, root / "mlruns")
    found, skipped = find_stores(str(root))
    assert found == []
    assert skipped == ["sqlite:///mlflow.db: a symlink, not read"]


def test_stores_deeper_than_the_limit_are_not_looked_for(tmp_path):
    mlflow_db(tmp_path / "a" / "b" / "c" / "d" / "e" / "f" / "mlflow.db")
    assert find_stores(str(tmp_path))[0] == []


# --- reading SQLite -----------------------------------------------------------------------------------------------

def test_an_mlflow_sqlite_store_reads_as_the_servers_rest_answers(tmp_path):
    raw = read_sqlite(str(mlflow_db(tmp_path / "mlflow.db")))
    snapshot = MlflowSnapshot.from_probe(raw)
    [run] = snapshot.runs
    assert (run.run_id, run.status, run.params, run.metrics) == ("r1", "FINISHED", {"C": "0.5", "max_iter": "200"},
                                                                 {"val_accuracy": 0.81})
    assert snapshot.experiments == {"1": "diabetes"}
    assert snapshot.versions == [ModelVersion("fault-classifier", "1", "r1", "runs:/r1/model", "Production",
                                              STARTED_MS + 32_000)]
    assert snapshot.aliases == {"fault-classifier": {"champion": "1"}}


def test_reading_never_writes_to_the_store(tmp_path):
    path = mlflow_db(tmp_path / "mlflow.db")
    before = path.read_bytes()
    path.chmod(0o444)
    read_sqlite(str(path))
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


def test_a_database_that_is_not_mlflows_is_an_error_of_that_store(tmp_path):
    db = sqlite3.connect(tmp_path / "app.db")
    db.execute("CREATE TABLE users (id INTEGER)")
    db.commit()
    db.close()
    entry = read_store(str(tmp_path), "sqlite", str(tmp_path / "app.db"))
    assert entry == {"uri": "sqlite:///app.db", "kind": "sqlite",
                     "error": "ValueError: not an MLflow store (no runs and experiments tables)"}


# --- the reader's answer as evidence ------------------------------------------------------------------------------

def test_the_answer_becomes_typed_stores_with_their_source(tmp_path):
    reading = parse_reading({"stores": [read_store(str(tmp_path), "sqlite", str(mlflow_db(tmp_path / "mlflow.db")))],
                             "skipped": ["sqlite:///x.db: a symlink, not read"]}, "train")
    [store] = reading.stores
    assert (store.uri, store.kind, store.step, store.source) == ("sqlite:///mlflow.db", "sqlite", "train",
                                                                 "local store sqlite:///mlflow.db")
    assert reading.with_runs_since(STARTED_MS) == [store] and reading.notes == ("sqlite:///x.db: a symlink, not read",)


def test_values_of_the_wrong_type_make_the_store_unreadable_not_the_grader_crash():
    hostile = {"runs": [{"info": {"run_id": "r", "start_time": "yesterday"}, "data": {}}]}
    reading = parse_reading({"stores": [{"uri": "sqlite:///mlflow.db", "kind": "sqlite", "snapshot": hostile},
                                        "junk", {"uri": 3}]}, "train")
    [store] = reading.stores
    assert not store.readable and store.snapshot.error.startswith("not MLflow's data: ValueError")
    assert reading.readable() == [] and reading.notes[0].startswith("sqlite:///mlflow.db could not be read")


def test_a_later_reading_replaces_the_same_store_and_keeps_the_others():
    first = parse_reading({"stores": [{"uri": "sqlite:///mlflow.db", "kind": "sqlite", "snapshot": {}},
                                      {"uri": "./mlruns", "kind": "file", "snapshot": {}}]}, "prepare")
    later = parse_reading({"stores": [{"uri": "sqlite:///mlflow.db", "kind": "sqlite", "snapshot": {}}]}, "train")
    merged = first.merged(later).merged(failed_reading("retrain", "the engine said no"))
    assert [(s.uri, s.step) for s in merged.stores] == [("sqlite:///mlflow.db", "train"), ("./mlruns", "prepare")]
    assert merged.notes == ("the work area after step 'retrain' could not be searched for MLflow stores: "
                            "the engine said no",)


# --- the check ------------------------------------------------------------------------------------------------------

@dataclass
class LocalFacts:
    """Run evidence with an empty (or given) server snapshot and the stores the steps left."""

    stores: LocalStores
    server: MlflowSnapshot = field(default_factory=MlflowSnapshot)
    started_at_ms: int = STARTED_MS
    model_name: str = "fault-classifier"

    def mlflow(self) -> MlflowSnapshot:
        return self.server

    def served_version(self) -> ModelVersion | None:
        return None

    def local_stores(self) -> LocalStores:
        return self.stores


def local(start_ms: int = STARTED_MS + 30_000, uri: str = "sqlite:///mlflow.db") -> LocalStores:
    payload = probe_payload(runs=[mlflow_run("c0ffee00c0ffee00", start_ms)],
                            versions=[model_version("1", "c0ffee00c0ffee00", start_ms + 2000)])
    return parse_reading({"stores": [{"uri": uri, "kind": "sqlite", "snapshot": payload}]}, "train")


@pytest.mark.parametrize("require", ["run", "params", "registered"])
def test_a_run_found_only_in_the_local_store_earns_full_credit_and_says_where(tmp_path, require):
    outcome = run_check("mlflow", {"require": require, "local_store": "full"},
                        make_context(tmp_path, facts=LocalFacts(local())))
    assert outcome.status.value == "pass" and outcome.score_fraction == 1
    assert outcome.message.endswith("— found in the repository's local store sqlite:///mlflow.db, not on the "
                                    "tracking server")
    assert outcome.evidence["source"] == "local store sqlite:///mlflow.db"


def test_partial_credit_for_a_local_store_is_half_the_points(tmp_path):
    outcome = run_check("mlflow", {"require": "params", "local_store": "partial"},
                        make_context(tmp_path, facts=LocalFacts(local(uri="./mlruns"))))
    assert outcome.status.value == "fail" and outcome.score_fraction == 0.5
    assert "found in the repository's local store ./mlruns, not on the tracking server: partial credit" \
        in outcome.message


def test_a_lab_about_the_tracking_server_fails_a_local_run_and_says_to_log_to_the_server(tmp_path):
    outcome = run_check("mlflow", {"require": "registered"}, make_context(tmp_path, facts=LocalFacts(local())))
    assert outcome.status.value == "fail" and outcome.score_fraction == 0
    assert outcome.message == (
        "'fault-classifier' version 1 registered, but found in the repository's local store sqlite:///mlflow.db, "
        "not on the tracking server: this lab grades what reaches the tracking server; log to the server in "
        "MLFLOW_TRACKING_URI instead of a hard-coded sqlite:///mlflow.db")


def test_a_local_store_with_only_runs_from_before_grading_does_not_count(tmp_path):
    old = local(start_ms=STARTED_MS - 86_400_000)
    outcome = run_check("mlflow", {"require": "params", "local_store": "full"},
                        make_context(tmp_path, facts=LocalFacts(old)))
    assert outcome.status.value == "fail"
    assert outcome.message == ("no finished run of this grading to look at; the repository's local store "
                               "sqlite:///mlflow.db holds nothing of this grading either (only what was there before "
                               "it)")


def test_a_local_run_is_judged_like_a_server_run(tmp_path):
    outcome = run_check("mlflow", {"require": "metrics", "metrics": ["rmse"], "local_store": "full"},
                        make_context(tmp_path, facts=LocalFacts(local())))
    assert outcome.status.value == "fail"
    assert outcome.message.startswith("run c0ffee00c0ffee00 lacks metrics ['rmse']")
    assert outcome.message.endswith("(found in the repository's local store sqlite:///mlflow.db, not on the "
                                    "tracking server)")


def test_the_server_wins_when_it_holds_runs_of_this_grading(tmp_path):
    server = MlflowSnapshot.from_probe(probe_payload())
    outcome = run_check("mlflow", {"require": "metrics", "metrics": ["rmse"], "local_store": "full"},
                        make_context(tmp_path, facts=LocalFacts(local(), server=server)))
    assert outcome.status.value == "fail" and "local store" not in outcome.message


def test_checks_that_load_the_model_stay_on_the_server_and_say_so(tmp_path):
    outcome = run_check("mlflow", {"require": "lineage", "local_store": "full"},
                        make_context(tmp_path, facts=LocalFacts(local())))
    assert outcome.status.value == "fail"
    assert outcome.message == ("no version of 'fault-classifier' to trace (the repository's local store "
                               "sqlite:///mlflow.db holds runs of this grading, but this check loads the model from "
                               "the tracking server's registry: log and register it on the server in "
                               "MLFLOW_TRACKING_URI)")


def test_without_any_local_store_the_servers_message_is_unchanged(tmp_path):
    outcome = run_check("mlflow", {"require": "run", "local_store": "full"},
                        make_context(tmp_path, facts=LocalFacts(LocalStores())))
    assert outcome.message == "no MLflow run was created during grading"
