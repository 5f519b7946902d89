"""What the grader's witness saw of a candidate's pytest run, and where the run's own reports disagree.

The witness (``grader/probe/pytest_witness.py``) runs the suite with the grader's plug-in registered before
any of the submission's code and prints one ``GRADER-PYTEST-WITNESS`` line. Its counts are the score;
pytest's exit status and the JUnit file are only cross-checked against them. A disagreement, a forged or
missing witness line, or tests the submission's hooks removed before they ran, is *tampering*: named in the
report and never scored as passed.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from grader.probe import PROBE_DIR
from grader.probe.pytest_witness import WITNESS_MARKER

WITNESS_SOURCE = PROBE_DIR / "pytest_witness.py"


def witness_command(arguments: str) -> str:
    """The sandbox command that runs pytest with these (shell-quoted) arguments under the grader's witness."""
    return f"python -c {shlex.quote(WITNESS_SOURCE.read_text())} {arguments}"


@dataclass(frozen=True)
class HookSeen:
    """A hook implementation, other than pytest's own, through which outcomes can be altered."""

    hook: str
    where: str
    in_submission: bool
    wrapper: bool

    def describe(self) -> str:
        kind = "hook wrapper" if self.wrapper else "hook"
        return f"{self.where} implements {self.hook} ({kind})"


@dataclass(frozen=True)
class WitnessedRun:
    """Per-test outcomes as the grader's plug-in observed them (worst phase of each test wins)."""

    exit_code: int
    collected: int
    passed: int
    failed: int
    errors: int
    skipped: int
    never_run: tuple[str, ...] = ()
    never_run_count: int = 0
    never_run_by_options: bool = False
    hooks: tuple[HookSeen, ...] = ()
    failures: tuple[dict[str, str], ...] = ()
    finished: bool = False
    rejected_records: int = 0

    @property
    def counts(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.errors} errors, {self.skipped} skipped"

    @property
    def dropped_by_hooks(self) -> int:
        """Collected tests that never ran although no option (-k, -m, --deselect, -x) explains it."""
        return 0 if self.never_run_by_options else self.never_run_count

    def submission_hooks(self) -> list[HookSeen]:
        return [hook for hook in self.hooks if hook.in_submission]


@dataclass(frozen=True)
class WitnessReading:
    """The witness line found in a sandbox's stdout, or why there is none to trust."""

    run: WitnessedRun | None
    problem: str | None = None
    lines: int = field(default=0)


def read_witness(stdout: str) -> WitnessReading:
    """The single witness line of a run. Two or more mean a process of the candidate wrote one too."""
    found = [line[len(WITNESS_MARKER):] for line in stdout.splitlines() if line.startswith(WITNESS_MARKER)]
    if not found:
        return WitnessReading(None, "the grader's record of the test run is missing (the test process or its "
                                    "parent was killed, or the output was cut)")
    if len(found) > 1:
        return WitnessReading(None, f"the test run's output holds {len(found)} grader result lines where the "
                                    "grader writes one: the submission forged one", len(found))
    try:
        raw: dict[str, Any] = json.loads(found[0])
        run = WitnessedRun(
            exit_code=int(raw["exit_code"]), collected=int(raw["collected"]), passed=int(raw["passed"]),
            failed=int(raw["failed"]), errors=int(raw["errors"]), skipped=int(raw["skipped"]),
            never_run=tuple(str(t) for t in raw.get("never_run", [])),
            never_run_count=int(raw.get("never_run_count", 0)),
            never_run_by_options=bool(raw.get("never_run_by_options")),
            hooks=tuple(HookSeen(str(h["hook"]), str(h["where"]), bool(h["in_submission"]), bool(h["wrapper"]))
                        for h in raw.get("hooks", [])),
            failures=tuple({k: str(v) for k, v in f.items()} for f in raw.get("failures", [])),
            finished=bool(raw.get("finished")), rejected_records=int(raw.get("rejected_records", 0)),
        )
    except (ValueError, KeyError, TypeError) as exc:
        return WitnessReading(None, f"the grader's record of the test run is unreadable ({exc})", 1)
    return WitnessReading(run, None, 1)


def tampering(run: WitnessedRun, exit_code: int | None, junit_passed: int | None) -> list[str]:
    """Every way the run's self-reports (exit status, JUnit file, records) contradict what the witness saw."""
    found = []
    broken = run.failed + run.errors
    if run.rejected_records:
        found.append(f"{run.rejected_records} forged records were written to the grader's channel")
    if exit_code == 0 and broken:
        found.append(f"pytest exited 0 although {broken} tests failed or errored (exit status rewritten)")
    if junit_passed is not None and junit_passed > run.passed:
        found.append(f"the JUnit report lists {junit_passed} passed tests but only {run.passed} passed")
    if run.dropped_by_hooks:
        shown = ", ".join(run.never_run[:3])
        found.append(f"{run.dropped_by_hooks} collected tests were removed before running, with no -k, -m or "
                     f"--deselect option asking for it ({shown})")
    if found:
        hooks = [hook.describe() for hook in run.submission_hooks()]
        if hooks:
            found.append("outcome-altering hooks in the submission: " + "; ".join(hooks[:5]))
    return found
