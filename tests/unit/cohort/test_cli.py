"""The cohort commands end to end on the fake engine (registered in the engine table): batch, the same command
again, regrade, export, and the messages and exit codes of bad input."""

from __future__ import annotations

import csv
import importlib
import shutil
from pathlib import Path

import pytest
from fakes import FakeEngine, passing_script, write_lab  # type: ignore[import-not-found]

from grader.cli import main
from grader.cohort.queue import SqliteJobQueue
from grader.sandbox import ENGINES


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> list[FakeEngine]:
    made: list[FakeEngine] = []

    def engine_for(paths: object, runtime: str | None = None) -> FakeEngine:
        made.append(FakeEngine(passing_script()))
        return made[-1]

    monkeypatch.setitem(ENGINES, "fake", "fakes.engine:engine_for")
    monkeypatch.setattr(importlib.import_module("fakes.engine"), "engine_for", engine_for)
    return made


def cohort(tmp_path: Path) -> tuple[Path, Path]:
    lab, reference = write_lab(tmp_path / "lab")
    for name in ("alice", "bob"):
        shutil.copytree(reference, tmp_path / "subs" / name)
    (tmp_path / "subs" / "empty").mkdir()
    return lab, tmp_path / "subs"


def batch_id(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("batch ")).split()[1].rstrip(":")


def test_batch_then_the_same_command_then_regrade_then_export(tmp_path, results_db, fake_backend, capsys):
    lab, subs = cohort(tmp_path)
    command = ["batch", str(lab), str(subs), "--backend", "fake", "--out", str(tmp_path / "out"), "--workers", "2"]
    assert main(command) == 1  # the empty folder is an error; alice and bob are graded
    first = capsys.readouterr().err
    batch = batch_id(first)
    assert "2 graded, 1 error(s) of 3" in first and "the submission folder empty/ is empty" in first

    assert main(command) == 1
    again = capsys.readouterr().err
    assert "3 of 3 already finished" in again and batch_id(again) == batch
    assert sum(len(engine.calls.matching("sandbox ")) for engine in fake_backend) == 2  # nothing graded twice

    assert main(["regrade", batch, "--candidate", "alice", "--backend", "fake"]) == 1
    assert "1 job(s) queued to be graded again" in capsys.readouterr().err
    queue = SqliteJobQueue(results_db)
    history = [(h.candidate, h.run_id) for h in queue.history(batch) if h.candidate == "alice"]
    newest_alice = next(job for job in queue.jobs(batch) if job.candidate == "alice").run_id
    queue.close()
    assert len(history) == 2 and history[-1][1] == newest_alice

    assert main(["export", batch, "--out", str(tmp_path / "grades")]) == 0
    rows = list(csv.DictReader((tmp_path / "grades" / "gradebook.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [(row["candidate"], row["state"], row["score"]) for row in rows] == [
        ("alice", "graded", "10"), ("bob", "graded", "10"), ("empty", "error", "")]
    assert newest_alice in rows[0]["report"]
    for name in ("cohort.html", "junit/alice.xml", "gradescope/bob/results.json"):
        assert (tmp_path / "grades" / name).is_file()


def test_bad_input_is_a_clear_message_and_exit_code_2(tmp_path, results_db, fake_backend, capsys):
    lab, subs = cohort(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("name,link\nalice,x\n")
    assert main(["batch", str(lab), "--roster", str(roster), "--backend", "fake"]) == 2
    assert "has no repository column (its columns: name, link)" in capsys.readouterr().err
    assert main(["batch", str(lab), "--backend", "fake"]) == 2
    assert "nothing to grade" in capsys.readouterr().err
    assert main(["export", "no-such-batch"]) == 2
    assert "no batch named 'no-such-batch'" in capsys.readouterr().err
    assert main(["batch", str(lab), str(subs), "--backend", "fake", "--deadline", "soon"]) == 2
    assert "not an ISO 8601 date" in capsys.readouterr().err
    assert main(["batch", str(lab), str(subs), "--backend", "fake", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_regrade_with_a_lab_version_the_lab_on_disk_is_not_is_refused(tmp_path, results_db, fake_backend, capsys):
    lab, subs = cohort(tmp_path)
    main(["batch", str(lab), str(subs), "--backend", "fake"])
    batch = batch_id(capsys.readouterr().err)
    assert main(["regrade", batch, "--lab-version", "9.9", "--backend", "fake"]) == 2
    assert "is version 1, not 9.9" in capsys.readouterr().err
