"""The values of the cohort job queue: what to grade (``JobInput``), a job as the queue holds it, its history,
the batch, the ``JobQueue`` protocol every backend meets, and who owns a running job."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from grader.models import Report

JobState = Literal["queued", "running", "graded", "error"]
FINISHED: tuple[JobState, ...] = ("graded", "error")


@dataclass(frozen=True)
class JobInput:
    """What to grade for one candidate: a folder, archive or git repository, and a git ref."""

    candidate: str
    source: str
    ref: str | None = None
    problem: str | None = None  # set when the input itself is unusable: the job is recorded as an error


@dataclass(frozen=True)
class Job:
    """One candidate's job as the queue holds it."""

    batch_id: str
    candidate: str
    source: str
    ref: str | None
    state: JobState
    attempts: int
    run_id: str | None
    owner: str | None
    phase: str | None
    error: str | None
    report_dir: str | None
    updated_at: str


@dataclass(frozen=True)
class HistoryEntry:
    """One finished try at a job; the newest of a candidate's entries counts."""

    candidate: str
    run_id: str | None
    state: JobState
    error: str | None
    report_dir: str | None
    finished_at: str


@dataclass(frozen=True)
class Batch:
    """A batch: its id, the lab it grades and the settings it was started with (deadline, output folder)."""

    batch_id: str
    lab: str
    created_at: str
    settings: dict[str, str]


class JobQueue(Protocol):
    """What the batch runner needs from a queue backend."""

    @property
    def path(self) -> Path | str: ...  # where it lives, for messages (a file, or a database URL without password)

    def close(self) -> None: ...
    def create_batch(self, batch_id: str, lab: str, settings: dict[str, str]) -> Batch: ...
    def batch(self, batch_id: str) -> Batch | None: ...
    def batches(self) -> list[Batch]: ...
    def enqueue(self, batch_id: str, inputs: Sequence[JobInput]) -> list[str]: ...
    def claim(self, batch_id: str, owner: str, run_id: str) -> Job | None: ...
    def set_phase(self, batch_id: str, candidate: str, phase: str) -> None: ...
    def finish(self, batch_id: str, candidate: str, state: JobState, error: str | None,
               report_dir: str | None) -> None: ...
    def requeue(self, batch_id: str, candidates: Sequence[str]) -> int: ...
    def abandoned(self, batch_id: str) -> list[Job]: ...
    def release(self, batch_id: str, candidate: str, max_attempts: int) -> JobState: ...
    def jobs(self, batch_id: str) -> list[Job]: ...
    def history(self, batch_id: str) -> list[HistoryEntry]: ...


class ReportLookup(Protocol):
    """Where a batch's reports are read from: the local results store, or a shared job store."""

    def get(self, run_id: str) -> Report | None: ...


def this_process() -> str:
    """The owner id of a job claimed by this process: host, pid and the process's start time (a reused pid
    is another process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def owner_is_gone(owner: str | None) -> bool:
    """Whether the process that claimed a job has ended; only knowable on its own host (else False)."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    current = _start_ticks(int(pid_text))
    return current is None or (ticks != "" and str(current) != ticks)


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may contain spaces and is in parentheses.
    return int(stat.rpartition(")")[2].split()[19])
