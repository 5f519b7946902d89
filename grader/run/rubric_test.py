"""A rubric's own test: the reference must get full marks and every broken variant must lose exactly
the checks it declares — no more, no fewer, with the declared status. Checks that no variant makes
fail are listed as untested: nothing shows they can fail."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.labs.loading import load_lab, load_variants, materialize_variant
from grader.models import MANUAL_CHECK_TYPE, Report, Status
from grader.paths import ProjectPaths
from grader.run.orchestrate import Engine, GradeOptions, grade_submission


@dataclass
class CaseResult:
    """One graded submission of the rubric test and how it differs from what was declared."""

    name: str
    score: float
    max_score: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RubricTestResult:
    lab_id: str
    cases: list[CaseResult]
    untested: list[str]

    @property
    def ok(self) -> bool:
        return all(case.ok for case in self.cases)


def compare(report: Report, declared: dict[str, str]) -> list[str]:
    """Differences between the checks a report lost and the declared losses, one message per check."""
    # Manual items await a reviewer in every submission: they are never won or lost automatically.
    lost = {c.id: c.status.value for c in report.checks if c.status not in (Status.passed, Status.manual)}
    problems = []
    if report.outcome == "error":
        problems.append(f"the run ended in error: {report.error}")
    for check_id, status in sorted(lost.items()):
        if check_id not in declared:
            message = next(c.message for c in report.checks if c.id == check_id)
            problems.append(f"{check_id}: got {status} but was expected to pass ({message})")
        elif declared[check_id] != status:
            problems.append(f"{check_id}: got {status}, declared {declared[check_id]}")
    problems += [f"{check_id}: passed, declared {status}" for check_id, status in sorted(declared.items())
                 if check_id not in lost]
    return problems


def test_rubric(lab_reference: str, paths: ProjectPaths, engine: Engine,
                progress: Callable[[CaseResult], None] = lambda _: None) -> RubricTestResult:
    """Grade the lab's reference and every variant; compare each with its declaration."""
    lab = load_lab(lab_reference, paths)
    variants = load_variants(lab)
    cases = []
    with tempfile.TemporaryDirectory(prefix="grader-rubric-test-") as scratch:
        submissions: dict[str, tuple[Path, dict[str, str]]] = {"reference": (lab.reference_dir, {})}
        for name, variant in variants.items():
            folder = materialize_variant(lab, name, Path(scratch) / "variants" / name)
            submissions[name] = (folder, dict(variant.loses))
        for name, (folder, declared) in submissions.items():
            options = GradeOptions(out_dir=Path(scratch) / "reports" / name, store=False)
            report = grade_submission(str(folder), str(lab.directory), paths, engine, options).report
            case = CaseResult(name, report.score, report.max_score, compare(report, declared))
            cases.append(case)
            progress(case)
    failing = {check for variant in variants.values() for check, status in variant.loses.items() if status == "fail"}
    untested = [c.id for c in lab.rubric.rubric.checks if c.id not in failing and c.type != MANUAL_CHECK_TYPE]
    return RubricTestResult(lab.lab.id, cases, untested)


test_rubric.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name
