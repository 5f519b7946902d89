"""The cohort tables in a SQL database: the same batches, jobs and history as the SQLite queue, a job's lease
(``heartbeat_at``), and ``cohort_reports``, one row per finished attempt; its primary key (batch, candidate,
attempt) is what makes "one report per attempt" a rule of the database, not of the code."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text

METADATA = MetaData()

BATCHES = Table(
    "cohort_batches", METADATA,
    Column("batch_id", String(200), primary_key=True),
    Column("lab", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("settings", Text, nullable=False),
)
JOBS = Table(
    "cohort_jobs", METADATA,
    Column("batch_id", String(200), nullable=False),
    Column("candidate", String(400), nullable=False),
    Column("source", Text, nullable=False),
    Column("ref", Text),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),  # claims since queued (a regrade starts again at 0)
    Column("attempt_no", Integer, nullable=False, default=0),  # the current attempt's number, never reset
    Column("run_id", String(64)),
    Column("owner", Text),
    Column("phase", Text),
    Column("error", Text),
    Column("report_dir", Text),
    Column("updated_at", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Column("heartbeat_at", Float),  # epoch seconds of the running attempt's last sign of life
    PrimaryKeyConstraint("batch_id", "candidate"),
)
HISTORY = Table(
    "cohort_history", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(200), nullable=False),
    Column("candidate", String(400), nullable=False),
    Column("run_id", String(64)),
    Column("state", String(16), nullable=False),
    Column("error", Text),
    Column("report_dir", Text),
    Column("finished_at", String(40), nullable=False),
)
REPORTS = Table(
    "cohort_reports", METADATA,
    Column("batch_id", String(200), nullable=False),
    Column("candidate", String(400), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("run_id", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("report", Text),  # the report's JSON (``Report``), so exports need no worker's local store
    Column("finished_at", String(40), nullable=False),
    PrimaryKeyConstraint("batch_id", "candidate", "attempt"),
)
