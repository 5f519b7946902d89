"""`grader batch --broker` on real servers: a Redis broker, the job store on PostgreSQL (both started on loopback
by the test) and two real `grader worker` processes. One worker is SIGKILLed mid-grading: the batch completes,
every job has exactly one report in PostgreSQL, the killed job was taken over by the other worker, and nothing is
left on the engine or the broker; a regrade through the broker adds one report; the export reads PostgreSQL."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from real_services import postgres_server, redis_server

from grader.cohort.distributed.app import QUEUE_NAME
from grader.labs.loading import load_lab, materialize_variant
from grader.paths import project_paths
from grader.sandbox.docker.containers import LABEL_PID

PATHS = project_paths()
LAB = "train-and-test"
BATCH = "distributed-test"


def objects_of(client, pid: int) -> list[str]:
    label = {"label": f"{LABEL_PID}={pid}"}
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
    found += [f"network {n.name}" for n in client.networks.list(filters=label)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=label)]
    return found


def submissions(folder: Path) -> Path:
    lab = load_lab(LAB, PATHS)
    shutil.copytree(lab.reference_dir, folder / "alice")
    materialize_variant(lab, "weak-model", folder / "bob")
    shutil.copytree(lab.reference_dir, folder / "carol")
    materialize_variant(lab, "failing-tests", folder / "dave")
    return folder


def start_worker(broker: str, store: str, out: Path, home: Path, name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GRADER_DB": str(home / f"{name}.sqlite3")}  # each worker its own local results store
    log = (home / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "grader.cli", "worker", "--broker", broker, "--store", store,
                             "--out", str(out), "--lease", "6", "--visibility-timeout", "8", "--name", name],
                            cwd=PATHS.root, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def rows(store: str, query: str) -> list[tuple]:
    engine = create_engine(store)
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(text(query))]
    finally:
        engine.dispose()


def running_owners(store: str) -> dict[str, str]:
    try:
        return dict(rows(store, f"SELECT candidate, owner FROM cohort_jobs WHERE batch_id = '{BATCH}'"
                                " AND state = 'running'"))
    except Exception:  # the dispatcher has not created the tables yet
        return {}


def test_a_worker_killed_mid_grading_loses_nothing_and_each_job_is_graded_once(docker_client, runtime_image,
                                                                              tmp_path):
    subs, out, home = submissions(tmp_path / "subs"), tmp_path / "out", tmp_path / "home"
    home.mkdir()
    with redis_server(tmp_path / "redis") as broker, postgres_server(tmp_path / "postgres") as store:
        workers = [start_worker(broker, store, out, home, name) for name in ("worker-a", "worker-b")]
        victim, survivor = workers
        dispatcher = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "batch", LAB, str(subs), "--batch", BATCH, "--out", str(out),
             "--broker", broker, "--store", store, "--visibility-timeout", "8"],
            cwd=PATHS.root, env={**os.environ, "GRADER_DB": str(home / "dispatcher.sqlite3")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Kill worker A once it grades a job with a container running.
            deadline = time.monotonic() + 300
            while not (any(f":{victim.pid}:" in (owner or "") for owner in running_owners(store).values())
                       and any(o.startswith("container") for o in objects_of(docker_client, victim.pid))):
                assert dispatcher.poll() is None, f"the batch ended before a worker could be killed: " \
                                                  f"{dispatcher.communicate()}"
                assert victim.poll() is None, (home / "worker-a.log").read_text()
                assert time.monotonic() < deadline, f"worker A never graded: {running_owners(store)}"
                time.sleep(0.2)
            killed_job = next(c for c, owner in running_owners(store).items() if f":{victim.pid}:" in owner)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=30)

            _, stderr = dispatcher.communicate(timeout=600)
            assert dispatcher.returncode == 0, stderr  # all four graded (dave fails checks, not the grading)
            regrade = subprocess.run([sys.executable, "-m", "grader.cli", "regrade", BATCH, "--candidate", "bob",
                                      "--broker", broker, "--store", store], cwd=PATHS.root, capture_output=True,
                                     text=True, timeout=300, env={**os.environ, "GRADER_DB": str(home / "r.sqlite3")})
            assert regrade.returncode == 0, regrade.stderr
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(timeout=120)
            for process in (victim, dispatcher):
                if process.poll() is None:
                    process.kill()
        survivor_log = (home / "worker-b.log").read_text()

        jobs = rows(store, f"SELECT candidate, state, attempts FROM cohort_jobs WHERE batch_id = '{BATCH}'"
                           " ORDER BY candidate")
        reports = rows(store, f"SELECT candidate, COUNT(*) FROM cohort_reports WHERE batch_id = '{BATCH}'"
                              " GROUP BY candidate ORDER BY candidate")
        rows_bob = rows(store, "SELECT attempt FROM cohort_reports WHERE candidate = 'bob' ORDER BY attempt")
        killed_reports = rows(store, f"SELECT attempt, run_id FROM cohort_reports WHERE candidate = '{killed_job}'"
                                     " ORDER BY attempt")
        export = subprocess.run([sys.executable, "-m", "grader.cli", "export", BATCH, "--store", store, "--format",
                                 "csv", "--out", str(tmp_path / "grades")], cwd=PATHS.root, capture_output=True,
                                text=True, timeout=120, env={**os.environ, "GRADER_DB": str(home / "none.sqlite3")})
        queue_left = redis.Redis.from_url(broker).llen(QUEUE_NAME)
        unacked_left = redis.Redis.from_url(broker).hlen("unacked")

    print(stderr)
    # one report per job, and bob's regrade as its own attempt beside the first
    assert reports == [("alice", 1), ("bob", 2), ("carol", 1), ("dave", 1)], (jobs, stderr, survivor_log)
    first_bob = 2 if killed_job == "bob" else 1  # a killed attempt has no report; its number is not reused
    assert rows_bob == [(first_bob,), (first_bob + 1,)]
    states = {candidate: state for candidate, state, _ in jobs}
    assert set(states.values()) <= {"graded", "error"} and "running" not in states.values()
    assert killed_reports[0][0] == 2, (killed_reports, survivor_log)  # attempt 1 died with its worker: taken over
    assert (out / killed_job / killed_reports[0][1] / "report.json").is_file()
    assert "another one grades it again" in stderr
    assert objects_of(docker_client, victim.pid) == [] and objects_of(docker_client, survivor.pid) == []
    assert (queue_left, unacked_left) == (0, 0)
    # the grades come from the reports in PostgreSQL, not from a worker's local store
    assert export.returncode == 0, export.stderr
    with (tmp_path / "grades" / "gradebook.csv").open(encoding="utf-8-sig", newline="") as handle:
        gradebook = {row["candidate"]: row for row in csv.DictReader(handle)}
    assert sorted(gradebook) == ["alice", "bob", "carol", "dave"]
    assert all(row["score"] not in ("", None) for row in gradebook.values()), gradebook
    assert float(gradebook["alice"]["score"]) > float(gradebook["dave"]["score"])
