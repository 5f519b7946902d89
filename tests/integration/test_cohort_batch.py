"""`grader batch` on real gradings: a batch SIGKILLed mid-grading and run again with the same command grades
every submission exactly once, keeps what was finished, leaves nothing on the engine; then regrade and export."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from grader.labs.loading import load_lab, materialize_variant
from grader.paths import project_paths
from grader.sandbox.docker.containers import LABEL_PID

PATHS = project_paths()
LAB = "train-and-test"


def objects_of(client, pid: int) -> list[str]:
    label = {"label": f"{LABEL_PID}={pid}"}
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
    found += [f"network {n.name}" for n in client.networks.list(filters=label)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=label)]
    return found


def job_states(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    with sqlite3.connect(db, timeout=30) as connection:
        try:
            return dict(connection.execute("SELECT candidate, state FROM cohort_jobs").fetchall())
        except sqlite3.OperationalError:
            return {}


def submissions(folder: Path) -> Path:
    lab = load_lab(LAB, PATHS)
    shutil.copytree(lab.reference_dir, folder / "alice")
    materialize_variant(lab, "weak-model", folder / "bob")
    shutil.copytree(lab.reference_dir, folder / "carol")
    (folder / "dave").mkdir()  # an empty folder: its own error, the others are graded
    return folder


def batch_command(subs: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "grader.cli", "batch", LAB, str(subs), "--out", str(out), "--workers", "2"]


def test_a_killed_batch_resumes_grades_each_submission_once_and_leaves_nothing(docker_client, runtime_image,
                                                                               tmp_path):
    subs, out, db = submissions(tmp_path / "subs"), tmp_path / "out", tmp_path / "results.sqlite3"
    env = {**os.environ, "GRADER_DB": str(db)}
    first = subprocess.Popen(batch_command(subs, out), cwd=PATHS.root, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    # Kill it once one submission is graded and another is being graded in a container.
    while not ("graded" in job_states(db).values() and "running" in job_states(db).values()
               and any(o.startswith("container") for o in objects_of(docker_client, first.pid))):
        assert first.poll() is None, f"the batch ended before it could be killed: {first.stderr.read()}"
        assert time.monotonic() < deadline, f"the batch never reached the kill point: {job_states(db)}"
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    killed_states = job_states(db)
    assert "running" in killed_states.values()

    second = subprocess.run(batch_command(subs, out), cwd=PATHS.root, env=env, capture_output=True, text=True,
                            timeout=600)
    assert second.returncode == 1, second.stderr  # 1: dave's empty folder is an error; all others graded
    assert "interrupted; it is graded again" in second.stderr or "graded before the interruption" in second.stderr

    states = job_states(db)
    assert states == {"alice": "graded", "bob": "graded", "carol": "graded", "dave": "error"}
    with sqlite3.connect(db) as connection:
        history = connection.execute("SELECT candidate, state FROM cohort_history ORDER BY rowid").fetchall()
        runs = connection.execute("SELECT submission_source, report_json FROM runs").fetchall()
        dave_error = connection.execute("SELECT error FROM cohort_jobs WHERE candidate = 'dave'").fetchone()[0]
    assert sorted(history) == [("alice", "graded"), ("bob", "graded"), ("carol", "graded"), ("dave", "error")]
    # Exactly one stored grading per submission: what was graded before the kill was not graded again.
    assert sorted(Path(source).name for source, _ in runs) == ["alice", "bob", "carol"]
    scores = {Path(source).name: json.loads(report)["score"] for source, report in runs}
    assert scores["alice"] == scores["carol"] > scores["bob"]
    assert dave_error == "the submission folder dave/ is empty"
    assert objects_of(docker_client, first.pid) == [], "the killed batch's sandboxes were not removed"

    export = subprocess.run([sys.executable, "-m", "grader.cli", "export", batch_id(second.stderr)], cwd=PATHS.root,
                            env=env, capture_output=True, text=True, timeout=120)
    assert export.returncode == 0, export.stderr
    rows = list(csv.DictReader((out / "gradebook.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [(row["candidate"], row["state"]) for row in rows] == [
        ("alice", "graded"), ("bob", "graded"), ("carol", "graded"), ("dave", "error")]
    assert all(Path(row["report"]).is_file() for row in rows[:3])
    assert (out / "cohort.html").is_file() and (out / "junit" / "bob.xml").is_file()
    assert json.loads((out / "gradescope" / "alice" / "results.json").read_text())["score"] == scores["alice"]


def batch_id(stderr: str) -> str:
    line = next(line for line in stderr.splitlines() if line.startswith("batch "))
    return line.split()[1].rstrip(":")
