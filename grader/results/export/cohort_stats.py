"""The figures of a cohort report: score distribution, per-check pass rates, checks no submission passes,
and the slowest phases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grader.models import Report, Status
from grader.results.export.entries import CohortEntry

BINS = 10  # score distribution in tenths of the maximum
SLOWEST_PHASES = 8


@dataclass(frozen=True)
class CheckRate:
    """How many graded submissions passed one check."""

    check_id: str
    title: str
    section: str
    passed: int
    graded: int

    @property
    def percent(self) -> float:
        return 100 * self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class PhaseTime:
    """How long a phase of the grading took across the cohort, in seconds."""

    phase: str
    mean_s: float
    max_s: float
    runs: int


@dataclass(frozen=True)
class CohortStats:
    graded: int
    errors: int
    pending: int
    passed: int
    mean_percent: float | None
    median_percent: float | None
    histogram: tuple[int, ...]  # BINS counts: [0,10) … [90,100]
    rates: tuple[CheckRate, ...]
    failing_everywhere: tuple[CheckRate, ...]
    slowest: tuple[PhaseTime, ...]


def cohort_stats(entries: Sequence[CohortEntry]) -> CohortStats:
    """The figures of a cohort from each candidate's newest report."""
    reports = [e.report for e in entries if e.report is not None and e.report.outcome == "graded"]
    percents = sorted(100 * r.score / r.max_score if r.max_score else 0.0 for r in reports)
    histogram = [0] * BINS
    for percent in percents:
        histogram[min(BINS - 1, int(percent // (100 / BINS)))] += 1
    rates = _rates(reports)
    return CohortStats(
        graded=len(reports),
        errors=sum(1 for e in entries if e.state == "error"),
        pending=sum(1 for e in entries if e.state in ("queued", "running")),
        passed=sum(1 for r in reports if r.passed),
        mean_percent=sum(percents) / len(percents) if percents else None,
        median_percent=_median(percents),
        histogram=tuple(histogram),
        rates=tuple(rates),
        failing_everywhere=tuple(rate for rate in rates if rate.graded and rate.passed == 0),
        slowest=tuple(_phase_times(reports)),
    )


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _rates(reports: Sequence[Report]) -> list[CheckRate]:
    order: dict[str, tuple[str, str]] = {}
    counts: dict[str, list[int]] = {}
    for report in reports:
        for check in report.checks:
            if check.status is Status.manual:
                continue
            order.setdefault(check.id, (check.title, check.section))
            passed_graded = counts.setdefault(check.id, [0, 0])
            passed_graded[0] += check.status is Status.passed
            passed_graded[1] += 1
    return [CheckRate(check_id, title, section, *counts[check_id]) for check_id, (title, section) in order.items()]


def _phase_times(reports: Sequence[Report]) -> list[PhaseTime]:
    samples: dict[str, list[float]] = {}
    for report in reports:
        for phase, seconds in report.timing.items():
            if phase != "total":
                samples.setdefault(phase, []).append(seconds)
    times = [PhaseTime(phase, sum(values) / len(values), max(values), len(values)) for phase, values in samples.items()]
    return sorted(times, key=lambda t: t.mean_s, reverse=True)[:SLOWEST_PHASES]
