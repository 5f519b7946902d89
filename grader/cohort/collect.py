"""A batch's candidates as the exporters read them: each job's end and its newest report from the store."""

from __future__ import annotations

from pathlib import Path

from grader.cohort.jobs import ReportLookup
from grader.cohort.queue import JobQueue
from grader.results.export.entries import CohortEntry, safe_stem


def cohort_entries(queue: JobQueue, store: ReportLookup, batch_id: str) -> list[CohortEntry]:
    """One entry per candidate, in roster order. A candidate whose newest grading has not finished (queued
    again for a regrade) is shown with its previous report, the newest that exists."""
    newest: dict[str, tuple[str | None, str | None]] = {}
    for entry in queue.history(batch_id):
        if entry.run_id is not None:
            newest[entry.candidate] = (entry.run_id, entry.report_dir)
    entries = []
    stems: set[str] = set()
    for job in queue.jobs(batch_id):
        run_id, report_dir = (job.run_id, job.report_dir) if job.state in ("graded", "error") else newest.get(
            job.candidate, (None, None))
        report = store.get(run_id) if run_id else None
        stem = safe_stem(job.candidate)
        while stem in stems:  # two names that clean to one file name
            stem += "_"
        stems.add(stem)
        entries.append(CohortEntry(candidate=job.candidate, state=job.state, error=job.error, report=report,
                                   report_dir=Path(report_dir) if report_dir else None, file_stem=stem))
    return entries
