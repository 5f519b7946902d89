"""The durable job queue of cohort gradings, in the results store.

A job is one candidate of one batch: ``queued → running → graded | error``, with how many times it was
claimed. Every finished try is kept in the job's history (the newest counts), so a regrade never loses an
earlier report. The queue lives in the same SQLite file as the graded runs (its own ``cohort_*`` tables,
created if missing), opened like ``ResultStore``: busy timeout first, WAL, short ``BEGIN IMMEDIATE`` writes.

``JobQueue`` is the small interface the batch runner needs; ``SqliteJobQueue`` is the embedded backend. A
distributed backend (another database, a broker) meets the same protocol.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from grader.cohort.jobs import (
    FINISHED,
    Batch,
    HistoryEntry,
    Job,
    JobInput,
    JobQueue,
    JobState,
    owner_is_gone,
    this_process,
)
from grader.errors import InfrastructureError
from grader.results.sqlite_db import open_database, write_transaction

__all__ = ["FINISHED", "Batch", "HistoryEntry", "Job", "JobInput", "JobQueue", "JobState", "SqliteJobQueue",
           "owner_is_gone", "this_process"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cohort_batches (
        batch_id   TEXT PRIMARY KEY,
        lab        TEXT NOT NULL,
        created_at TEXT NOT NULL,
        settings   TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS cohort_jobs (
        batch_id    TEXT NOT NULL,
        candidate   TEXT NOT NULL,
        source      TEXT NOT NULL,
        ref         TEXT,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        run_id      TEXT,
        owner       TEXT,
        phase       TEXT,
        error       TEXT,
        report_dir  TEXT,
        updated_at  TEXT NOT NULL,
        position    INTEGER NOT NULL,
        PRIMARY KEY (batch_id, candidate)
    )""",
    """CREATE TABLE IF NOT EXISTS cohort_history (
        batch_id    TEXT NOT NULL,
        candidate   TEXT NOT NULL,
        run_id      TEXT,
        state       TEXT NOT NULL,
        error       TEXT,
        report_dir  TEXT,
        finished_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS cohort_history_by_job ON cohort_history (batch_id, candidate)",
)
_JOB_COLUMNS = "batch_id, candidate, source, ref, state, attempts, run_id, owner, phase, error, report_dir, updated_at"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqliteJobQueue:
    """The job queue in a SQLite file (normally the results store, ``ProjectPaths.results_db``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()  # one connection shared by a batch's worker threads
        try:
            self._db = open_database(path, "the job queue in", shared_between_threads=True)
            with self._write() as db:
                for statement in _SCHEMA:
                    db.execute(statement)
        except sqlite3.Error as exc:
            raise InfrastructureError(f"cannot open the job queue in {path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, write_transaction(self._db) as db:
            yield db

    def _read(self, query: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(query, params).fetchall()

    def create_batch(self, batch_id: str, lab: str, settings: dict[str, str]) -> Batch:
        """The batch ``batch_id``, created with ``lab`` and ``settings`` unless it exists (then it is kept)."""
        with self._write() as db:
            db.execute("INSERT INTO cohort_batches VALUES (?, ?, ?, ?) ON CONFLICT (batch_id) DO NOTHING",
                       (batch_id, lab, _now(), json.dumps(settings, sort_keys=True)))
        found = self.batch(batch_id)
        assert found is not None
        return found

    def batch(self, batch_id: str) -> Batch | None:
        """The batch with this id, or None."""
        rows = self._read("SELECT * FROM cohort_batches WHERE batch_id = ?", (batch_id,))
        if not rows:
            return None
        row = rows[0]
        return Batch(row["batch_id"], row["lab"], row["created_at"], json.loads(row["settings"]))

    def batches(self) -> list[Batch]:
        """Every batch, newest first."""
        rows = self._read("SELECT batch_id FROM cohort_batches ORDER BY created_at DESC, rowid DESC")
        return [batch for row in rows if (batch := self.batch(row[0])) is not None]

    def enqueue(self, batch_id: str, inputs: Sequence[JobInput]) -> list[str]:
        """Add jobs for candidates the batch does not have yet. A candidate it has keeps its job, unless that
        job never graded and its input changed (a fixed roster row): then it is queued again with the new
        input. Returns notes for candidates whose input changed after they were graded."""
        notes: list[str] = []
        with self._write() as db:
            position = db.execute("SELECT COALESCE(MAX(position), 0) FROM cohort_jobs WHERE batch_id = ?",
                                  (batch_id,)).fetchone()[0]
            for item in inputs:
                row = db.execute("SELECT * FROM cohort_jobs WHERE batch_id = ? AND candidate = ?",
                                 (batch_id, item.candidate)).fetchone()
                state, error = ("error", item.problem) if item.problem else ("queued", None)
                if row is None:
                    position += 1
                    db.execute(
                        "INSERT INTO cohort_jobs (batch_id, candidate, source, ref, state, error, updated_at,"
                        " position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (batch_id, item.candidate, item.source, item.ref, state, error, _now(), position))
                    if item.problem:
                        _record(db, batch_id, item.candidate, None, "error", item.problem, None)
                    continue
                if row["run_id"] is None and row["state"] != "running":  # never graded: take the fixed input
                    if (row["source"], row["ref"], row["state"], row["error"]) != (item.source, item.ref, state, error):
                        db.execute("UPDATE cohort_jobs SET source = ?, ref = ?, state = ?, error = ?, updated_at = ?"
                                   " WHERE batch_id = ? AND candidate = ?",
                                   (item.source, item.ref, state, error, _now(), batch_id, item.candidate))
                    continue
                if (row["source"], row["ref"]) != (item.source, item.ref):
                    notes.append(f"{item.candidate}: the input changed since it was graded; "
                                 f"`grader regrade {batch_id} --candidate {item.candidate}` grades the new one")
        return notes

    def claim(self, batch_id: str, owner: str, run_id: str) -> Job | None:
        """Take the next queued job of the batch for ``owner``, with the run id its grading will use; None when
        nothing is queued."""
        with self._write() as db:
            row = db.execute("SELECT candidate FROM cohort_jobs WHERE batch_id = ? AND state = 'queued'"
                             " ORDER BY position LIMIT 1", (batch_id,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE cohort_jobs SET state = 'running', attempts = attempts + 1, run_id = ?, owner = ?,"
                       " phase = 'queued', error = NULL, updated_at = ? WHERE batch_id = ? AND candidate = ?",
                       (run_id, owner, _now(), batch_id, row[0]))
        return self._job(batch_id, row[0])

    def set_phase(self, batch_id: str, candidate: str, phase: str) -> None:
        """Record the phase a running job is in (for progress displays in other processes)."""
        with self._write() as db:
            db.execute("UPDATE cohort_jobs SET phase = ?, updated_at = ? WHERE batch_id = ? AND candidate = ?",
                       (phase, _now(), batch_id, candidate))

    def finish(self, batch_id: str, candidate: str, state: JobState, error: str | None,
               report_dir: str | None) -> None:
        """End a job as ``graded`` or ``error`` and add the try (its current run id) to its history."""
        with self._write() as db:
            run_id = db.execute("SELECT run_id FROM cohort_jobs WHERE batch_id = ? AND candidate = ?",
                                (batch_id, candidate)).fetchone()[0]
            db.execute("UPDATE cohort_jobs SET state = ?, error = ?, report_dir = ?, owner = NULL, phase = NULL,"
                       " updated_at = ? WHERE batch_id = ? AND candidate = ?",
                       (state, error, report_dir, _now(), batch_id, candidate))
            _record(db, batch_id, candidate, run_id, state, error, report_dir)

    def requeue(self, batch_id: str, candidates: Sequence[str]) -> int:
        """Queue these candidates' finished jobs again (a regrade); returns how many were queued."""
        count = 0
        with self._write() as db:
            for candidate in candidates:
                cursor = db.execute(
                    "UPDATE cohort_jobs SET state = 'queued', attempts = 0, error = NULL, updated_at = ?"
                    " WHERE batch_id = ? AND candidate = ? AND state IN ('graded', 'error')",
                    (_now(), batch_id, candidate))
                count += cursor.rowcount
        return count

    def abandoned(self, batch_id: str) -> list[Job]:
        """Running jobs whose process is gone (a grader killed mid-grading)."""
        return [job for job in self.jobs(batch_id) if job.state == "running" and owner_is_gone(job.owner)]

    def release(self, batch_id: str, candidate: str, max_attempts: int) -> JobState:
        """Put an abandoned job back in the queue, or end it in error once it was claimed ``max_attempts``
        times (a submission that keeps bringing the grader down); returns the new state."""
        with self._write() as db:
            attempts, run_id = db.execute("SELECT attempts, run_id FROM cohort_jobs WHERE batch_id = ? AND"
                                          " candidate = ?", (batch_id, candidate)).fetchone()
            if attempts >= max_attempts:
                error = f"the grader stopped {attempts} times while grading this submission; not tried again"
                db.execute("UPDATE cohort_jobs SET state = 'error', error = ?, owner = NULL, phase = NULL,"
                           " updated_at = ? WHERE batch_id = ? AND candidate = ?", (error, _now(), batch_id, candidate))
                _record(db, batch_id, candidate, run_id, "error", error, None)
                return "error"
            db.execute("UPDATE cohort_jobs SET state = 'queued', owner = NULL, phase = NULL, updated_at = ?"
                       " WHERE batch_id = ? AND candidate = ?", (_now(), batch_id, candidate))
        return "queued"

    def jobs(self, batch_id: str) -> list[Job]:
        """Every job of the batch, in the order they were added."""
        rows = self._read(f"SELECT {_JOB_COLUMNS} FROM cohort_jobs WHERE batch_id = ? ORDER BY position",
                          (batch_id,))
        return [Job(**dict(row)) for row in rows]

    def history(self, batch_id: str) -> list[HistoryEntry]:
        """Every finished try of the batch's jobs, oldest first."""
        rows = self._read("SELECT candidate, run_id, state, error, report_dir, finished_at FROM cohort_history"
                          " WHERE batch_id = ? ORDER BY rowid", (batch_id,))
        return [HistoryEntry(**dict(row)) for row in rows]

    def _job(self, batch_id: str, candidate: str) -> Job:
        rows = self._read(f"SELECT {_JOB_COLUMNS} FROM cohort_jobs WHERE batch_id = ? AND candidate = ?",
                          (batch_id, candidate))
        return Job(**dict(rows[0]))


def _record(db: sqlite3.Connection, batch_id: str, candidate: str, run_id: str | None, state: str,
            error: str | None, report_dir: str | None) -> None:
    db.execute("INSERT INTO cohort_history VALUES (?, ?, ?, ?, ?, ?, ?)",
               (batch_id, candidate, run_id, state, error, report_dir, _now()))
