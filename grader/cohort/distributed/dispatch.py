"""The dispatching side of ``grader batch --broker``: one message per unfinished job, then the batch's progress
read from the shared store until every job finished."""

from __future__ import annotations

import threading
import time

from celery import Celery
from kombu.exceptions import OperationalError

from grader.cohort.distributed.app import send_job
from grader.cohort.jobs import FINISHED, Job, JobQueue
from grader.cohort.progress import BatchProgress
from grader.errors import InfrastructureError

POLL_S = 1.0


def dispatch(queue: JobQueue, app: Celery, batch_id: str) -> int:
    """Send every unfinished job of the batch to the workers; returns how many were sent. Sending a job that a
    worker already grades is harmless: the store's attempt claim lets only one grade it."""
    sent = 0
    for job in queue.jobs(batch_id):
        if job.state not in FINISHED:
            try:
                send_job(app, batch_id, job.candidate)
            except OperationalError as exc:
                raise InfrastructureError(f"cannot reach the broker {app.conf.broker_url}: {exc}") from exc
            sent += 1
    return sent


def follow(queue: JobQueue, batch_id: str, progress: BatchProgress, stop: threading.Event | None = None,
           poll_s: float = POLL_S) -> list[Job]:
    """Show the batch's jobs as the workers move them, until every job finished (or ``stop`` is set)."""
    stop = stop or threading.Event()
    seen: dict[str, tuple[str, int, str | None]] = {}
    while True:
        jobs = queue.jobs(batch_id)
        for job in jobs:
            before = seen.get(job.candidate)
            now = (job.state, job.attempts, job.phase)
            if before is not None and before != now:
                _report_change(progress, job, before)
            seen[job.candidate] = now
        if all(job.state in FINISHED for job in jobs) or stop.is_set():
            return jobs
        progress.refresh()
        time.sleep(poll_s)


def _report_change(progress: BatchProgress, job: Job, before: tuple[str, int, str | None]) -> None:
    state, attempts, _phase = before
    if job.state == "running" and (state != "running" or attempts != job.attempts):
        if state == "running":
            progress.note(f"{job.candidate}: its worker stopped; another one grades it again")
        progress.job_started(job.candidate)
    if job.state == "running" and job.phase:
        progress.job_phase(job.candidate, job.phase)
    if job.state in FINISHED and state not in FINISHED:
        if state != "running":
            progress.job_started(job.candidate)
        progress.job_finished(job.candidate, job.state, job.error)
