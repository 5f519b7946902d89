"""What a worker does with one delivered job: claim an attempt in the store, grade it like a local batch does
(``grade_job``: own sandbox network, MLflow server and teardown), keep the lease alive meanwhile, and land the
report and the job's end in one transaction."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery

from grader.cohort.distributed.app import TASK_NAME
from grader.cohort.distributed.sqlqueue import ClaimKind, SqlJobQueue
from grader.cohort.jobs import Job, this_process
from grader.cohort.progress import PlainProgress
from grader.cohort.runner import MAX_CLAIMS, BatchRun, grade_job
from grader.paths import ProjectPaths
from grader.results.store import ResultStore
from grader.run.orchestrate import new_run_id
from grader.sandbox.engine import Engine

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    """A worker process's store, project, engine and (optional) report folder, shared by its gradings."""

    queue: SqlJobQueue
    paths: ProjectPaths
    make_engine: Callable[[], Engine]
    out_dir: Path | None = None  # else the batch's own folder (shared storage, or the same path on every host)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def engine(self) -> Engine:
        """This thread's engine (one per grading thread, as in a local batch)."""
        if getattr(self._local, "engine", None) is None:
            self._local.engine = self.make_engine()
        return self._local.engine  # type: ignore[no-any-return]


def grade_delivered(context: WorkerContext, batch_id: str, candidate: str) -> ClaimKind:
    """Grade a delivered job unless the store says otherwise; returns what the claim decided."""
    batch = context.queue.batch(batch_id)
    claim = context.queue.claim_attempt(batch_id, candidate, this_process(), new_run_id(), MAX_CLAIMS)
    if batch is None or claim.kind != "grade" or claim.job is None:
        log.info("%s/%s: %s, nothing to grade", batch_id, candidate, claim.kind)
        return claim.kind
    job = claim.job
    engine = context.engine()
    if job.attempts > 1:  # taken over from a worker that died: remove what it left on this host's engine
        for line in engine.cleanup(only_dead_owners=True):
            log.info("removed what an interrupted grading left: %s", line)
    run = BatchRun(batch_id=batch_id, lab=batch.lab, out_dir=context.out_dir or Path(batch.settings["out"]),
                   paths=context.paths, make_engine=context.make_engine,
                   deadline=batch.settings.get("deadline") or None)
    progress = PlainProgress(1, 0, 1, sys.stderr)
    with _Lease(context.queue, job):
        state, error, folder = grade_job(context.queue, run, job, engine, progress)
    assert job.run_id is not None
    with ResultStore(context.paths.results_db) as store:
        report = store.get(job.run_id)
    landed = context.queue.finish_attempt(batch_id, candidate, job.run_id, state, error, folder,
                                          report.model_dump_json() if report else None)
    if not landed:
        log.warning("%s/%s: attempt %s was taken over by another worker; its result is dropped",
                    batch_id, candidate, job.run_id)
    return "grade"


def register_task(app: Celery, context: WorkerContext) -> None:
    """Bind the grading task to this worker's context. A job another worker holds a live lease on is retried
    after one lease: then it is finished (nothing to do) or its worker died (this one takes it over)."""

    @app.task(name=TASK_NAME, bind=True, max_retries=None, acks_late=True, reject_on_worker_lost=True)
    def grade_candidate(self: object, batch_id: str, candidate: str) -> str:
        kind = grade_delivered(context, batch_id, candidate)
        if kind == "busy":
            raise self.retry(countdown=context.queue.lease_s)  # type: ignore[attr-defined]
        return kind


class _Lease:
    """Renews a running attempt's lease in the store every third of the lease while it grades."""

    def __init__(self, queue: SqlJobQueue, job: Job) -> None:
        self.queue, self.job = queue, job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{job.candidate}", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _renew(self) -> None:
        assert self.job.run_id is not None
        while not self._stop.wait(self.queue.lease_s / 3):
            try:
                if not self.queue.heartbeat(self.job.batch_id, self.job.candidate, self.job.run_id):
                    return
            except Exception as exc:  # a store hiccup: the next renewal tries again
                log.warning("could not renew the lease of %s: %s", self.job.candidate, exc)
