"""A small lab for orchestration tests: three steps in a ``needs`` chain, a trusted service started before the
steps and the candidate's after them, and a rubric of check types that need no run evidence."""

from __future__ import annotations

from pathlib import Path

from grader.models import StepResult
from grader.sandbox import RunSpec

from .sandbox import Reply, Script, exited, witness_output

LAB_YAML = """\
id: unit-lab
title: A lab for orchestration tests
rubric: rubric.yaml
retry_on_infrastructure_error: {retries}
limits: {{memory: 512m, timeout: 60}}
steps:
  - {{id: prepare, run: python prepare.py}}
  - {{id: train, run: python train.py, needs: [prepare], artifacts: [artifacts/model.bin]}}
  - {{id: evaluate, run: python evaluate.py, needs: [train]}}
services:
  - {{id: tracker, run: serve-tracking, port: 5000, trusted: true, start: before-steps}}
  - {{id: api, run: python serve.py, port: 8000, needs: [train]}}
"""

RUBRIC_YAML = """\
id: unit-lab
title: Unit lab
pass_mark: 0.5
sections:
  - id: hygiene
    title: Hygiene
    checks:
      - {id: readme, title: Has a README, type: file, points: 1, path: README.md}
      - {id: readme-title, title: README has a title, type: regex, points: 1, needs: [readme], path: README.md,
         pattern: '^# '}
  - id: testing
    title: Testing
    checks:
      - {id: unit-tests, title: Unit tests pass, type: pytest, points: 2, path: tests}
  - id: training
    title: Training
    checks:
      - {id: training-runs, title: Training runs, type: command, points: 3, step: train, stdout: accuracy}
      - {id: model-saved, title: Model saved, type: file, points: 2, needs: [training-runs], where: artifacts,
         path: artifacts/model.bin}
      - {id: evaluation-runs, title: Evaluation runs, type: command, points: 1, step: evaluate}
"""

STEPS = ["prepare", "train", "evaluate"]
CHECKS = ["readme", "readme-title", "unit-tests", "training-runs", "model-saved", "evaluation-runs"]
JUNIT_PASSED = (b'<testsuite><testcase classname="test_x" name="test_one"/>'
                b'<testcase classname="test_x" name="test_two"/></testsuite>')


def write_lab(folder: Path, retries: int = 0) -> tuple[Path, Path]:
    """Write the lab into ``folder``; returns (lab folder, submission folder that earns full marks)."""
    lab = folder / "lab"
    lab.mkdir(parents=True)
    (lab / "lab.yaml").write_text(LAB_YAML.format(retries=retries))
    (lab / "rubric.yaml").write_text(RUBRIC_YAML)
    submission = lab / "reference"
    (submission / "tests").mkdir(parents=True)
    (submission / "README.md").write_text("# Unit lab\n\nTrains a model.\n")
    (submission / "train.py").write_text("print('accuracy 0.9')\n")
    (submission / "tests" / "test_x.py").write_text("def test_one(): pass\n\ndef test_two(): pass\n")
    return lab, submission


def passing_script(**replies: Reply) -> Script:
    """A sandbox under which the submission earns full marks; ``replies`` replace single containers' answers."""

    def train(spec: RunSpec) -> StepResult:
        return exited(spec, 0, stdout="accuracy 0.93\n")

    def tests_pass(spec: RunSpec) -> StepResult:
        return exited(spec, 0, stdout=witness_output(passed=2))

    return Script(replies={"train": train, "pytest": tests_pass, **replies},
                  files={"artifacts/model.bin": b"model", ".grader-junit-*.xml": JUNIT_PASSED})
