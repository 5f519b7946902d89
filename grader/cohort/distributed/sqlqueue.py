"""The cohort job queue in any SQLAlchemy database (PostgreSQL for a cluster, SQLite for tests and one host).

Same tables and states as ``SqliteJobQueue`` plus what several machines need:

- a *lease*: a running job's ``heartbeat_at`` is refreshed by its worker; a job whose lease ran out belongs to a
  worker that died (on any host) and may be taken over;
- ``claim_attempt``: the idempotent claim a delivered task makes, in one transaction holding the job's row lock.
  A finished job is not graded again (a redelivered task whose report already landed), a job with a live lease
  is left to its worker, anything else starts a new attempt with a fresh run id;
- ``finish_attempt``: the report, the job's end and its history entry written in one transaction, and only by
  the attempt that is still current. ``cohort_reports`` has the primary key (batch, candidate, attempt): the
  database itself refuses a second report for one attempt (``tables``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, create_engine, event, func, insert, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, ProgrammingError, SQLAlchemyError

from grader.cohort.distributed.tables import BATCHES, HISTORY, JOBS, METADATA, REPORTS
from grader.cohort.jobs import FINISHED, Batch, HistoryEntry, Job, JobInput, JobState, owner_is_gone
from grader.errors import BadInputError, InfrastructureError
from grader.models import Report

LEASE_S = 60.0  # a running job whose worker has not been heard of for this long is taken over
ClaimKind = Literal["grade", "finished", "busy", "gave_up", "unknown"]

_JOB_FIELDS = ("batch_id", "candidate", "source", "ref", "state", "attempts", "run_id", "owner", "phase", "error",
               "report_dir", "updated_at")


@dataclass(frozen=True)
class Claim:
    """What a delivered task may do with its job: grade it (a new attempt), nothing (finished, unknown), wait
    (``busy``: another worker holds a live lease), or nothing because it was given up (too many attempts)."""

    kind: ClaimKind
    job: Job | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def open_store_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``; SQLite gets a busy timeout and ``BEGIN IMMEDIATE`` writes."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BadInputError(f"--store {url!r} is not a database URL (e.g. postgresql+psycopg://user@host/db or "
                            f"sqlite:///path.db): {exc}") from None
    try:
        connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (ArgumentError, ImportError) as exc:
        raise BadInputError(f"--store {parsed.render_as_string(hide_password=True)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun below, immediate
            dbapi_connection.execute("PRAGMA busy_timeout = 30000")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SqlJobQueue:
    """The ``JobQueue`` protocol, plus the attempt claim and lease of distributed workers, in a SQL database."""

    def __init__(self, url: str, lease_s: float = LEASE_S) -> None:
        self.engine = open_store_engine(url)
        self.path = self.engine.url.render_as_string(hide_password=True)
        self.lease_s = lease_s
        for attempt in range(3):
            try:
                METADATA.create_all(self.engine)
                break
            except (IntegrityError, ProgrammingError):  # another worker created the tables at the same moment
                if attempt == 2:
                    raise
            except SQLAlchemyError as exc:
                raise InfrastructureError(f"cannot open the job store {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as db:
                yield db
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"the job store {self.path} failed: {exc}") from exc

    def _locked_job(self, db: Connection, batch_id: str, candidate: str) -> Any:
        query = select(JOBS).where(JOBS.c.batch_id == batch_id, JOBS.c.candidate == candidate)
        return db.execute(query.with_for_update()).mappings().first()  # FOR UPDATE is dropped on SQLite

    # --- the JobQueue protocol -------------------------------------------------------------------------------
    def create_batch(self, batch_id: str, lab: str, settings: dict[str, str]) -> Batch:
        """The batch ``batch_id``, created with ``lab`` and ``settings`` unless it exists (then it is kept)."""
        with self._write() as db:
            if db.execute(select(BATCHES.c.batch_id).where(BATCHES.c.batch_id == batch_id)).first() is None:
                db.execute(insert(BATCHES).values(batch_id=batch_id, lab=lab, created_at=_now(),
                                                  settings=json.dumps(settings, sort_keys=True)))
        found = self.batch(batch_id)
        assert found is not None
        return found

    def batch(self, batch_id: str) -> Batch | None:
        """The batch with this id, or None."""
        with self._write() as db:
            row = db.execute(select(BATCHES).where(BATCHES.c.batch_id == batch_id)).mappings().first()
        if row is None:
            return None
        return Batch(row["batch_id"], row["lab"], row["created_at"], json.loads(row["settings"]))

    def batches(self) -> list[Batch]:
        """Every batch, newest first."""
        with self._write() as db:
            ids = db.execute(select(BATCHES.c.batch_id).order_by(BATCHES.c.created_at.desc())).scalars().all()
        return [batch for batch_id in ids if (batch := self.batch(batch_id)) is not None]

    def enqueue(self, batch_id: str, inputs: Sequence[JobInput]) -> list[str]:
        """Add jobs for candidates the batch does not have yet (as ``SqliteJobQueue.enqueue``)."""
        notes: list[str] = []
        with self._write() as db:
            position = db.execute(select(func.coalesce(func.max(JOBS.c.position), 0))
                                  .where(JOBS.c.batch_id == batch_id)).scalar_one()
            for item in inputs:
                row = self._locked_job(db, batch_id, item.candidate)
                state, error = ("error", item.problem) if item.problem else ("queued", None)
                if row is None:
                    position += 1
                    db.execute(insert(JOBS).values(batch_id=batch_id, candidate=item.candidate, source=item.source,
                                                   ref=item.ref, state=state, error=error, attempts=0, attempt_no=0,
                                                   updated_at=_now(), position=position))
                    if item.problem:
                        _record(db, batch_id, item.candidate, None, "error", item.problem, None)
                elif row["run_id"] is None and row["state"] != "running":
                    db.execute(_job_update(batch_id, item.candidate).values(
                        source=item.source, ref=item.ref, state=state, error=error, updated_at=_now()))
                elif (row["source"], row["ref"]) != (item.source, item.ref):
                    notes.append(f"{item.candidate}: the input changed since it was graded; "
                                 f"`grader regrade {batch_id} --candidate {item.candidate}` grades the new one")
        return notes

    def claim(self, batch_id: str, owner: str, run_id: str) -> Job | None:
        """Take the next queued job of the batch (local worker threads); None when nothing is queued."""
        with self._write() as db:
            query = (select(JOBS.c.candidate).where(JOBS.c.batch_id == batch_id, JOBS.c.state == "queued")
                     .order_by(JOBS.c.position).limit(1).with_for_update(skip_locked=True))
            candidate = db.execute(query).scalar()
            if candidate is None:
                return None
            db.execute(_job_update(batch_id, candidate).values(
                state="running", attempts=JOBS.c.attempts + 1, attempt_no=JOBS.c.attempt_no + 1, run_id=run_id,
                owner=owner, phase="queued",
                error=None, updated_at=_now(), heartbeat_at=time.time()))
        return self._job(batch_id, candidate)

    def set_phase(self, batch_id: str, candidate: str, phase: str) -> None:
        """Record the phase a running job is in; it also renews the job's lease."""
        with self._write() as db:
            db.execute(_job_update(batch_id, candidate).where(JOBS.c.state == "running").values(
                phase=phase, updated_at=_now(), heartbeat_at=time.time()))

    def finish(self, batch_id: str, candidate: str, state: JobState, error: str | None, report_dir: str | None) -> None:
        """End a job as ``graded`` or ``error`` and add the try (its current run id) to its history."""
        with self._write() as db:
            row = self._locked_job(db, batch_id, candidate)
            db.execute(_job_update(batch_id, candidate).values(state=state, error=error, report_dir=report_dir,
                                                                owner=None, phase=None, updated_at=_now()))
            _record(db, batch_id, candidate, row["run_id"], state, error, report_dir)

    def requeue(self, batch_id: str, candidates: Sequence[str]) -> int:
        """Queue these candidates' finished jobs again (a regrade); returns how many were queued."""
        count = 0
        with self._write() as db:
            for candidate in candidates:
                count += db.execute(_job_update(batch_id, candidate).where(JOBS.c.state.in_(FINISHED)).values(
                    state="queued", attempts=0, error=None, updated_at=_now())).rowcount
        return count

    def abandoned(self, batch_id: str) -> list[Job]:
        """Running jobs whose worker is gone: its process ended (on this host) or its lease ran out (any host)."""
        with self._write() as db:
            rows = db.execute(select(JOBS).where(JOBS.c.batch_id == batch_id, JOBS.c.state == "running")
                              .order_by(JOBS.c.position)).mappings().all()
        return [_job(row) for row in rows if owner_is_gone(row["owner"]) or self._lease_ran_out(row)]

    def release(self, batch_id: str, candidate: str, max_attempts: int) -> JobState:
        """Put an abandoned job back in the queue, or end it in error after ``max_attempts`` claims."""
        with self._write() as db:
            row = self._locked_job(db, batch_id, candidate)
            if row["attempts"] >= max_attempts:
                _give_up(db, row)
                return "error"
            db.execute(_job_update(batch_id, candidate).values(state="queued", owner=None, phase=None,
                                                                updated_at=_now()))
        return "queued"

    def jobs(self, batch_id: str) -> list[Job]:
        """Every job of the batch, in the order they were added."""
        with self._write() as db:
            rows = db.execute(select(JOBS).where(JOBS.c.batch_id == batch_id).order_by(JOBS.c.position))
            return [_job(row) for row in rows.mappings()]

    def history(self, batch_id: str) -> list[HistoryEntry]:
        """Every finished try of the batch's jobs, oldest first."""
        with self._write() as db:
            rows = db.execute(select(HISTORY).where(HISTORY.c.batch_id == batch_id).order_by(HISTORY.c.id))
            return [HistoryEntry(candidate=row["candidate"], run_id=row["run_id"], state=row["state"],
                                 error=row["error"], report_dir=row["report_dir"], finished_at=row["finished_at"])
                    for row in rows.mappings()]

    def _job(self, batch_id: str, candidate: str) -> Job:
        with self._write() as db:
            return _job(self._locked_job(db, batch_id, candidate))

    def _lease_ran_out(self, row: Any) -> bool:
        return row["heartbeat_at"] is None or row["heartbeat_at"] + self.lease_s < time.time()

    # --- attempts of distributed workers ---------------------------------------------------------------------
    def claim_attempt(self, batch_id: str, candidate: str, owner: str, run_id: str, max_attempts: int) -> Claim:
        """The idempotent claim of a delivered task (see the module doc)."""
        with self._write() as db:
            row = self._locked_job(db, batch_id, candidate)
            if row is None:
                return Claim("unknown")
            if row["state"] in FINISHED:
                return Claim("finished", _job(row))
            if row["state"] == "running" and not self._lease_ran_out(row):
                return Claim("busy", _job(row))
            if row["attempts"] >= max_attempts:
                _give_up(db, row)
                return Claim("gave_up", _job(row))
            db.execute(_job_update(batch_id, candidate).values(
                state="running", attempts=row["attempts"] + 1, attempt_no=row["attempt_no"] + 1, run_id=run_id,
                owner=owner, phase="queued",
                error=None, updated_at=_now(), heartbeat_at=time.time()))
        return Claim("grade", self._job(batch_id, candidate))

    def heartbeat(self, batch_id: str, candidate: str, run_id: str) -> bool:
        """Renew the lease of this attempt; False when the job is no longer this attempt's."""
        with self._write() as db:
            return db.execute(_job_update(batch_id, candidate).where(
                JOBS.c.state == "running", JOBS.c.run_id == run_id).values(heartbeat_at=time.time())).rowcount == 1

    def finish_attempt(self, batch_id: str, candidate: str, run_id: str, state: JobState, error: str | None,
                       report_dir: str | None, report_json: str | None) -> bool:
        """Store this attempt's report and end the job, in one transaction, if the attempt is still the job's
        current one; returns False (nothing written) for a superseded attempt."""
        with self._write() as db:
            row = self._locked_job(db, batch_id, candidate)
            if row is None or row["state"] != "running" or row["run_id"] != run_id:
                return False
            db.execute(insert(REPORTS).values(batch_id=batch_id, candidate=candidate, attempt=row["attempt_no"],
                                              run_id=run_id, state=state, report=report_json, finished_at=_now()))
            db.execute(_job_update(batch_id, candidate).values(state=state, error=error, report_dir=report_dir,
                                                                owner=None, phase=None, updated_at=_now()))
            _record(db, batch_id, candidate, run_id, state, error, report_dir)
        return True

    def report(self, run_id: str) -> Report | None:
        """The report an attempt stored, by its run id."""
        with self._write() as db:
            text = db.execute(select(REPORTS.c.report).where(REPORTS.c.run_id == run_id)).scalar()
        return Report.model_validate_json(text) if text else None

    def reports(self, batch_id: str) -> list[tuple[str, int, str, str | None]]:
        """Every stored report of the batch: candidate, attempt, run id and the report's JSON."""
        with self._write() as db:
            rows = db.execute(select(REPORTS.c.candidate, REPORTS.c.attempt, REPORTS.c.run_id, REPORTS.c.report)
                              .where(REPORTS.c.batch_id == batch_id)
                              .order_by(REPORTS.c.candidate, REPORTS.c.attempt))
            return [(row[0], row[1], row[2], row[3]) for row in rows]


def _job_update(batch_id: str, candidate: str) -> Any:
    return update(JOBS).where(JOBS.c.batch_id == batch_id, JOBS.c.candidate == candidate)


def _job(row: Any) -> Job:
    return Job(**{name: row[name] for name in _JOB_FIELDS})


def _give_up(db: Connection, row: Any) -> None:
    error = f"the grader stopped {row['attempts']} times while grading this submission; not tried again"
    db.execute(_job_update(row["batch_id"], row["candidate"]).values(state="error", error=error, owner=None,
                                                                      phase=None, updated_at=_now()))
    _record(db, row["batch_id"], row["candidate"], row["run_id"], "error", error, None)


def _record(db: Connection, batch_id: str, candidate: str, run_id: str | None, state: str, error: str | None,
            report_dir: str | None) -> None:
    db.execute(insert(HISTORY).values(batch_id=batch_id, candidate=candidate, run_id=run_id, state=state,
                                      error=error, report_dir=report_dir, finished_at=_now()))


class SqlReports:
    """The reports of a SQL job store, read like the local results store (``ReportLookup``)."""

    def __init__(self, queue: SqlJobQueue) -> None:
        self.queue = queue

    def get(self, run_id: str) -> Report | None:
        return self.queue.report(run_id)
