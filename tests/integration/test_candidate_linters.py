"""The lint check type runs the candidate's own linter (flake8, pylint, black) in a real sandbox container with
no network, from the folder scripts/ensure-python-linters.sh fills, on a submission of our own that is
configured the way real capstones are (``[flake8]`` in setup.cfg, ``[tool.black]`` in pyproject.toml)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from grader.checks.lint_check import python_linters_folder
from grader.models import Limits, Status, StepResult
from grader.sandbox import Mount, RunSpec
from grader.sandbox.tools import INPUT_MOUNT, tool_path
from tests.unit import check_contract as contract

pytestmark = pytest.mark.skipif(python_linters_folder() is None,
                                reason="run scripts/ensure-python-linters.sh to install flake8, pylint and black")

TOOL_LIMITS = Limits(memory="512m", cpus=1, timeout=60, output="256k")


@pytest.fixture
def run_tool(sandbox_factory):
    sandbox = sandbox_factory()

    def run(name: str, command: str, tools: Mapping[str, Path], inputs: Path) -> StepResult:
        # as the grading run does: tools and inputs read-only, no network, no work area
        mounts = (*(Mount(path, tool_path(tool)) for tool, path in tools.items()), Mount(inputs, INPUT_MOUNT))
        return sandbox.run(RunSpec(name=name, command=command, image=sandbox.image, limits=TOOL_LIMITS,
                                   network=False, mount_work=False, mounts=mounts))

    return run


FLAKE8 = {"setup.cfg": "[flake8]\nmax-line-length = 100\nexclude = build\n", "build/gen.py": "import os\n"}


def test_flake8_passes_on_clean_code_with_the_candidates_configuration(tmp_path: Path, run_tool) -> None:
    files = {**FLAKE8, "app.py": "VALUE = '" + "x" * 80 + "'\n"}  # 91 columns: only fine with their 100
    outcome = contract.run_check("lint", {}, contract.make_context(tmp_path, files, run_tool=run_tool))
    assert outcome.status is Status.passed, outcome.evidence
    assert outcome.message == "flake8 (setup.cfg [flake8]) passes"


def test_flake8_findings_fail_naming_the_first(tmp_path: Path, run_tool) -> None:
    files = {**FLAKE8, "app.py": "import os\n"}
    outcome = contract.run_check("lint", {}, contract.make_context(tmp_path, files, run_tool=run_tool))
    assert outcome.status is Status.failed
    assert outcome.message == "flake8 finds problems: ./app.py:1:1: F401 'os' imported but unused"


def test_black_check_mode_fails_on_unformatted_code(tmp_path: Path, run_tool) -> None:
    files = {"pyproject.toml": "[tool.black]\nline-length = 100\n", "app.py": "x = {  'a':1 }\n"}
    outcome = contract.run_check("lint", {}, contract.make_context(tmp_path, files, run_tool=run_tool))
    assert outcome.status is Status.failed and outcome.message.startswith("black --check would reformat files")
    assert (tmp_path / "submission" / "app.py").read_text() == "x = {  'a':1 }\n"  # checked, never rewritten
