"""Every file-based check type through one harness: a tree of files in, a status and message out."""

from __future__ import annotations

from typing import Any

import pytest

from grader.checks import all_check_types, get_check_type
from grader.errors import LabError
from grader.models import Status, StepResult
from tests.unit.check_contract import make_context, run_check

PINNED = r"^(?!\s*(#|$|-))(?!.*==).*$"
CI = "jobs:\n  test:\n    steps:\n      - uses: actions/checkout@v4\n      - run: python -m pytest\n"

CASES = [
    # (id, type, params, files, status, message fragment)
    ("file-exists", "file", {"path": "Dockerfile"}, {"Dockerfile": "FROM x"}, Status.passed, "1 found"),
    ("file-missing", "file", {"path": "Dockerfile"}, {"README.md": "x"}, Status.failed, "0 found"),
    ("file-glob", "file", {"path": "tests/**/test_*.py", "min_matches": 2},
     {"tests/test_a.py": "", "tests/unit/test_b.py": ""}, Status.passed, "2 found"),
    ("file-glob-too-few", "file", {"path": "tests/**/test_*.py", "min_matches": 2},
     {"tests/test_a.py": ""}, Status.failed, "at least 2 expected"),
    ("file-too-small", "file", {"path": "README.md", "min_bytes": 100}, {"README.md": "hi"}, Status.failed,
     "smaller than 100 bytes"),
    ("file-absent-ok", "file", {"path": "**/.env", "absent": True}, {"a.py": ""}, Status.passed, "no **/.env"),
    ("file-absent-found", "file", {"path": "**/.env", "absent": True}, {"config/.env": "K=V"}, Status.failed,
     "config/.env"),
    ("file-too-many", "file", {"path": "*.py", "max_matches": 1}, {"a.py": "", "b.py": ""}, Status.failed,
     "at most 1"),
    ("regex-match", "regex", {"path": "Dockerfile", "pattern": r"^FROM\s+\S+:\S+"},
     {"Dockerfile": "FROM python:3.11-slim\n"}, Status.passed, "1 match"),
    ("regex-no-match", "regex", {"path": "Dockerfile", "pattern": r"^FROM\s+\S+:\S+"},
     {"Dockerfile": "FROM python\n"}, Status.failed, "0 match"),
    ("regex-no-file", "regex", {"path": "Dockerfile", "pattern": "x"}, {}, Status.failed, "no file matches"),
    ("regex-pinned", "regex", {"path": "requirements.txt", "pattern": PINNED, "must_not_match": True},
     {"requirements.txt": "# deps\npandas==2.0\n\n-r base.txt\n"}, Status.passed, "no forbidden match"),
    ("regex-unpinned", "regex", {"path": "requirements.txt", "pattern": PINNED, "must_not_match": True},
     {"requirements.txt": "pandas==2.0\nnumpy>=1\n"}, Status.failed, "numpy>=1"),
    ("regex-ignorecase", "regex", {"path": "README.md", "pattern": "usage", "flags": ["ignorecase"]},
     {"README.md": "## Usage\n"}, Status.passed, "1 match"),
    ("structured-equals", "structured", {"path": "conf.yaml", "key": "model.name", "equals": "iris"},
     {"conf.yaml": "model:\n  name: iris\n"}, Status.passed, "meet the condition"),
    ("structured-wrong-value", "structured", {"path": "conf.yaml", "key": "model.name", "equals": "iris"},
     {"conf.yaml": "model:\n  name: wine\n"}, Status.failed, "is 'wine', expected 'iris'"),
    ("structured-missing-key", "structured", {"path": "conf.json", "key": "a.b"}, {"conf.json": '{"a": {}}'},
     Status.failed, "not found"),
    ("structured-min", "structured", {"path": "m.json", "key": "accuracy", "min": 0.8},
     {"m.json": '{"accuracy": 0.6}'}, Status.failed, "below the minimum 0.8"),
    ("structured-toml", "structured", {"path": "pyproject.toml", "key": "project.dependencies", "min_items": 1},
     {"pyproject.toml": '[project]\nname="x"\ndependencies=["pandas==2"]\n'}, Status.passed, "meet the condition"),
    ("structured-wildcard-any", "structured",
     {"path": ".github/workflows/*.yml", "key": "jobs.*.steps.*.run", "pattern": "pytest", "match": "any"},
     {".github/workflows/ci.yml": CI}, Status.passed, "a value meets"),
    ("structured-wildcard-none", "structured",
     {"path": ".github/workflows/*.yml", "key": "jobs.*.steps.*.run", "pattern": "ruff", "match": "any"},
     {".github/workflows/ci.yml": CI}, Status.failed, "does not match 'ruff'"),
    ("structured-unparsable", "structured", {"path": "m.json", "key": "a"}, {"m.json": "{nope"}, Status.failed,
     "does not parse"),
    ("structured-index", "structured", {"path": "c.yaml", "key": "items[1]", "equals": 2},
     {"c.yaml": "items: [1, 2, 3]\n"}, Status.passed, "meet the condition"),
]


@pytest.mark.parametrize(("check_type", "params", "files", "status", "fragment"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_file_based_check_types(tmp_path, check_type, params, files, status, fragment):
    outcome = run_check(check_type, params, make_context(tmp_path, files))
    assert outcome.status == status, outcome.message
    assert fragment in outcome.message


def test_every_builtin_check_type_has_pass_and_fail_cases_here_or_in_integration():
    covered = {(case[1], case[4]) for case in CASES}
    for name in ("file", "regex", "structured"):
        assert (name, Status.passed) in covered and (name, Status.failed) in covered
    assert set(all_check_types()) >= {"file", "regex", "structured", "command", "pytest"}


def test_file_check_does_not_follow_a_link_out_of_the_submission(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    context = make_context(tmp_path, {"README.md": "x"})
    (context.submission_dir / "leak.txt").symlink_to(outside)
    assert context.find("leak.txt") == []
    assert context.find("../secret.txt") == []


def _step(**fields: Any) -> StepResult:
    base = {"id": "train", "command": "python train.py", "exit_code": 0, "duration_s": 1.0, "stdout": "accuracy: 0.9"}
    return StepResult(**(base | fields))


@pytest.mark.parametrize(("params", "step", "status", "fragment"), [
    ({"step": "train"}, _step(), Status.passed, "exited with code 0"),
    ({"step": "train"}, _step(exit_code=1, stderr="KeyError: 'label'"), Status.failed, "exited with code 1"),
    ({"step": "train", "stdout": "accuracy"}, _step(stdout="done"), Status.failed, "stdout does not match"),
    ({"step": "train"}, _step(exit_code=None, timed_out=True, duration_s=30), Status.failed, "timed out"),
    ({"step": "train"}, _step(exit_code=137, oom_killed=True), Status.failed, "out of memory"),
    ({"step": "train"}, _step(exit_code=None, skipped_reason="needs step 'deps'"), Status.failed, "did not run"),
    ({"step": "train", "exit_codes": [0, 2]}, _step(exit_code=2), Status.passed, "exited with code 2"),
    ({"step": "train", "not_output": "Traceback"}, _step(stderr="Traceback (most recent call last)"),
     Status.failed, "forbidden output"),
    ({"step": "other"}, _step(), Status.error, "no step 'other'"),
], ids=["ok", "exit-1", "stdout-mismatch", "timeout", "oom", "skipped", "other-exit-code", "forbidden", "unknown"])
def test_command_check_reads_the_step_result(tmp_path, params, step, status, fragment):
    outcome = run_check("command", params, make_context(tmp_path, steps={"train": step}))
    assert outcome.status == status
    assert fragment in outcome.message


def test_unknown_check_type_lists_the_known_ones():
    with pytest.raises(LabError, match=r"unknown check type 'nope'; known types: .*command, .*dependencies, .*file"):
        get_check_type("nope")


def test_dependencies_check_passes_unless_the_requirements_failed(tmp_path):
    from grader.run.dependencies import DependencyOutcome

    check = get_check_type("dependencies")
    context = make_context(tmp_path)
    context.dependencies = DependencyOutcome("satisfied", "the runtime stack meets all 3 requirement(s)")
    assert check.evaluate(check.params(), context).status == Status.passed
    context.dependencies = DependencyOutcome("failed", "scikit-learn==0.0.1: no such version",
                                             failed_requirements=["scikit-learn==0.0.1"])
    outcome = check.evaluate(check.params(), context)
    assert outcome.status == Status.failed and "scikit-learn==0.0.1" in outcome.message
    context.dependencies = None
    assert check.evaluate(check.params(), context).status == Status.error
