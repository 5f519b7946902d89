"""Fixtures for cohort tests: a results store in the test's folder and the unit lab graded on a fake engine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent
if str(UNIT) not in sys.path:
    sys.path.insert(0, str(UNIT))

from grader.cohort.queue import SqliteJobQueue  # noqa: E402


@pytest.fixture
def results_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh results store (GRADER_DB) for this test."""
    db = tmp_path / "results.sqlite3"
    monkeypatch.setenv("GRADER_DB", str(db))
    return db


@pytest.fixture
def queue(results_db: Path) -> Iterator[SqliteJobQueue]:
    job_queue = SqliteJobQueue(results_db)
    yield job_queue
    job_queue.close()
