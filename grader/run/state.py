"""The state of one grading run: the one object the run's phases write to.

Everything a try at grading learns (steps, services, check results, timings, the dependency outcome, the
failure that ended it) lives here, and nowhere else, until the run ends: then the report is assembled from
it once (``grader.run.assemble``). A retry gets a fresh state that keeps only what does not depend on the
sandbox: the run id, the submission as taken in, its manifest and the earlier tries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.evidence.local_store import LocalStores
from grader.labs.loading import LoadedLab
from grader.labs.manifest import SubmissionManifest
from grader.models import Attempt, CheckResult, ServiceResult, StepResult, SubmissionInfo

# Timings a retry keeps: the submission was taken in once for every try.
KEPT_ACROSS_ATTEMPTS = ("intake",)


class RunObserver:
    """Progress callbacks, so the CLI can show what happens without the library printing.

    Every callback does nothing here: an observer overrides only what it shows.
    """

    def phase_started(self, phase: str) -> None: ...
    def phase_finished(self, phase: str, seconds: float) -> None: ...
    def log(self, message: str) -> None: ...
    def step_finished(self, result: StepResult) -> None: ...
    def service_started(self, result: ServiceResult) -> None: ...
    def check_finished(self, result: CheckResult) -> None: ...


QuietObserver = RunObserver


@dataclass
class RunState:
    """What one try at grading a submission has found so far. Owned by the run; the report is built from it."""

    run_id: str
    lab: LoadedLab
    backend: str
    observer: RunObserver
    clock: Callable[[], float]
    scratch: Path
    started_at: str  # wall-clock start of the run (ISO 8601, UTC), the same for every try
    # Taken in once, kept by every try:
    submission: SubmissionInfo | None = None
    manifest: SubmissionManifest = field(default_factory=SubmissionManifest)
    manifest_file: dict[str, str | None] = field(default_factory=dict)  # which file was read, or why none
    attempts: list[Attempt] = field(default_factory=list)  # the tries before this one, then this one
    # Found by this try:
    images: dict[str, str] = field(default_factory=dict)  # image definition → content digest
    runtime: str = ""
    started_at_ms: int = 0  # wall clock when the sandbox opened: evidence newer than this is the run's own
    steps: dict[str, StepResult] = field(default_factory=dict)  # in the order they ran
    services: dict[str, ServiceResult] = field(default_factory=dict)  # in the order they started
    checks: dict[str, CheckResult] = field(default_factory=dict)  # in the order they were graded
    candidate_env: dict[str, str] = field(default_factory=dict)  # e.g. PYTHONPATH of installed requirements
    dependencies: Any = None  # grader.run.dependencies.DependencyOutcome
    watch_local_stores: bool = False  # read MLflow stores the steps leave in the work area (a check asks for them)
    local_stores: LocalStores = field(default_factory=LocalStores)  # what the steps left there, newest reading
    blocked_reason: str | None = None  # set when no step may run (dependencies failed with on_failure: stop)
    built_image: str | None = None  # id of the image built from the submission (lab ``build``), when it built
    error: str | None = None  # why this try ended on the grader's side (infrastructure failure, interrupt)
    timing: dict[str, float] = field(default_factory=dict)
    _timing_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_timing(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to the phase ``name`` (thread-safe: background work times itself too)."""
        with self._timing_lock:
            self.timing[name] = round(self.timing.get(name, 0) + seconds, 3)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a phase of the run and tell the observer when it starts and ends."""
        self.observer.phase_started(name)
        started = self.clock()
        try:
            yield
        finally:
            elapsed = round(self.clock() - started, 3)
            self.add_timing(name, elapsed)
            self.observer.phase_finished(name, elapsed)

    def record_step(self, result: StepResult) -> None:
        """A step (or the submission's image build) ended, ran or not."""
        self.steps[result.id] = result
        self.observer.step_finished(result)

    def record_service(self, result: ServiceResult) -> None:
        """A service was started (or not, with the reason)."""
        self.services[result.id] = result
        self.observer.service_started(result)

    def record_check(self, result: CheckResult) -> None:
        """A check of the rubric has its result."""
        self.checks[result.id] = result
        self.observer.check_finished(result)

    def record_attempt(self, number: int, seconds: float) -> None:
        """This try ended: remember its number, outcome and duration with the earlier ones."""
        outcome = "error" if self.error is not None else "graded"
        self.attempts.append(Attempt(number=number, outcome=outcome, error=self.error, duration_s=round(seconds, 3)))

    def next_attempt(self, number: int) -> RunState:
        """A fresh state for try ``number``: the run id, submission, manifest and earlier tries stay; everything
        this try produced goes (results, timings, scratch files such as copied-out artifacts)."""
        scratch = self.scratch / f"attempt-{number}"  # inside the run's scratch folder, removed with it
        scratch.mkdir()
        return RunState(
            run_id=self.run_id, lab=self.lab, backend=self.backend, observer=self.observer, clock=self.clock,
            scratch=scratch, started_at=self.started_at, submission=self.submission, manifest=self.manifest,
            manifest_file=dict(self.manifest_file), attempts=list(self.attempts),
            timing={name: seconds for name, seconds in self.timing.items() if name in KEPT_ACROSS_ATTEMPTS},
        )
