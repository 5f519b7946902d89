"""The results store: save/get/list, upsert by run id, schema versioning, concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.errors import BadInputError, InfrastructureError
from grader.models import CheckResult, Report, Status, SubmissionInfo
from grader.results.sqlite_db import switch_to_wal
from grader.results.store import SCHEMA_VERSION, ResultStore, StoredRun

ReportFactory = Callable[..., Report]
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_report() -> ReportFactory:
    """Builds a small graded report; keyword arguments override its fields."""

    def build(run_id: str = "run-1", **overrides: Any) -> Report:
        fields: dict[str, Any] = {
            "grader_version": "0.1.0",
            "run_id": run_id,
            "lab": {"id": "capstone", "version": "2", "title": "Capstone"},
            "rubric": {"id": "capstone", "version": "1", "digest": "sha256:r"},
            "submission": SubmissionInfo(
                source="/subs/alice", kind="directory", digest="sha256:alice", files=3, bytes=100
            ),
            "score": 3.0,
            "max_score": 4.0,
            "pass_mark": 0.5,
            "passed": True,
            "started_at": "2024-05-01T10:00:00+00:00",
            "finished_at": "2024-05-01T10:01:00+00:00",
            "checks": [
                CheckResult(
                    id="readme",
                    title="README exists",
                    section="basics",
                    type="file_exists",
                    status=Status.passed,
                    points=3.0,
                    max_points=4.0,
                    message="found",
                    evidence={"path": "README.md"},
                )
            ],
        }
        return Report(**{**fields, **overrides})

    return build


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    with ResultStore(tmp_path / "db" / "results.sqlite3") as opened:
        yield opened


def test_save_then_get_returns_the_same_report(store: ResultStore, make_report: ReportFactory) -> None:
    report = make_report()
    store.save(report)

    assert store.get("run-1") == report
    assert store.get("no-such-run") is None


def test_saving_the_same_run_again_replaces_it(store: ResultStore, make_report: ReportFactory) -> None:
    store.save(make_report(score=1.0, passed=False))
    store.save(make_report(score=4.0, passed=True))

    runs = store.list()
    assert len(runs) == 1
    assert (runs[0].score, runs[0].passed) == (4.0, True)
    stored = store.get("run-1")
    assert stored is not None
    assert stored.score == 4.0


def test_list_gives_summaries_newest_first(store: ResultStore, make_report: ReportFactory) -> None:
    store.save(make_report("old", started_at="2024-05-01T09:00:00+00:00"))
    store.save(make_report("new", started_at="2024-05-01T11:00:00+00:00"))
    store.save(make_report("other-lab", lab={"id": "intro", "version": "1"}, submission=None))

    assert [r.run_id for r in store.list(lab_id="capstone")] == ["new", "old"]
    assert [r.run_id for r in store.list(lab_id="capstone", limit=1)] == ["new"]
    assert store.list(lab_id="missing") == []
    assert store.list(lab_id="intro") == [
        StoredRun(
            run_id="other-lab",
            lab_id="intro",
            lab_version="1",
            submission_source=None,
            submission_digest=None,
            score=3.0,
            max_score=4.0,
            passed=True,
            outcome="graded",
            started_at="2024-05-01T10:00:00+00:00",
            finished_at="2024-05-01T10:01:00+00:00",
        )
    ]
    assert len(store.list()) == 3


def test_list_refuses_a_limit_below_one(store: ResultStore) -> None:
    with pytest.raises(BadInputError, match="limit"):
        store.list(limit=0)


def test_store_uses_wal_and_records_its_schema_version(tmp_path: Path, make_report: ReportFactory) -> None:
    path = tmp_path / "results.sqlite3"
    with ResultStore(path) as store:
        store.save(make_report())
    with ResultStore(path) as reopened:
        assert reopened.get("run-1") == make_report()

    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()


def test_store_refuses_a_database_from_a_newer_grader(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()

    with pytest.raises(InfrastructureError, match="newer than this grader"):
        ResultStore(path)


def test_closed_store_cannot_be_used(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "results.sqlite3") as store:
        pass
    with pytest.raises(sqlite3.ProgrammingError):
        store.get("run-1")


def test_two_threads_saving_at_once_lose_nothing(tmp_path: Path, make_report: ReportFactory) -> None:
    path = tmp_path / "results.sqlite3"
    errors: list[BaseException] = []

    def save_many(prefix: str) -> None:
        try:
            with ResultStore(path) as store:
                for n in range(30):
                    store.save(make_report(f"{prefix}-{n}"))
        except BaseException as exc:  # surfaced by the assertion below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=save_many, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with ResultStore(path) as store:
        assert len(store.list(limit=1000)) == 60


_SAVE_IN_CHILD = """
import sys
from pathlib import Path
from grader.models import Report
from grader.results.store import ResultStore

db, report_file, prefix = sys.argv[1:]
template = Report.model_validate_json(Path(report_file).read_text())
with ResultStore(Path(db)) as store:
    for n in range(40):
        store.save(template.model_copy(update={"run_id": f"{prefix}-{n}"}))
"""


def test_two_processes_creating_and_saving_at_once_lose_nothing(
    tmp_path: Path, make_report: ReportFactory
) -> None:
    # Both start on a database that does not exist yet, so they also race to create the schema.
    path = tmp_path / "results.sqlite3"
    report_file = tmp_path / "report.json"
    report_file.write_text(make_report().model_dump_json())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVE_IN_CHILD, str(path), str(report_file), prefix],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("p", "q")
    ]
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr

    with ResultStore(path) as store:
        runs = store.list(limit=1000)
    assert len(runs) == 80
    assert {r.run_id.split("-")[0] for r in runs} == {"p", "q"}


def _save_after_barrier(db: str, report_json: str, prefix: str, barrier: Any, count: int) -> None:
    template = Report.model_validate_json(report_json)
    barrier.wait()
    with ResultStore(Path(db)) as store:
        for n in range(count):
            store.save(template.model_copy(update={"run_id": f"{prefix}-{n}"}))


def test_four_processes_opening_and_saving_at_once_lose_nothing(
    tmp_path: Path, make_report: ReportFactory
) -> None:
    # A barrier lines the four up so they open a database that does not exist yet in the same instant,
    # as the workers of a batch do: all of them race for the schema and for the switch to WAL.
    workers = 4
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers)
    path = tmp_path / "results.sqlite3"
    report_json = make_report().model_dump_json()
    processes = [
        context.Process(target=_save_after_barrier, args=(str(path), report_json, f"w{i}", barrier, 25))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0

    with ResultStore(path) as store:
        runs = store.list(limit=1000)
    assert len(runs) == workers * 25
    assert {r.run_id.split("-")[0] for r in runs} == {f"w{i}" for i in range(workers)}


class _LockedThenFree:
    """An ``execute`` that reports the database locked a number of times, then switches it to WAL."""

    def __init__(self, locked_times: int) -> None:
        self.locked_times = locked_times
        self.calls = 0

    def __call__(self, statement: str) -> Any:
        self.calls += 1
        if self.calls <= self.locked_times:
            busy = sqlite3.OperationalError("database is locked")
            busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise busy
        return _OneRow("wal")


class _OneRow:
    def __init__(self, value: str) -> None:
        self.value = value

    def fetchone(self) -> tuple[str]:
        return (self.value,)


def test_wal_switch_retries_a_locked_database_with_growing_pauses(tmp_path: Path) -> None:
    execute = _LockedThenFree(locked_times=4)
    pauses: list[float] = []

    switch_to_wal(execute, tmp_path / "r.sqlite3", clock=lambda: sum(pauses), sleep=pauses.append)

    assert execute.calls == 5
    assert len(pauses) == 4
    assert pauses == sorted(pauses) and pauses[0] < pauses[-1]


def test_wal_switch_gives_up_after_the_timeout_naming_the_store(tmp_path: Path) -> None:
    pauses: list[float] = []
    with pytest.raises(InfrastructureError, match=r"r\.sqlite3 stayed locked .* for 2 s"):
        switch_to_wal(
            _LockedThenFree(locked_times=10_000),
            tmp_path / "r.sqlite3",
            timeout_s=2.0,
            clock=lambda: sum(pauses),
            sleep=pauses.append,
        )
    assert sum(pauses) <= 2.0


def test_wal_switch_refuses_a_database_that_cannot_use_wal(tmp_path: Path) -> None:
    in_memory = sqlite3.connect(":memory:")
    with pytest.raises(InfrastructureError, match=r"cannot use WAL mode .*'memory'"):
        switch_to_wal(in_memory.execute, tmp_path / "r.sqlite3")
    in_memory.close()
