"""``grader worker``: grade cohort jobs a ``grader batch --broker`` sent, on this machine's Docker engine, with
the job store shared by every worker (see docs/cohorts.md, "Many machines")."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from grader.cli.engine import add_engine_options
from grader.paths import ProjectPaths

if TYPE_CHECKING:
    from grader.cohort.jobs import Job, JobQueue, ReportLookup


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """--store: the job store as a SQLAlchemy URL (default: GRADER_STORE, else the local SQLite results store)."""
    parser.add_argument("--store", default=os.environ.get("GRADER_STORE") or None,
                        help="job store shared by every worker, a SQLAlchemy URL such as "
                        "postgresql+psycopg://grader@db-host/grader (default: GRADER_STORE, else the local SQLite "
                        "results store)")


def add_broker_option(parser: argparse.ArgumentParser) -> None:
    """--broker: dispatch to ``grader worker`` processes instead of grading here."""
    parser.add_argument("--broker", default=os.environ.get("GRADER_BROKER") or None,
                        help="send the jobs to `grader worker` processes through this Celery broker "
                        "(redis://host:6379/0) instead of grading them here; needs --store (default: GRADER_BROKER)")
    parser.add_argument("--visibility-timeout", type=float, default=None,
                        help="seconds before the broker hands a job whose worker went silent to another worker "
                        "(default 300; a longer grading is claimed by one worker only all the same)")


def open_queue(args: argparse.Namespace, paths: ProjectPaths) -> JobQueue:
    """The job queue the command's options name: a SQL store, or the local SQLite results store."""
    from grader.cohort.queue import SqliteJobQueue
    from grader.errors import BadInputError

    store = getattr(args, "store", None)
    if getattr(args, "broker", None) and not store:
        raise BadInputError("--broker needs --store: workers on other machines read the jobs and write the reports "
                            "in a shared database (e.g. --store postgresql+psycopg://grader@db-host/grader)")
    if store:
        from grader.cohort.distributed.sqlqueue import SqlJobQueue

        return SqlJobQueue(store)
    return SqliteJobQueue(paths.results_db)


@contextmanager
def report_lookup(queue: JobQueue, paths: ProjectPaths) -> Iterator[ReportLookup]:
    """Where the reports of the queue's batches are: the shared store's own table, or the local results store."""
    from grader.cohort.distributed.sqlqueue import SqlJobQueue, SqlReports
    from grader.results.store import ResultStore

    if isinstance(queue, SqlJobQueue):
        yield SqlReports(queue)
        return
    with ResultStore(paths.results_db) as store:
        yield store


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``grader worker`` to the ``grader`` parser."""
    worker = commands.add_parser(
        "worker", help="grade cohort jobs sent by `grader batch --broker` (run one or more on every grading host)",
        description="A Celery worker: takes one job at a time from the broker, grades it on this machine's engine "
        "and writes the report to the shared store. Kill it at any moment: its job goes to another worker.")
    add_broker_option(worker)
    add_store_option(worker)
    worker.add_argument("--out", type=Path, help="folder for the report files (default: the batch's --out, which "
                        "should then be shared storage or exist on every host)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs graded at once by this worker (default 1)")
    worker.add_argument("--lease", type=float, default=None, help="seconds without a sign of life after which "
                        "another worker takes a job over (default 60)")
    worker.add_argument("--name", default=None, help="worker name (default: grader-HOST-PID)")
    add_engine_options(worker)


def cmd_worker(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.cohort.distributed.app import QUEUE_NAME, VISIBILITY_TIMEOUT_S, make_app
    from grader.cohort.distributed.sqlqueue import LEASE_S, SqlJobQueue
    from grader.cohort.distributed.worker import WorkerContext, register_task
    from grader.errors import BadInputError
    from grader.sandbox import make_engine

    if not args.broker or not args.store:
        raise BadInputError("grader worker needs --broker redis://... and --store postgresql+psycopg://... "
                            "(or GRADER_BROKER and GRADER_STORE)")
    if args.concurrency < 1:
        raise BadInputError(f"--concurrency must be at least 1, not {args.concurrency}")
    queue = SqlJobQueue(args.store, lease_s=args.lease or LEASE_S)
    engine = make_engine(args.backend, paths, runtime=args.runtime)
    for line in engine.cleanup(only_dead_owners=True):
        err.print(f"removed what an interrupted grading left: {line}", markup=False, highlight=False)
    app = make_app(args.broker, args.visibility_timeout or VISIBILITY_TIMEOUT_S)
    context = WorkerContext(queue=queue, paths=paths, out_dir=args.out,
                            make_engine=lambda: make_engine(args.backend, paths, runtime=args.runtime))
    register_task(app, context)
    name = args.name or f"grader-{socket.gethostname()}-{os.getpid()}"
    err.print(f"worker {name}: broker {_safe_url(args.broker)}, store {queue.path}", markup=False, highlight=False)
    pool = "solo" if args.concurrency == 1 else "threads"
    app.worker_main(["worker", f"--pool={pool}", f"--concurrency={args.concurrency}", "--loglevel=INFO",
                     "--without-gossip", "--without-mingle", f"--queues={QUEUE_NAME}", f"--hostname={name}@%h"])
    queue.close()
    return 0


def grade_on_workers(queue: JobQueue, batch_id: str, args: argparse.Namespace, err: Console) -> list[Job] | None:
    """Send the batch's unfinished jobs to the workers and follow them to the end; None when interrupted (the
    workers keep grading)."""
    import sys
    import threading

    from grader.cohort.distributed.app import VISIBILITY_TIMEOUT_S, make_app
    from grader.cohort.distributed.dispatch import dispatch, follow
    from grader.cohort.progress import BatchProgress, LiveProgress, PlainProgress

    app = make_app(args.broker, args.visibility_timeout or VISIBILITY_TIMEOUT_S)
    sent = dispatch(queue, app, batch_id)
    jobs = queue.jobs(batch_id)
    done = sum(1 for job in jobs if job.state in ("graded", "error"))
    errors = sum(1 for job in jobs if job.state == "error")
    err.print(f"{done} of {len(jobs)} already finished; {sent} job(s) sent to the workers through "
              f"{_safe_url(args.broker)}", markup=False, highlight=False)
    progress: BatchProgress = (LiveProgress(len(jobs), done, 1, err, errors=errors) if err.is_terminal
                               else PlainProgress(len(jobs), done, 1, sys.stderr, errors=errors))
    try:
        final = follow(queue, batch_id, progress, threading.Event())
    except KeyboardInterrupt:
        progress.close()
        err.print("[yellow]interrupted[/yellow]: the workers keep grading; run the same command again to follow them")
        return None
    progress.close()
    return final


def _safe_url(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


COMMANDS = {"worker": cmd_worker}
