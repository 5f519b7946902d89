"""Cohort throughput for ``bench.py --cohort N``: N submissions of one lab (its reference and its variants,
mixed) graded as one batch with 1, 2 and 3 workers; wall time, per-job time, and a check that every report
is complete (every job graded, its three report files written)."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from grader.cohort.batch import grade_batch
from grader.cohort.inputs import read_folder
from grader.cohort.progress import PlainProgress
from grader.cohort.queue import SqliteJobQueue
from grader.cohort.runner import BatchRun
from grader.labs.loading import load_lab, load_variants, materialize_variant
from grader.paths import project_paths
from grader.sandbox import make_engine


def make_submissions(lab_id: str, count: int, folder: Path) -> list[str]:
    """``count`` submissions: the reference, then each variant, then again, in that order."""
    lab = load_lab(lab_id, project_paths())
    kinds = ["reference", *load_variants(lab)]
    names = []
    for number in range(count):
        kind = kinds[number % len(kinds)]
        target = folder / f"{number:02d}-{kind}"
        if kind == "reference":
            shutil.copytree(lab.reference_dir, target)
        else:
            materialize_variant(lab, kind, target)
        names.append(target.name)
    return names


def bench_one(lab_id: str, submissions: Path, workers: int, scratch: Path) -> dict[str, Any]:
    """Grade the folder as one fresh batch with ``workers`` workers."""
    os.environ["GRADER_DB"] = str(scratch / f"results-{workers}.sqlite3")
    paths = project_paths()
    queue = SqliteJobQueue(paths.results_db)
    batch_id = f"bench-{workers}"
    queue.create_batch(batch_id, lab_id, {})
    inputs = read_folder(submissions)
    queue.enqueue(batch_id, inputs)
    run = BatchRun(batch_id=batch_id, lab=lab_id, out_dir=scratch / f"out-{workers}", paths=paths,
                   make_engine=lambda: make_engine("docker", paths))
    progress = PlainProgress(len(inputs), 0, workers, sys.stderr)
    started = time.perf_counter()
    jobs = grade_batch(queue, run, workers, progress)
    wall = time.perf_counter() - started
    queue.close()
    incomplete = [job.candidate for job in jobs if job.state != "graded" or not job.report_dir
                  or not all((Path(job.report_dir) / f"report.{ext}").is_file() for ext in ("json", "md", "html"))]
    return {"workers": workers, "wall_seconds": round(wall, 1),
            "per_job_seconds": {"median": round(statistics.median(progress.durations), 1),
                                "max": round(max(progress.durations), 1)},
            "throughput_per_minute": round(len(jobs) * 60 / wall, 2), "incomplete": incomplete}


def cohort_bench(lab_id: str, count: int, worker_counts: list[int]) -> dict[str, Any]:
    """The figures of every worker count."""
    with tempfile.TemporaryDirectory(prefix="bench-cohort-") as scratch:
        folder = Path(scratch) / "submissions"
        names = make_submissions(lab_id, count, folder)
        runs = [bench_one(lab_id, folder, workers, Path(scratch)) for workers in worker_counts]
    return {"lab": lab_id, "submissions": len(names), "cores": os.cpu_count(), "runs": runs,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
