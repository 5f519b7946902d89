"""The embedded results store: every graded run's summary and full report in one SQLite file.

SQLite because it needs no server and is safe for many processes grading on one machine at once: the
busy timeout (``BUSY_TIMEOUT_S``) is the first thing set on a connection, so every later statement waits
for a lock instead of failing; the database runs in WAL mode (readers never block the writer); writers
take the lock up front (``BEGIN IMMEDIATE``) and hold it for one statement. The switch to WAL is the one
step SQLite refuses at once instead of waiting (two connections holding a read lock and both wanting the
exclusive one would deadlock), so it is retried with backoff until the same timeout.

The schema's version is ``PRAGMA user_version``; :data:`MIGRATIONS` lists the statements that bring a
database from each version to the next.

A ``ResultStore`` holds one connection, which belongs to the thread that opened the store: give each
thread or process its own store.
"""

from __future__ import annotations

import builtins
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from grader.errors import BadInputError, InfrastructureError
from grader.models import Report
from grader.results.sqlite_db import SqliteFile, open_database

SCHEMA_VERSION = 1
# MIGRATIONS[n] takes a database from user_version n to n + 1. Append, never edit a shipped entry.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: (
        """
        CREATE TABLE runs (
            run_id            TEXT PRIMARY KEY,
            lab_id            TEXT NOT NULL,
            lab_version       TEXT NOT NULL,
            submission_source TEXT,
            submission_digest TEXT,
            score             REAL NOT NULL,
            max_score         REAL NOT NULL,
            passed            INTEGER NOT NULL,
            outcome           TEXT NOT NULL,
            started_at        TEXT NOT NULL,
            finished_at       TEXT NOT NULL,
            report_json       TEXT NOT NULL
        )
        """,
        "CREATE INDEX runs_by_lab ON runs (lab_id, started_at)",
        "CREATE INDEX runs_by_start ON runs (started_at)",
    ),
}
_SUMMARY_COLUMNS = (
    "run_id, lab_id, lab_version, submission_source, submission_digest,"
    " score, max_score, passed, outcome, started_at, finished_at"
)
_UPSERT = f"""
    INSERT INTO runs ({_SUMMARY_COLUMNS}, report_json)
    VALUES (:run_id, :lab_id, :lab_version, :submission_source, :submission_digest,
            :score, :max_score, :passed, :outcome, :started_at, :finished_at, :report_json)
    ON CONFLICT (run_id) DO UPDATE SET
        lab_id = excluded.lab_id, lab_version = excluded.lab_version,
        submission_source = excluded.submission_source, submission_digest = excluded.submission_digest,
        score = excluded.score, max_score = excluded.max_score, passed = excluded.passed,
        outcome = excluded.outcome, started_at = excluded.started_at, finished_at = excluded.finished_at,
        report_json = excluded.report_json
"""


@dataclass(frozen=True)
class StoredRun:
    """The summary of one stored run, without its full report."""

    run_id: str
    lab_id: str
    lab_version: str
    submission_source: str | None
    submission_digest: str | None
    score: float
    max_score: float
    passed: bool
    outcome: str
    started_at: str
    finished_at: str


class ResultStore(SqliteFile):
    """Graded runs in a SQLite database at ``path`` (created, with its parent directory, when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_database(path, "the results store")
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def save(self, report: Report) -> None:
        """Store ``report``, replacing any earlier report with the same ``run_id``."""
        submission = report.submission
        row = {
            "run_id": report.run_id,
            "lab_id": report.lab.get("id", ""),
            "lab_version": report.lab.get("version", ""),
            "submission_source": submission.source if submission else None,
            "submission_digest": submission.digest if submission else None,
            "score": report.score,
            "max_score": report.max_score,
            "passed": int(report.passed),
            "outcome": report.outcome,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "report_json": report.model_dump_json(),
        }
        with self._write() as db:
            db.execute(_UPSERT, row)

    def get(self, run_id: str) -> Report | None:
        """The full report of one run, or ``None`` when no run has that id."""
        row = self._db.execute("SELECT report_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return Report.model_validate_json(row[0]) if row else None

    def list(self, lab_id: str | None = None, limit: int = 50) -> builtins.list[StoredRun]:
        """Summaries of the newest runs first, of one lab or of all labs."""
        if limit < 1:
            raise BadInputError(f"limit must be at least 1, not {limit}")
        where, params = ("WHERE lab_id = ?", [lab_id]) if lab_id is not None else ("", [])
        # rowid breaks ties between runs started in the same instant: the later save comes first.
        query = f"SELECT {_SUMMARY_COLUMNS} FROM runs {where} ORDER BY started_at DESC, rowid DESC LIMIT ?"
        rows = self._db.execute(query, [*params, limit]).fetchall()
        return [_stored_run(row) for row in rows]

    def _migrate(self) -> None:
        # Read the version inside the write transaction so two processes opening a new database at once
        # cannot both create the schema.
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InfrastructureError(
                    f"the results store {self.path} has schema version {version}, newer than this grader's "
                    f"{SCHEMA_VERSION}: upgrade the grader"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
                # PRAGMA takes no parameters; the value is our own integer.
                db.execute(f"PRAGMA user_version = {step + 1}")


def _stored_run(row: sqlite3.Row) -> StoredRun:
    # SQLite has no boolean type: ``passed`` is stored as 0 or 1.
    return StoredRun(**{**dict(row), "passed": bool(row["passed"])})
