"""What the sandbox and the check types produce: step, service and check results."""

from __future__ import annotations

import signal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field

from grader.models.causes import error_excerpt, explain_failure
from grader.models.rubric import Visibility
from grader.models.safe_text import SafeData, SafeStr

# --- results -----------------------------------------------------------------------------------


class Status(StrEnum):
    passed = "pass"
    failed = "fail"
    error = "error"
    skipped = "skip"
    manual = "manual"  # needs a reviewer: not decided by the grader, not in the automatic score


# What the sandbox's limits make a shell report as exit code 128 + signal: named so a report says why.
_SIGNAL_MEANINGS = {
    "SIGKILL": "killed", "SIGXFSZ": "file size limit exceeded", "SIGXCPU": "CPU time limit exceeded",
    "SIGSEGV": "segmentation fault", "SIGABRT": "aborted", "SIGTERM": "terminated", "SIGPIPE": "broken pipe",
}


def describe_exit_code(code: int | None) -> str:
    """``exited with code N``, naming the signal when N is 128 + a signal number (how a shell reports a killed
    command), e.g. ``exited with code 153 (SIGXFSZ: file size limit exceeded)``."""
    text = f"exited with code {code}"
    if code is None or not 128 < code < 128 + signal.NSIG:
        return text
    try:
        name = signal.Signals(code - 128).name
    except ValueError:
        return text
    meaning = _SIGNAL_MEANINGS.get(name)
    return f"{text} ({name}: {meaning})" if meaning else f"{text} ({name})"


class StepResult(BaseModel):
    """What a sandboxed command did. Output is capped; ``*_truncated`` says how much was cut."""

    id: str
    command: SafeStr
    exit_code: int | None
    duration_s: float
    time_limit_s: float | None = Field(None, description="the wall-time limit it ran under")
    timed_out: bool = False
    oom_killed: bool = False
    skipped_reason: str | None = None
    stdout: SafeStr = ""
    stderr: SafeStr = ""
    stdout_truncated: int = 0
    stderr_truncated: int = 0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.skipped_reason is None

    @property
    def failure_reason(self) -> str | None:
        if self.skipped_reason:
            return f"skipped: {self.skipped_reason}"
        if self.timed_out and self.time_limit_s:
            # The limit, not the measured time: killing and reaping add a fraction of a second.
            return f"timed out after {self.time_limit_s:g}s"
        if self.timed_out:
            return f"timed out after {self.duration_s:.0f}s"
        if self.oom_killed:
            return "killed: out of memory"
        if self.exit_code != 0:
            return describe_exit_code(self.exit_code)
        return None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cause(self) -> str | None:
        """What the candidate's output says went wrong, and what to change (None when it ran or says nothing)."""
        if self.succeeded or self.skipped_reason or self.timed_out:
            return None
        return explain_failure(self.stderr) or explain_failure(self.stdout)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_lines(self) -> str:
        """The last lines of the failure (its last traceback), capped; empty when it succeeded."""
        if self.succeeded or self.skipped_reason:
            return ""
        return error_excerpt(self.stderr) or error_excerpt(self.stdout)


class ServiceResult(BaseModel):
    id: str
    ready: bool
    message: SafeStr
    ready_after_s: float | None = None
    log_tail: SafeStr = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cause(self) -> str | None:
        """Why a service that never became ready failed, read from its log (a ready one: None). Only a service
        that never answered is explained, so no request of the grader's can be echoed here."""
        if self.ready or not self.log_tail:
            return None
        return explain_failure(self.log_tail)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_lines(self) -> str:
        """The last lines of the log of a service that never became ready, capped."""
        return "" if self.ready else error_excerpt(self.log_tail)


class CheckOutcome(BaseModel):
    """What a check type returns; the runner adds the rubric's identity and points to make a CheckResult."""

    status: Status
    message: SafeStr
    score_fraction: float = Field(1.0, ge=0, le=1, description="share of the points earned when it passes")
    evidence: SafeData = Field(default_factory=dict)

    @classmethod
    def passed(cls, message: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.passed, message=message, evidence=evidence)

    @classmethod
    def failed(cls, message: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.failed, message=message, score_fraction=0, evidence=evidence)

    @classmethod
    def partial(cls, fraction: float, message: str, /, **evidence: Any) -> CheckOutcome:
        status = Status.passed if fraction >= 1 else Status.failed
        return cls(status=status, message=message, score_fraction=max(0.0, min(1.0, fraction)), evidence=evidence)

    @classmethod
    def skipped(cls, message: str) -> CheckOutcome:
        return cls(status=Status.skipped, message=message, score_fraction=0)

    @classmethod
    def errored(cls, message: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.error, message=message, score_fraction=0, evidence=evidence)

    @classmethod
    def for_review(cls, instructions: str, /, **evidence: Any) -> CheckOutcome:
        return cls(status=Status.manual, message=instructions, score_fraction=0, evidence=evidence)


class CheckResult(BaseModel):
    id: str
    title: str
    section: str
    type: str
    status: Status
    points: float
    max_points: float
    message: SafeStr
    evidence: SafeData = Field(default_factory=dict)
    visibility: Visibility = Visibility.public
    hint: str | None = None
    duration_s: float = 0.0
    required: bool = Field(False, description="the rubric requires it for a pass, whatever the score")
