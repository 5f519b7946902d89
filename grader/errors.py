"""The grader's own error hierarchy.

Everything below the CLI raises these, never engine- or library-specific exceptions, so the CLI can map
an outcome to an exit code without knowing where it came from. The split that matters is *whose fault*:
bad input from a user (exit 2) versus an infrastructure failure the candidate cannot be blamed for (exit 3).
A candidate's bug is neither: it is a graded result.
"""

from __future__ import annotations


class GraderError(Exception):
    """Base of every error the grader raises on purpose."""

    exit_code = 3


class BadInputError(GraderError):
    """The user gave something unusable: a bad argument, lab, rubric or submission (exit code 2)."""

    exit_code = 2


class LabError(BadInputError):
    """A lab or rubric file is missing or invalid. `location` is ``file:line`` when known."""

    def __init__(self, message: str, location: str | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class SubmissionError(BadInputError):
    """A submission was refused at intake (unreadable, unsafe or over a limit)."""


class InfrastructureError(GraderError):
    """The grader or its engine failed (no engine, image build failed, engine lost mid-run): exit code 3."""


class EngineLostError(InfrastructureError):
    """The sandbox engine stopped answering mid-run (restarted, crashed, socket gone). Nothing observed from
    then on can be trusted, so the whole run ends in error rather than one check: it is never the candidate's."""


class RuntimeUnavailableError(InfrastructureError):
    """The container runtime a lab requires (or the operator asked for) is not offered by the engine."""


class SandboxTimeout(GraderError):
    """A sandboxed command outlived its wall-time limit. Raised only inside the sandbox layer."""
