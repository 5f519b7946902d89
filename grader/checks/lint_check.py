"""``lint``: the repository configures a linter or formatter, and it passes when the grader runs it.

The candidate's own tool runs with the candidate's configuration: whichever of ruff, flake8, pylint and
black (``--check``) the repository configures (``ruff.toml``/``[tool.ruff]``, ``.flake8``/``[flake8]`` in
``setup.cfg`` or ``tox.ini``, ``.pylintrc``/``[tool.pylint]``, ``[tool.black]``, a hook in
``.pre-commit-config.yaml``; without any of those, a CI step or Makefile target that runs it, with its
options), in the order of ``linters`` (a rubric that prefers one lists only it or puts it first). Each
runs in a container with no network that sees the submission read-only, never on the host: ruff is the
grader's own binary; flake8, pylint and black run with the sandbox image's Python from the
folder ``GRADER_PYTHON_LINTERS`` names (default ``~/.cache/capstone-grader/python-linters``; fill it with
``scripts/ensure-python-linters.sh``), mounted read-only.

Passes when every configured tool that can run passes; findings fail with the first one named. A tool that
is configured but not available to the grader is said as such and not held against the candidate (the check
is skipped when nothing configured can run). Without any configuration it fails saying so
(``require_config: false`` runs ruff with its defaults instead). ``mode: format`` runs ``ruff format --check``.

Example::

    - {id: linter, title: Linter configured and clean, type: lint, points: 2}
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.checks.ci_check import command_lines, find_pipelines
from grader.errors import InfrastructureError
from grader.models import CheckOutcome, StepResult
from grader.sandbox.tools import INPUT_MOUNT, find_tool, tool_path

OUTPUT_TAIL = 3000
Linter = Literal["ruff", "flake8", "pylint", "black"]
ALL_LINTERS: tuple[Linter, ...] = ("ruff", "flake8", "pylint", "black")
PYTHON_LINTERS_ENV = "GRADER_PYTHON_LINTERS"
DEFAULT_PYTHON_LINTERS = "~/.cache/capstone-grader/python-linters"
# linter → (file, pattern that marks its configuration in it (None: the file itself), how to name it)
CONFIG_PLACES: dict[str, tuple[tuple[str, str | None, str], ...]] = {
    "ruff": (("ruff.toml", None, "ruff.toml"), (".ruff.toml", None, ".ruff.toml"),
             ("pyproject.toml", r"^\[tool\.ruff", "pyproject.toml [tool.ruff]")),
    "flake8": ((".flake8", None, ".flake8"), ("setup.cfg", r"^\[flake8\]", "setup.cfg [flake8]"),
               ("tox.ini", r"^\[flake8\]", "tox.ini [flake8]")),
    "pylint": ((".pylintrc", None, ".pylintrc"), ("pylintrc", None, "pylintrc"),
               ("pyproject.toml", r"^\[tool\.pylint", "pyproject.toml [tool.pylint]"),
               ("setup.cfg", r"^\[pylint", "setup.cfg [pylint]")),
    "black": (("pyproject.toml", r"^\[tool\.black\]", "pyproject.toml [tool.black]"),),
}
PRE_COMMIT_HOOKS = {"ruff": r"ruff-pre-commit|^\s*-\s*id:\s*ruff\b", "flake8": r"pycqa/flake8|id:\s*flake8\b",
                    "pylint": r"pylint", "black": r"psf/black|id:\s*black\b"}
RUNS_LINTER = re.compile(r"(?:^|[\s;&|(])(?:python3?\s+-m\s+)?(ruff|flake8|pylint|black)\b(?!-)")
NEUTRALISING_OPTIONS = frozenset({"--exit-zero", "--fix", "--exit-zero-even-if-changed", "-i", "--in-place"})
MISSING_MODULE = re.compile(r"No module named '?(flake8|pylint|black)'?")


class Params(CheckParams):
    mode: Literal["check", "format"] = Field("check", description="ruff: ``ruff check`` or ``ruff format --check``")
    require_config: bool = Field(True, description="fail when the repository configures none of ``linters`` "
                                 "(false: run ruff with its defaults)")
    linters: list[Linter] = Field(list(ALL_LINTERS), min_length=1,
                                  description="the linters accepted, in order of preference")


@dataclass(frozen=True)
class ToolRun:
    linter: str
    config: str
    result: StepResult | None  # None: the tool is not available to the grader

    @property
    def output(self) -> str:
        return ((self.result.stdout + self.result.stderr).strip() if self.result else "")


def configured_linters(ctx: CheckContext) -> dict[str, str]:
    """Each configured linter and where, e.g. ``{"flake8": "setup.cfg [flake8]"}``. Without a configuration file
    or pre-commit hook, the linters a CI step or Makefile target runs (``{"flake8": "run by Makefile"}``)."""
    found: dict[str, str] = {}
    for linter, places in CONFIG_PLACES.items():
        for name, pattern, label in places:
            paths = ctx.find(name)
            if paths and (pattern is None or re.search(pattern, ctx.read_text(paths[0]), re.MULTILINE)):
                found[linter] = label
                break
    hooks = ctx.find(".pre-commit-config.yaml") or ctx.find(".pre-commit-config.yml")
    if hooks:
        text = ctx.read_text(hooks[0])
        for linter, pattern in PRE_COMMIT_HOOKS.items():
            if linter not in found and re.search(pattern, text, re.MULTILINE):
                found[linter] = f"{ctx.relative(hooks[0])} hook"
    return found or {linter: f"run by {where}" for linter, (where, _) in linters_run_by_ci_or_make(ctx).items()}


def linters_run_by_ci_or_make(ctx: CheckContext) -> dict[str, tuple[str, list[str]]]:
    """Linters a CI pipeline or a Makefile target runs, where, and the options it gives them."""
    found: dict[str, tuple[str, list[str]]] = {}
    sources = [(p.path, p.commands) for p in find_pipelines(ctx)]
    sources += [(ctx.relative(m), (ctx.read_text(m),)) for m in ctx.find("Makefile")]
    for where, commands in sources:
        for line in (line for command in commands for line in command_lines(command)):
            match = RUNS_LINTER.search(line)
            if match and match.group(1) not in found:
                found[match.group(1)] = (where, _options(line[match.end():], ctx))
    return found


def _options(rest: str, ctx: CheckContext) -> list[str]:
    """The options and paths a CI line gives its linter, up to the next shell operator; never options that hide
    findings, never a path outside the repository."""
    try:
        words = shlex.split(re.split(r"&&|\|\||;|\||>", rest)[0])
    except ValueError:
        return []
    options = [w for w in words if w.startswith("-") and "$" not in w and w not in NEUTRALISING_OPTIONS]
    paths = [w for w in words if not w.startswith("-") and "$" not in w and not Path(w).is_absolute()
             and ".." not in Path(w).parts and (ctx.submission_dir / w).exists()]
    return options + (paths or ["."])


def python_linters_folder() -> Path | None:
    """Where flake8, pylint and black are installed for the sandbox (scripts/ensure-python-linters.sh), or None."""
    folder = Path(os.environ.get(PYTHON_LINTERS_ENV) or DEFAULT_PYTHON_LINTERS).expanduser()
    return folder if folder.is_dir() else None


def run_linter(linter: str, config: str, mode: str, ctx: CheckContext) -> ToolRun:
    if linter == "ruff":
        arguments = ["check", "--no-cache", "--output-format", "concise", "."] if mode == "check" \
            else ["format", "--check", "--no-cache", "."]
        command = f"cd {INPUT_MOUNT} && {shlex.join([tool_path('ruff'), *arguments])}"
        return ToolRun(linter, config, ctx.run_tool(f"ruff-{mode}", command, {"ruff": find_tool("ruff")},
                                                    ctx.submission_dir))
    folder = python_linters_folder()
    if folder is None:
        return ToolRun(linter, config, None)
    ci_options = linters_run_by_ci_or_make(ctx).get(linter, ("", []))[1] if config.startswith("run by ") else []
    ci_options = ci_options or ["."]
    arguments = {"flake8": ["-m", "flake8", *ci_options],
                 "pylint": ["-m", "pylint", "--recursive=y", "--persistent=n", *ci_options],
                 "black": ["-m", "black", "--check", "."]}[linter]
    command = (f"cd {INPUT_MOUNT} && PYTHONPATH={tool_path('python-linters')} PYTHONDONTWRITEBYTECODE=1 "
               f"{shlex.join(['python', *arguments])}")
    result = ctx.run_tool(linter, command, {"python-linters": folder}, ctx.submission_dir)
    if result.exit_code not in (0, None) and MISSING_MODULE.search(result.stdout + result.stderr):
        return ToolRun(linter, config, None)
    return ToolRun(linter, config, result)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    configured = configured_linters(ctx)
    chosen = {name: configured[name] for name in params.linters if name in configured}
    evidence: dict[str, object] = {"configured": configured, "accepted": list(params.linters)}
    if not chosen:
        if params.require_config or "ruff" not in params.linters:
            others = f" (found {', '.join(f'{k} ({v})' for k, v in configured.items())}, which this rubric does " \
                     "not accept)" if configured else ""
            return CheckOutcome.failed(f"no linter configured{others}: configure one of {', '.join(params.linters)} "
                                       "(e.g. [tool.ruff] in pyproject.toml) and keep it clean", **evidence)
        chosen = {"ruff": "default settings"}
    runs = [run_linter(name, config, params.mode, ctx) for name, config in chosen.items()]
    evidence["runs"] = [{"linter": r.linter, "config": r.config, "available": r.result is not None,
                         "exit_code": r.result.exit_code if r.result else None, "output": r.output[-OUTPUT_TAIL:]}
                        for r in runs]
    ran = [r for r in runs if r.result is not None]
    unavailable = [f"{r.linter} is configured ({r.config}) but not available in the grader's image" for r in runs
                   if r.result is None]
    note = f" ({'; '.join(unavailable)})" if unavailable and ran else ""
    if not ran:
        return CheckOutcome.skipped(f"{'; '.join(unavailable)}: a reviewer should run it; not held against you")
    for run in ran:
        failure = _failure(run, params.mode)
        if failure:
            return CheckOutcome.failed(failure + note, **evidence)
    names = ", ".join(f"{r.linter} ({r.config})" for r in ran)
    return CheckOutcome.passed(f"{names} {'pass' if len(ran) > 1 else 'passes'}{note}", **evidence)


def _failure(run: ToolRun, mode: str) -> str | None:
    result = run.result
    assert result is not None
    if result.timed_out or result.exit_code is None:
        raise InfrastructureError(f"{run.linter} did not finish: {result.failure_reason}")
    if result.exit_code == 0:
        return None
    first = next((line for line in run.output.splitlines() if line.strip() and not line.startswith("*****")), "")
    label = f"ruff {mode}" if run.linter == "ruff" else run.linter
    if run.linter == "ruff" and result.exit_code != 1:
        return f"ruff cannot run on the repository (exit {result.exit_code}): {first[:300]}"
    if run.linter == "black":
        return f"black --check would reformat files ({run.config}): {first[:300] or 'run black .'}"
    return f"{label} finds problems: {first[:300]}"


CHECK = CheckType(name="lint", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
