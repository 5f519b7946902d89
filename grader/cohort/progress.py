"""Progress of a batch: done / running / queued, each running job's phase, and an ETA.

``BatchProgress`` keeps the counts (thread-safe: every worker thread reports to it) and shows nothing;
``PlainProgress`` writes one line per event (logs, CI, a pipe); ``LiveProgress`` redraws a table on a terminal.
Candidate names come from rosters: they are cleaned before they reach a terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from grader.results.report.text import clean_text


def _shown(text: str, limit: int = 60) -> str:
    return clean_text(text)[:limit]


class BatchProgress:
    """Counts of a batch's jobs and the phase of each running one."""

    def __init__(self, total: int, done: int, workers: int, clock: Callable[[], float] = time.monotonic,
                 errors: int = 0) -> None:
        self.total, self.done, self.workers, self.clock = total, done, workers, clock
        self.errors = errors
        self.running: dict[str, tuple[str, float]] = {}  # candidate → (phase, started)
        self.durations: list[float] = []
        self.notes: list[str] = []
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        return max(0, self.total - self.done - len(self.running))

    def eta_seconds(self) -> float | None:
        """Seconds until the batch ends, from the mean time of the jobs finished so far (None before one has)."""
        with self._lock:
            if not self.durations:
                return None
            mean = sum(self.durations) / len(self.durations)
            now = self.clock()
            # The work left (the rest of each running job, a mean job per queued one) shared by the workers,
            # but never less than the longest running job still needs.
            left_running = [max(0.0, mean - (now - started)) for _, started in self.running.values()]
            work = sum(left_running) + self.queued * mean
            return max(work / max(1, self.workers), max(left_running, default=0.0))

    def note(self, message: str) -> None:
        """Something the user should know about one job (e.g. it resumes)."""
        with self._lock:
            self.notes.append(message)

    def job_started(self, candidate: str) -> None:
        with self._lock:
            self.running[candidate] = ("starting", self.clock())

    def job_phase(self, candidate: str, phase: str) -> None:
        with self._lock:
            started = self.running.get(candidate, ("", self.clock()))[1]
            self.running[candidate] = (phase, started)

    def job_finished(self, candidate: str, state: str, error: str | None) -> None:
        with self._lock:
            _, started = self.running.pop(candidate, ("", self.clock()))
            self.durations.append(self.clock() - started)
            self.done += 1
            self.errors += state == "error"

    def refresh(self) -> None:
        """Redraw, where the display is live."""

    def close(self) -> None:
        """End the display."""

    def summary(self) -> str:
        eta = self.eta_seconds()
        eta_text = f", about {_duration(eta)} left" if eta is not None and self.done < self.total else ""
        return (f"{self.done}/{self.total} done ({self.errors} errors), {len(self.running)} running, "
                f"{self.queued} queued{eta_text}")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class PlainProgress(BatchProgress):
    """One line per event, for logs and pipes."""

    def __init__(self, total: int, done: int, workers: int, stream: TextIO,
                 clock: Callable[[], float] = time.monotonic, errors: int = 0) -> None:
        super().__init__(total, done, workers, clock, errors)
        self.stream = stream
        self._last_phase: dict[str, str] = {}

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        super().note(message)
        self._line(f"note: {_shown(message, 300)}")

    def job_started(self, candidate: str) -> None:
        super().job_started(candidate)
        self._line(f"start {_shown(candidate)}")

    def job_phase(self, candidate: str, phase: str) -> None:
        super().job_phase(candidate, phase)
        if self._last_phase.get(candidate) != phase:
            self._last_phase[candidate] = phase
            self._line(f"  {_shown(candidate)}: {phase}")

    def job_finished(self, candidate: str, state: str, error: str | None) -> None:
        super().job_finished(candidate, state, error)
        reason = f": {_shown(error, 200)}" if error else ""
        self._line(f"{state} {_shown(candidate)}{reason} — {self.summary()}")


class LiveProgress(BatchProgress):
    """A table redrawn in place on a terminal: the counts and ETA, then one row per running job."""

    def __init__(self, total: int, done: int, workers: int, console: Console,
                 clock: Callable[[], float] = time.monotonic, errors: int = 0) -> None:
        super().__init__(total, done, workers, clock, errors)
        self.console = console
        self._live = Live(self._table(), console=console, refresh_per_second=4, transient=False)
        self._live.start()

    def _table(self) -> Table:
        table = Table(title=self.summary(), title_justify="left", show_edge=False)
        table.add_column("candidate")
        table.add_column("phase")
        table.add_column("for", justify="right")
        now = self.clock()
        for candidate, (phase, started) in sorted(self.running.items()):
            table.add_row(_shown(candidate), phase, _duration(now - started))
        return table

    def note(self, message: str) -> None:
        super().note(message)
        self.console.print(f"note: {_shown(message, 300)}", markup=False, highlight=False)

    def job_finished(self, candidate: str, state: str, error: str | None) -> None:
        super().job_finished(candidate, state, error)
        reason = f": {_shown(error, 200)}" if error else ""
        self.console.print(f"{state} {_shown(candidate)}{reason}", markup=False, highlight=False)
        self.refresh()

    def refresh(self) -> None:
        self._live.update(self._table())

    def close(self) -> None:
        self._live.update(self._table())
        self._live.stop()
