"""``lint``: the repository configures a linter, and the linter passes when the grader runs it.

The grader's own ruff binary (a dependency of the grader) is mounted read-only into a container with no
network that sees the submission as submitted, read-only; it runs there with the candidate's
configuration (``ruff check``, or ``ruff format --check`` with ``mode: format``), never on the host.
Passes when a ruff configuration is present (``ruff.toml``, ``.ruff.toml`` or ``[tool.ruff]`` in
``pyproject.toml``; not needed with ``require_config: false``) and ruff exits 0. Configurations of other
linters and formatters (flake8, pylint, black) are listed in the evidence. Findings fail the check with
the first one named; a configuration ruff cannot read fails with ruff's message.

Example::

    - {id: linter, title: Linter configured and clean, type: lint, points: 2}
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.errors import InfrastructureError
from grader.models import CheckOutcome
from grader.sandbox.tools import INPUT_MOUNT, find_tool, tool_path

OUTPUT_TAIL = 3000
RUFF_FILES = ("ruff.toml", ".ruff.toml")
# file → pattern that marks a linter's configuration in it
OTHER_LINTERS = {
    "flake8": ((".flake8", None), ("setup.cfg", r"^\[flake8\]"), ("tox.ini", r"^\[flake8\]")),
    "pylint": ((".pylintrc", None), ("pylintrc", None), ("pyproject.toml", r"^\[tool\.pylint")),
    "black": (("pyproject.toml", r"^\[tool\.black\]"),),
}


class Params(CheckParams):
    mode: Literal["check", "format"] = Field("check", description="``ruff check``, or ``ruff format --check``")
    require_config: bool = Field(True, description="fail when the repository has no ruff configuration")


def ruff_config(ctx: CheckContext) -> str | None:
    """Where the repository configures ruff, or None."""
    for name in RUFF_FILES:
        if ctx.find(name):
            return name
    pyproject = ctx.find("pyproject.toml")
    if pyproject and re.search(r"^\[tool\.ruff", ctx.read_text(pyproject[0]), re.MULTILINE):
        return "pyproject.toml [tool.ruff]"
    return None


def other_linters(ctx: CheckContext) -> list[str]:
    found = []
    for linter, places in OTHER_LINTERS.items():
        for name, pattern in places:
            paths = ctx.find(name)
            if paths and (pattern is None or re.search(pattern, ctx.read_text(paths[0]), re.MULTILINE)):
                found.append(f"{linter} ({name})")
                break
    return found


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    config, others_found = ruff_config(ctx), other_linters(ctx)
    evidence: dict[str, object] = {"ruff_config": config, "other_linters": others_found}
    if config is None and params.require_config:
        others = f" (found {', '.join(others_found)}; the grader runs ruff)" if others_found else ""
        return CheckOutcome.failed(f"no ruff configuration: add [tool.ruff] to pyproject.toml or a ruff.toml{others}",
                                   **evidence)
    ruff = find_tool("ruff")
    arguments = ["check", "--no-cache", "--output-format", "concise", "."] if params.mode == "check" \
        else ["format", "--check", "--no-cache", "."]
    command = f"cd {INPUT_MOUNT} && {shlex.join([tool_path('ruff'), *arguments])}"
    result = ctx.run_tool(f"ruff-{params.mode}", command, {"ruff": ruff}, ctx.submission_dir)
    output = (result.stdout + result.stderr).strip()
    evidence.update(command=f"ruff {' '.join(arguments)}", exit_code=result.exit_code, output=output[-OUTPUT_TAIL:])
    if result.timed_out or result.exit_code is None:
        raise InfrastructureError(f"ruff did not finish: {result.failure_reason}")
    if result.exit_code == 0:
        return CheckOutcome.passed(f"ruff {params.mode} passes ({config or 'default settings'})", **evidence)
    first = next((line for line in output.splitlines() if line.strip()), "")
    if result.exit_code == 1:
        return CheckOutcome.failed(f"ruff {params.mode} finds problems: {first[:300]}", **evidence)
    return CheckOutcome.failed(f"ruff cannot run on the repository (exit {result.exit_code}): {first[:300]}",
                               **evidence)


CHECK = CheckType(name="lint", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
