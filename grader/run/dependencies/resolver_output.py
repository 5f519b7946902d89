"""What uv says, read on the host: why the dependency step failed, in the resolver's own words, which of the
candidate's requirements it names, and whether the package index was simply out of reach (nobody's answer to
grade: an InfrastructureError).

uv without a terminal writes ``error: <what>`` followed by ``  cause: <why>`` lines (continuations indented).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grader.errors import InfrastructureError
from grader.models import StepResult
from grader.run.dependencies.build import BuildReport
from grader.run.dependencies.requirements import Requirement, canonicalize_name, shorten

STAGES = {"resolve": "the requirements could not be resolved", "venv": "the environment could not be created",
          "install": "the resolved packages could not be installed"}
REASON_CHARS = 1500

_UNREACHABLE = re.compile(
    r"error sending request|dns error|error resolving DNS|tcp connect error|Connection refused|"
    r"invalid peer certificate|certificate verify failed|Network is unreachable|operation timed out", re.I)


def explain_build_failure(
    result: StepResult, report: BuildReport | None, requirements: Sequence[str]
) -> tuple[str, list[str]]:
    """The reason the dependency container failed and the requirements it names.

    Raises InfrastructureError when the index could not be reached (the container's fault is never a
    candidate's: a timeout or memory limit hit while building is said as such)."""
    if report is None:
        if result.timed_out or result.oom_killed:
            doing = re.findall(r"(?:Building|Downloading|Resolving) (\S+)", result.stderr)
            where = f" while at {doing[-1]}" if doing else ""
            return f"the dependency step {result.failure_reason}{where}", []
        raise InfrastructureError(f"the dependency step ended without a result ({result.failure_reason or 'exit 0'})"
                                  f": {shorten(_last_line(result.stderr), 300)}")
    if _UNREACHABLE.search(report.error) and report.stage == "resolve" and "No solution found" not in report.error:
        raise InfrastructureError(f"the dependency step could not reach the package index: "
                                  f"{shorten(resolver_reason(report.error), 300)}")
    reason = resolver_reason(report.error)
    failed = named_requirements(reason, requirements)
    return f"{STAGES.get(report.stage, report.stage)}: {reason}", failed


def resolver_reason(error: str) -> str:
    """uv's ``error:`` with its causes, as one line (the resolver's own words, whitespace folded); for a failed
    build, the build's last error line is added (the why behind "the build backend returned an error")."""
    lines = error.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return shorten(_last_line(error), REASON_CHARS) or "no output"
    block = lines[start:]
    end = next((i for i, line in enumerate(block[1:], 1) if line and not line.startswith((" ", "\t"))), len(block))
    parts = [re.sub(r"^(error|cause):\s*", "", line.strip()) for line in block[:end] if line.strip()]
    built = error.split("[stderr]", 1)[1] if "[stderr]" in error else ""
    build_errors = [line.strip() for line in built.splitlines() if "error" in line.lower() and
                    not line.strip().startswith("hint:")]
    if build_errors:
        parts.append(build_errors[-1])
    folded = re.sub(r"\s+", " ", " — ".join(parts)).replace(" — And ", " And ")
    return shorten(folded, REASON_CHARS)


def named_requirements(reason: str, requirements: Sequence[str]) -> list[str]:
    """The requirements (as the candidate wrote them, normalised) whose package the reason names."""
    words = {canonicalize_name(w) for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z0-9]", reason)}
    return [line for line in requirements if canonicalize_name(Requirement(line).name) in words]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
