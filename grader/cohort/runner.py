"""Grading a batch: N worker threads take jobs from the queue and grade each through ``grade_submission``.

Every job is its own grading run (own sandbox network, MLflow server and teardown; nothing shared between
candidates). A job's run id is chosen when it is claimed and stored before the grading starts, so after a
crash (the grader SIGKILLed mid-batch) the next start can tell a job that finished its report (the run is
in the results store: it is marked graded, not graded again) from one that did not (queued again). What a
killed grader left on the engine is removed first, by the engine's own clean-up of dead owners.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.cohort.deadline import commit_at_deadline, is_git_source, parse_deadline
from grader.cohort.progress import BatchProgress
from grader.cohort.queue import Job, JobQueue, JobState, this_process
from grader.errors import BadInputError, GraderError
from grader.models import Report
from grader.paths import ProjectPaths
from grader.results.export.entries import safe_stem
from grader.results.store import ResultStore
from grader.run.orchestrate import GradeOptions, grade_submission, new_run_id
from grader.run.state import RunObserver
from grader.sandbox.engine import Engine

# A job claimed this many times by graders that died mid-grading is not tried again (the submission most
# likely brings the grader down); on top of the lab's own retries of infrastructure errors.
MAX_CLAIMS = 3
REPORT_FORMATS = ("json", "md", "html")


@dataclass(frozen=True)
class BatchRun:
    """What the workers need to grade one batch's jobs."""

    batch_id: str
    lab: str
    out_dir: Path
    paths: ProjectPaths
    make_engine: Callable[[], Engine]
    deadline: str | None = None


def report_dir(run: BatchRun, candidate: str, run_id: str) -> Path:
    """Where a job's reports go: one folder per candidate, one per run inside it (a regrade keeps the old)."""
    return run.out_dir / safe_stem(candidate) / run_id


def recover_abandoned(queue: JobQueue, run: BatchRun, progress: BatchProgress) -> None:
    """Jobs a killed grader left ``running``: finished when their run reached the results store (its report
    is kept, nothing is graded twice), else queued again."""
    abandoned = queue.abandoned(run.batch_id)
    if not abandoned:
        return
    with ResultStore(run.paths.results_db) as store:
        for job in abandoned:
            report = store.get(job.run_id) if job.run_id else None
            if report is not None:
                _finish_with_report(queue, run, job.candidate, report)
                progress.note(f"{job.candidate}: graded before the interruption; its report is kept")
            elif queue.release(run.batch_id, job.candidate, MAX_CLAIMS) == "queued":
                progress.note(f"{job.candidate}: its grading was interrupted; it is graded again")
            else:
                progress.note(f"{job.candidate}: the grader stopped {job.attempts} times grading it; not tried again")


def run_workers(queue: JobQueue, run: BatchRun, workers: int, progress: BatchProgress,
                stop: threading.Event | None = None) -> None:
    """Grade queued jobs on ``workers`` threads until none is left (or ``stop`` is set: running jobs finish)."""
    stop = stop or threading.Event()
    owner = this_process()
    threads = [threading.Thread(target=_work, args=(queue, run, owner, progress, stop), name=f"batch-worker-{n}",
                                daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)
            progress.refresh()


def _work(queue: JobQueue, run: BatchRun, owner: str, progress: BatchProgress, stop: threading.Event) -> None:
    try:
        _take_jobs(queue, run, owner, progress, stop)
    except GraderError as exc:  # the queue itself failed (e.g. the store stayed locked): this worker stops
        progress.note(f"a worker stopped: {exc}; run the same command again to finish the batch")


def _take_jobs(queue: JobQueue, run: BatchRun, owner: str, progress: BatchProgress, stop: threading.Event) -> None:
    engine: Engine | None = None
    while not stop.is_set():
        job = queue.claim(run.batch_id, owner, new_run_id())
        if job is None:
            return
        engine = engine or run.make_engine()
        progress.job_started(job.candidate)
        state, error, folder = grade_job(queue, run, job, engine, progress)
        queue.finish(run.batch_id, job.candidate, state, error, folder)
        progress.job_finished(job.candidate, state, error)


def grade_job(queue: JobQueue, run: BatchRun, job: Job, engine: Engine,
              progress: BatchProgress) -> tuple[JobState, str | None, str | None]:
    """Grade one claimed job; never raises (but an interrupt): every failure is the job's error."""
    assert job.run_id is not None
    out = report_dir(run, job.candidate, job.run_id)
    observer = _JobObserver(queue, run.batch_id, job.candidate, progress)
    try:
        ref = job.ref
        if run.deadline and is_git_source(job.source):
            observer.phase_started("deadline")
            ref = commit_at_deadline(job.source, job.ref, parse_deadline(run.deadline))
        options = GradeOptions(out_dir=out, ref=ref, formats=REPORT_FORMATS, store=True)
        outcome = grade_submission(job.source, run.lab, run.paths, engine, options, observer, run_id=job.run_id)
    except BadInputError as exc:
        return "error", str(exc), None
    except GraderError as exc:
        return "error", f"infrastructure error: {exc}", None
    except Exception as exc:  # a grader bug with one submission must not stop the batch
        return "error", f"internal error: {type(exc).__name__}: {exc}", None
    report = outcome.report
    if report.outcome == "error":
        return "error", report.error or "the grading ended in an error", str(out)
    return "graded", None, str(out)


def _finish_with_report(queue: JobQueue, run: BatchRun, candidate: str, report: Report) -> None:
    out = report_dir(run, candidate, report.run_id)
    state: JobState = "error" if report.outcome == "error" else "graded"
    queue.finish(run.batch_id, candidate, state, report.error if state == "error" else None, str(out))


class _JobObserver(RunObserver):
    """Shows a job's phases in the progress display and keeps the current one in the queue."""

    def __init__(self, queue: JobQueue, batch_id: str, candidate: str, progress: BatchProgress) -> None:
        self.queue, self.batch_id, self.candidate, self.progress = queue, batch_id, candidate, progress
        self._last_write = 0.0

    def phase_started(self, phase: str) -> None:
        self.progress.job_phase(self.candidate, phase)
        now = time.monotonic()
        if now - self._last_write > 1.0:  # the display is live; the queue only needs to be roughly current
            self._last_write = now
            self.queue.set_phase(self.batch_id, self.candidate, phase)
