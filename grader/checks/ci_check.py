"""``ci``: a CI pipeline runs the tests — GitHub Actions, GitLab CI, CircleCI, Azure Pipelines, Bitbucket or Jenkins.

Reads every pipeline the repository declares (``.github/workflows/*.y*ml``, ``.gitlab-ci.yml``,
``.circleci/config.yml``, ``azure-pipelines.y*ml``, ``bitbucket-pipelines.yml``, ``Jenkinsfile``) and what
its steps run (``run``, ``script``, ``command``, ``sh`` ...; YAML read as plain data), and judges what the
pipeline does:

- pass: a step runs the tests (``pytest``, ``python -m unittest``, ``tox``, ``nox``, ``make test*``);
- partial: a Jenkins pipeline that runs the tests (``self_hosted_credit``: it only runs on a Jenkins server
  the candidate keeps, so nothing in the repository shows it ran), or a pipeline that only lints
  (``lint_credit``);
- fail (``build_credit``, 0 by default): it only builds, pushes or deploys, so it checks nothing; or there
  is no pipeline (a workflow outside ``.github/workflows/``, which GitHub never runs, is named as such).

Example::

    - {id: ci-workflow, title: CI runs the tests, type: ci, points: 2}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.models import CheckOutcome

MAX_PIPELINE_BYTES = 512 * 1024
# (system, glob) in the order they are reported
PIPELINE_FILES = (
    ("GitHub Actions", ".github/workflows/*.y*ml"),
    ("GitLab CI", ".gitlab-ci.y*ml"),
    ("CircleCI", ".circleci/config.y*ml"),
    ("Azure Pipelines", "azure-pipelines.y*ml"),
    ("Azure Pipelines", ".azure-pipelines/*.y*ml"),
    ("Bitbucket Pipelines", "bitbucket-pipelines.y*ml"),
    ("Jenkins", "Jenkinsfile"),
    ("Jenkins", "*/Jenkinsfile"),
)
SELF_HOSTED = frozenset({"Jenkins"})
COMMAND_KEYS = frozenset({"run", "script", "before_script", "after_script", "command", "bash", "pwsh",
                          "powershell", "inline", "inlineScript", "sh", "cmd"})
RUNS_TESTS = re.compile(r"\bpytest\b(?![^\n]*--collect-only)|\bpython\d?\s+-m\s+(unittest|pytest)\b|\btox\b|\bnox\b"
                        r"|\bmake\s+(-\S+\s+)*test[\w-]*|\bpoetry\s+run\s+pytest|\bnpm\s+(run\s+)?test\b")
LINTS = re.compile(r"\b(flake8|ruff|pylint|black|mypy|isort|pre-commit|pycodestyle|bandit)\b|\bmake\s+lint")
BUILDS = re.compile(r"docker\s+(build|push|compose)|docker-compose|build-push-action|\bdeploy|kubectl|helm|"
                    r"terraform|\bssh\b|gcloud|\baws\b|\baz\b")
INSTALLS = re.compile(r"\b(pip\d?|uv\s+pip|pipx|poetry|uv|conda|apt-get|apt)\s+(install|add)\b")
JENKINS_COMMENT = re.compile(r"^\s*//.*$|/\*.*?\*/", re.MULTILINE | re.DOTALL)


class Params(CheckParams):
    self_hosted_credit: float = Field(0.5, ge=0, le=1, description="share of the points for a Jenkins pipeline "
                                      "that runs the tests")
    lint_credit: float = Field(0.5, ge=0, le=1, description="share of the points for a pipeline that lints "
                               "but runs no tests")
    build_credit: float = Field(0.0, ge=0, le=1, description="share of the points for a pipeline that only "
                                "builds, pushes or deploys")


@dataclass(frozen=True)
class Pipeline:
    system: str
    path: str
    commands: tuple[str, ...]
    unreadable: str = ""

    def matching(self, pattern: re.Pattern[str]) -> str | None:
        """The first command with a line the pattern finds (comments and package installs left out)."""
        return next((c for c in self.commands if any(pattern.search(line) for line in command_lines(c))), None)


def command_lines(command: str) -> list[str]:
    """The lines of a step that do something: not comments, not ``pip install pytest``."""
    lines = (line.strip() for line in command.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "//")) and not INSTALLS.search(line)]


def yaml_commands(document: Any, key: str = "") -> list[str]:
    """Every command string under a command-like key (``run:``, ``script:`` ...), and ``uses:`` actions."""
    found: list[str] = []
    if isinstance(document, dict):
        for name, value in document.items():
            found += yaml_commands(value, str(name))
    elif isinstance(document, list):
        for item in document:
            found += yaml_commands(item, key)
    elif isinstance(document, str) and (key in COMMAND_KEYS or key == "uses"):
        found.append(document)
    return found


def read_pipeline(system: str, path: str, text: str) -> Pipeline:
    """What one pipeline file runs."""
    if system == "Jenkins":
        return Pipeline(system, path, tuple(line.strip() for line in JENKINS_COMMENT.sub("", text).splitlines()
                                            if line.strip()))
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        return Pipeline(system, path, (), unreadable=f"{path} is not valid YAML{where}")
    return Pipeline(system, path, tuple(yaml_commands(document)))


def find_pipelines(ctx: CheckContext) -> list[Pipeline]:
    seen: set[str] = set()
    pipelines = []
    for system, pattern in PIPELINE_FILES:
        for path in ctx.find(pattern):
            relative = ctx.relative(path)
            if relative not in seen:
                seen.add(relative)
                pipelines.append(read_pipeline(system, relative, ctx.read_text(path, MAX_PIPELINE_BYTES)))
    return pipelines


def _inactive_workflows(ctx: CheckContext) -> list[str]:
    return [ctx.relative(p) for p in ctx.find(".github/*/*.y*ml")
            if not ctx.relative(p).startswith(".github/workflows/")][:5]


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    pipelines = find_pipelines(ctx)
    evidence: dict[str, Any] = {"pipelines": [{"system": p.system, "path": p.path, "steps": len(p.commands)}
                                              for p in pipelines][:20]}
    if not pipelines:
        inactive = _inactive_workflows(ctx)
        if inactive:
            return CheckOutcome.failed(f"no active CI pipeline: {', '.join(inactive)} is outside .github/workflows/, "
                                       "so GitHub never runs it; move it there and make it run pytest",
                                       inactive=inactive, **evidence)
        return CheckOutcome.failed("no CI pipeline (looked for GitHub Actions, GitLab CI, CircleCI, Azure Pipelines, "
                                   "Bitbucket Pipelines and a Jenkinsfile): add .github/workflows/ci.yml with a step "
                                   "that runs pytest", **evidence)
    testing = [p for p in pipelines if p.matching(RUNS_TESTS)]
    hosted = [p for p in testing if p.system not in SELF_HOSTED]
    if hosted:
        step = _short(hosted[0], RUNS_TESTS)
        return CheckOutcome.passed(f"{hosted[0].path} ({hosted[0].system}) runs the tests: {step}", **evidence)
    if testing:
        return CheckOutcome.partial(
            params.self_hosted_credit,
            f"{testing[0].path} runs the tests ({_short(testing[0], RUNS_TESTS)}), but only on a "
            f"{testing[0].system} server you run yourself, so nothing in the repository shows it ran: add a hosted "
            "workflow (e.g. .github/workflows/ci.yml) that runs pytest on every push", **evidence)
    linting = next((p for p in pipelines if p.matching(LINTS)), None)
    if linting is not None:
        return CheckOutcome.partial(params.lint_credit, f"{linting.path} lints ({_short(linting, LINTS)}) but runs "
                                    "no tests: add a step that runs pytest", **evidence)
    building = next((p for p in pipelines if p.matching(BUILDS)), None)
    if building is not None:
        return CheckOutcome.partial(params.build_credit,
                                    f"{building.path} only builds or deploys ({_short(building, BUILDS)}); it checks "
                                    "nothing: add steps that lint and run pytest before the build", **evidence)
    unreadable = [p.unreadable for p in pipelines if p.unreadable]
    if unreadable:
        return CheckOutcome.failed(f"{unreadable[0]}: fix it so the CI service can read it", **evidence)
    names = ", ".join(p.path for p in pipelines[:3])
    return CheckOutcome.failed(f"{names} runs no tests, lint or build step the grader recognises: add a step that "
                               "runs pytest", **evidence)


def _short(pipeline: Pipeline, pattern: re.Pattern[str]) -> str:
    """The line of the pipeline's first matching step that the pattern found."""
    command = pipeline.matching(pattern) or ""
    line = next((line for line in command_lines(command) if pattern.search(line)), command.strip())
    return f"`{line[:120]}`"


CHECK = CheckType(name="ci", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
