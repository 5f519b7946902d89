"""``pytest``: runs the candidate's test suite inside the sandbox and reads its JUnit XML.

The tests run in their own sandbox container with no network (the candidate's code never runs on
the host), on the submission as submitted — before the lab's steps, like a CI job on a fresh checkout
(they may run while the lab's services start). Passes when at least ``min_passed`` tests passed and,
with ``require_all_pass`` (the default), none failed or errored. Partial credit: with
``require_all_pass: false`` the points are shared in proportion of passed tests.

The outcomes are the grader's own: pytest runs under the grader's witness (``grader/probe/pytest_witness.py``),
a plug-in registered before any of the submission's code that records each test's raw outcome through a
channel the submission's hooks do not touch. pytest's exit status and its JUnit file (written to a per-run
random path) are cross-checked against it: a conftest or plug-in that turns failures into passes, drops
failing tests before they run, rewrites the exit status or writes a fake JUnit file fails the check with
what was altered, and the hooks that can alter outcomes are named in the evidence for the reviewer. A suite
that crashes or collects nothing fails with that reason. Where a lab needs tests it can trust beyond that,
its own hidden tests belong in the lab (a ``command`` or ``http`` check run by the grader).

Example::

    - {id: unit-tests, title: Unit tests pass, type: pytest, points: 3, path: tests, min_passed: 3}
"""

from __future__ import annotations

import secrets
import shlex
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.checks.pytest_witness import WitnessedRun, read_witness, tampering, witness_command
from grader.labs.manifest import SubmissionManifest
from grader.models import CheckOutcome
from grader.models.causes import explain_failure

MAX_JUNIT_BYTES = 8 * 1024 * 1024
EXIT_MEANING = {
    1: "some tests failed",
    2: "the run was interrupted (often an import error in a test module or conftest)",
    3: "pytest hit an internal error",
    4: "pytest was called wrongly (bad path or option)",
    5: "no tests were collected",
}


class Params(CheckParams):
    path: str = Field("tests", description="test path or node id given to pytest, relative to the submission")
    args: str = Field("", description="extra pytest arguments")
    min_passed: int = Field(1, ge=0, description="fewest passing tests needed")
    require_all_pass: bool = Field(True, description="fail when any test fails or errors")


@dataclass
class JUnitSummary:
    tests: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def parse_junit(xml_text: str) -> JUnitSummary:
    """Count outcomes per test case (not the suite's self-reported totals)."""
    root = ET.fromstring(xml_text)
    summary = JUnitSummary()
    for case in root.iter("testcase"):
        summary.tests += 1
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            summary.passed += 1
        elif outcome.tag == "skipped":
            summary.skipped += 1
        else:
            summary.failed += outcome.tag == "failure"
            summary.errors += outcome.tag == "error"
            if len(summary.failures) < 20:
                summary.failures.append({"test": name, "kind": outcome.tag,
                                         "message": (outcome.get("message") or "")[:300]})
    return summary


PYTEST_PREFIXES = (["pytest"], ["python", "-m", "pytest"], ["python3", "-m", "pytest"])


def pytest_arguments(params: Params, manifest_command: str | None) -> tuple[str, str | None]:
    """The arguments to give pytest: the manifest's own pytest command line when it is one, else the
    rubric's path. The second value explains why a manifest command was not used."""
    default = f"{shlex.quote(params.path)} {params.args}".strip()
    if not manifest_command:
        return default, None
    try:
        words = shlex.split(manifest_command)
    except ValueError:
        return default, f"tests.command {manifest_command!r} is not a valid command line"
    for prefix in PYTEST_PREFIXES:
        if words[: len(prefix)] == prefix:
            return shlex.join(words[len(prefix):]), None
    return default, f"tests.command {manifest_command!r} is not a pytest command; ran pytest on {params.path}"


def missing_tests(params: Params, ctx: CheckContext, manifest_command: str | None) -> str | None:
    """Why there is nothing to run, said as such, when the rubric's test path is not in the repository."""
    if manifest_command:
        return None
    target = params.path.split("::")[0]
    if not target or (ctx.submission_dir / target).exists():
        return None
    return (f"no tests found: the repository has no {target!r}; put your pytest tests there, or name your test "
            "command in capstone.yaml (tests.command)")


def _interpreted(exit_code: int | None, output: str) -> str:
    """What pytest's exit code means, with the cause its output names (e.g. the import error that stopped it)."""
    meaning = EXIT_MEANING.get(exit_code or 0, f"pytest exited with code {exit_code}")
    if exit_code == 5:
        return ("no tests found: pytest collected none (test files are named test_*.py or *_test.py, test "
                "functions test_*)")
    cause = explain_failure(output) if exit_code in (2, 3, 4) else None
    return f"{meaning}: {cause}" if cause else meaning


def _junit_summary(ctx: CheckContext, report_name: str) -> JUnitSummary | None:
    """pytest's own JUnit report, only to cross-check the witness: None when absent or unreadable."""
    copied = ctx.copy_from_sandbox(report_name, ctx.scratch_dir)
    junit_path = Path(copied) / report_name if copied and Path(copied).is_dir() else copied
    if junit_path is None or not Path(junit_path).is_file():
        return None
    try:
        return parse_junit(Path(junit_path).read_bytes()[:MAX_JUNIT_BYTES].decode("utf-8", "replace"))
    except ET.ParseError:
        return None


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    report_name = f".grader-junit-{secrets.token_hex(8)}.xml"
    manifest_command = ctx.manifest.tests.command if ctx.manifest is not None else None
    absent = missing_tests(params, ctx, manifest_command)
    if absent:
        return CheckOutcome.failed(absent, path=params.path)
    arguments, note = pytest_arguments(params, manifest_command)
    arguments = f"{arguments} -p no:cacheprovider --junitxml={report_name}"
    result = ctx.run_in_sandbox("pytest", witness_command(arguments), {})
    evidence: dict[str, Any] = {"command": f"python -m pytest {arguments}", "exit_code": result.exit_code,
                                "output_tail": (result.stdout + result.stderr)[-3000:]}
    if note:
        evidence["note"] = note
    if result.timed_out:
        return CheckOutcome.failed(f"the test suite {result.failure_reason}", **evidence)
    reading = read_witness(result.stdout)
    if reading.run is None:
        return CheckOutcome.failed(f"test results not accepted: {reading.problem}", **evidence)
    run = reading.run
    junit = _junit_summary(ctx, report_name)
    evidence.update(tests=run.passed + run.failed + run.errors + run.skipped, passed=run.passed, failed=run.failed,
                    errors=run.errors, skipped=run.skipped, failures=list(run.failures), collected=run.collected,
                    junit_passed=junit.passed if junit else None,
                    outcome_hooks=[hook.describe() for hook in run.hooks])
    altered = tampering(run, result.exit_code, junit.passed if junit else None)
    if altered:
        evidence["tampering"] = altered
        return CheckOutcome.failed(f"test results were altered: {altered[0]} (the grader observed {run.counts})",
                                   **evidence)
    return _judged(params, run, result.exit_code, evidence)


def _judged(params: Params, run: WitnessedRun, exit_code: int | None, evidence: dict[str, Any]) -> CheckOutcome:
    counts = run.counts
    output = evidence["output_tail"]
    broken = run.failed + run.errors
    if exit_code == 1 and not run.collected and not run.finished:  # pytest never started (e.g. not installed)
        cause = explain_failure(output) or "no cause in its output"
        return CheckOutcome.failed(f"pytest did not run: {cause}", **evidence)
    if exit_code not in (0, 1) and not (exit_code == 5 and params.min_passed == 0):
        return CheckOutcome.failed(f"{_interpreted(exit_code, output)} ({counts})", **evidence)
    first = f"; first failure: {run.failures[0]['test']}" if run.failures else ""
    if run.passed < params.min_passed:
        return CheckOutcome.failed(f"{counts}; at least {params.min_passed} passing tests needed{first}", **evidence)
    if params.require_all_pass and broken:
        return CheckOutcome.failed(f"{counts}{first}", **evidence)
    if broken:
        return CheckOutcome.partial(run.passed / max(1, run.passed + broken), counts, **evidence)
    return CheckOutcome.passed(counts, **evidence)


def waits_for_pipeline(manifest: SubmissionManifest) -> bool:
    """The manifest's ``tests.after: pipeline``: the tests need what preparation and training leave behind."""
    return manifest.tests.after == "pipeline"


CHECK = CheckType(name="pytest", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True,
                  waits_for_pipeline=waits_for_pipeline)
