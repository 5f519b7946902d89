"""The review tables, in the results store's SQLite file beside its ``runs`` table.

One append-only table, ``review_changes``, is the audit log and the only record of a review: the current
points of a check are its latest entry, a release is an entry too. Nothing here writes to ``runs``, so the
automatic result is never lost. The tables carry their own schema version (``review_schema``) so they
evolve apart from the results store's ``PRAGMA user_version``.

Like :class:`~grader.results.store.ResultStore`, a ``ReviewStore`` holds one connection for one thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from grader.errors import InfrastructureError
from grader.results.sqlite_db import SqliteFile, open_database
from grader.review.model import Action, Review, ReviewChange
from grader.review.rules import ReviewRefused

REVIEW_SCHEMA_VERSION = 1
# _MIGRATIONS[n] takes the review tables from version n to n + 1. Append, never edit a shipped entry.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: (
        """
        CREATE TABLE review_changes (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id     TEXT NOT NULL,
            action     TEXT NOT NULL CHECK (action IN ('score', 'override', 'release')),
            check_id   TEXT NOT NULL DEFAULT '',
            reviewer   TEXT NOT NULL,
            at         TEXT NOT NULL,
            old_points REAL,
            new_points REAL,
            text       TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX review_changes_by_run ON review_changes (run_id, seq)",
        # At most one release per run, enforced by the database even for two reviewers releasing at once.
        "CREATE UNIQUE INDEX one_release_per_run ON review_changes (run_id) WHERE action = 'release'",
    ),
}
_COLUMNS = "run_id, action, check_id, reviewer, at, old_points, new_points, text"


class ReviewStore(SqliteFile):
    """Reviews of graded runs in the SQLite database at ``path`` (normally the results store's file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_database(path, "the results store")
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def review(self, run_id: str) -> Review:
        """The review of one run (empty when nobody reviewed it)."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM review_changes WHERE run_id = ? ORDER BY seq",
                                (run_id,)).fetchall()
        return Review(run_id, tuple(_change(row) for row in rows))

    def reviews(self, run_ids: Iterable[str]) -> dict[str, Review]:
        """The reviews of many runs at once, by run id (every id present, empty when not reviewed)."""
        wanted = list(dict.fromkeys(run_ids))
        found: dict[str, list[ReviewChange]] = {run_id: [] for run_id in wanted}
        for row in self._db.execute(f"SELECT {_COLUMNS} FROM review_changes ORDER BY seq"):
            if row["run_id"] in found:
                found[row["run_id"]].append(_change(row))
        return {run_id: Review(run_id, tuple(changes)) for run_id, changes in found.items()}

    def append(self, change: ReviewChange, *, expected_entries: int) -> None:
        """Add ``change`` to the audit log, if the run's log still has ``expected_entries`` entries: a
        reviewer's change was decided on what they saw, so one made meanwhile by someone else refuses it."""
        with self._write() as db:
            count = db.execute("SELECT COUNT(*) FROM review_changes WHERE run_id = ?", (change.run_id,)).fetchone()[0]
            if count != expected_entries:
                raise StaleReview(change.run_id)
            db.execute(
                f"INSERT INTO review_changes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (change.run_id, change.action.value, change.check_id, change.reviewer, change.at,
                 change.old_points, change.new_points, change.text),
            )

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute("CREATE TABLE IF NOT EXISTS review_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM review_schema").fetchone()
            version = row[0] if row else 0
            if version > REVIEW_SCHEMA_VERSION:
                raise InfrastructureError(
                    f"the review tables in {self.path} have schema version {version}, newer than this grader's "
                    f"{REVIEW_SCHEMA_VERSION}: upgrade the grader"
                )
            for step in range(version, REVIEW_SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
            db.execute("DELETE FROM review_schema")
            db.execute("INSERT INTO review_schema (version) VALUES (?)", (max(version, REVIEW_SCHEMA_VERSION),))


class StaleReview(ReviewRefused):
    """Someone else changed the review between the reviewer's reading it and this change."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"the review of {run_id} changed since you opened it: reload the page and try again")


def _change(row: sqlite3.Row) -> ReviewChange:
    return ReviewChange(run_id=row["run_id"], action=Action(row["action"]), reviewer=row["reviewer"],
                        at=row["at"], check_id=row["check_id"], old_points=row["old_points"],
                        new_points=row["new_points"], text=row["text"])
