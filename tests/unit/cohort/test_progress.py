"""Batch progress: counts, ETA, plain lines for pipes, and candidate names made inert for a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from grader.cohort.progress import BatchProgress, LiveProgress, PlainProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_counts_and_an_eta_from_the_jobs_finished_so_far():
    clock = Clock()
    progress = BatchProgress(total=5, done=1, workers=2, clock=clock, errors=1)
    assert progress.eta_seconds() is None
    progress.job_started("a")
    progress.job_started("b")
    clock.now = 60
    progress.job_finished("a", "graded", None)
    progress.job_started("c")
    assert (progress.done, progress.errors, len(progress.running), progress.queued) == (2, 1, 2, 1)
    clock.now = 90  # b has run 90 s (over the mean: done any moment), c 30 s; one job queued
    assert progress.eta_seconds() == 45  # (0 + 30 + 60) / 2 workers
    assert progress.summary() == "2/5 done (1 errors), 2 running, 1 queued, about 45s left"


def test_plain_progress_writes_one_line_per_event_and_cleans_names():
    stream = io.StringIO()
    progress = PlainProgress(total=1, done=0, workers=1, stream=stream, clock=Clock())
    progress.job_started("eve\x1b]8;;http://x\x07")
    progress.job_phase("eve\x1b]8;;http://x\x07", "steps")
    progress.job_phase("eve\x1b]8;;http://x\x07", "steps")
    progress.job_finished("eve\x1b]8;;http://x\x07", "error", "git could not clone")
    lines = stream.getvalue().splitlines()
    assert lines == ["start eve", "  eve: steps", "error eve: git could not clone — 1/1 done (1 errors), 0 running, "
                     "0 queued"]
    assert "\x1b" not in stream.getvalue()


def test_live_progress_shows_running_jobs_and_their_phase():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    progress = LiveProgress(total=2, done=0, workers=2, console=console, clock=Clock())
    progress.job_started("alice")
    progress.job_phase("alice", "steps")
    progress.refresh()
    progress.close()
    assert "alice" in out.getvalue() and "steps" in out.getvalue() and "0/2 done" in out.getvalue()
