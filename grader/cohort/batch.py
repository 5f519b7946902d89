"""A batch from start to end: name it, queue its candidates, resume what a crash left, grade the rest; and
choose what a regrade grades again."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

from grader.cohort.jobs import ReportLookup
from grader.cohort.progress import BatchProgress
from grader.cohort.queue import Job, JobQueue
from grader.cohort.runner import BatchRun, recover_abandoned, run_workers
from grader.errors import BadInputError


def batch_id_for(lab_id: str, where: Sequence[str], deadline: str | None) -> str:
    """The same lab, inputs and deadline name the same batch, so the same command resumes it."""
    key = "\n".join([lab_id, deadline or "", *sorted(where)])
    return f"{lab_id}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def grade_batch(queue: JobQueue, run: BatchRun, workers: int, progress: BatchProgress,
                stop: threading.Event | None = None) -> list[Job]:
    """Settle what a killed grader left, grade every queued job, and return the batch's jobs at the end."""
    engine = run.make_engine()
    for line in engine.cleanup(only_dead_owners=True):
        progress.note(f"removed what an interrupted grading left: {line}")
    recover_abandoned(queue, run, progress)
    run_workers(queue, run, workers, progress, stop)
    return queue.jobs(run.batch_id)


def select_for_regrade(queue: JobQueue, store: ReportLookup, batch_id: str, *, errored: bool = False,
                       candidate: str | None = None, lab_version: str | None = None) -> list[str]:
    """The candidates a regrade grades again: all finished jobs, or only errored ones, one candidate, or those
    whose newest report was made with a lab version other than ``lab_version``."""
    # A job refused for its input (a duplicate or empty roster row) was never tried: fixing the roster and running
    # the batch again grades it, a regrade cannot.
    jobs = [job for job in queue.jobs(batch_id) if job.state in ("graded", "error") and job.run_id is not None]
    if candidate is not None:
        if not any(job.candidate == candidate for job in queue.jobs(batch_id)):
            raise BadInputError(f"batch {batch_id} has no candidate {candidate!r}")
        return [job.candidate for job in jobs if job.candidate == candidate]
    if errored:
        return [job.candidate for job in jobs if job.state == "error"]
    if lab_version is not None:
        return [job.candidate for job in jobs if _graded_version(store, job) != lab_version]
    return [job.candidate for job in jobs]


def _graded_version(store: ReportLookup, job: Job) -> str | None:
    report = store.get(job.run_id) if job.run_id else None
    return report.lab.get("version") if report else None


def default_out_dir(batch_id: str) -> Path:
    """Where a batch's reports go unless ``--out`` says otherwise."""
    return Path("grader-reports") / "batches" / batch_id
