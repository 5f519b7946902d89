"""A candidate's conftest cannot turn a failing suite into a passing ``pytest`` check.

Each case (faked_results_corpus.py) is graded through the real CLI against a one-check lab (``pytest`` on
``tests``): the suite runs in a sandbox under the grader's witness. Before the witness, the first six cases
scored full marks or hid failures from pytest's own report; now each fails with what was altered, and the
control — honest tests with a harmless ``pytest_collection_modifyitems`` — still passes, its hook named for
the reviewer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import integrity_support as support  # noqa: E402
from faked_results_corpus import ATTACKS, write_submission  # noqa: E402

PYTEST_CHECK = {"id": "unit-tests", "title": "Unit tests pass", "type": "pytest", "points": 3, "path": "tests"}


@pytest.mark.parametrize("case", list(ATTACKS))
def test_faked_test_results_are_not_scored_as_passed(case: str, tmp_path: Path, docker_client, runtime_image) -> None:
    attack = ATTACKS[case]
    submission = write_submission(tmp_path / "submission", case)
    lab = support.probe_lab(tmp_path / "lab", [PYTEST_CHECK])
    out = tmp_path / "out"

    result = support.run_grade(submission, lab, out, scratch=tmp_path / "scratch")

    report = support.read_report(out)
    check = report["checks"][0]
    assert check["message"].startswith(attack.message), check
    evidence = check["evidence"]
    if attack.honest_tests:
        assert (result.code, check["status"], report["score"]) == (0, "pass", 3)
        hooks = [hook for hook in evidence["outcome_hooks"] if "conftest" in hook]  # not the image's plug-ins
        assert hooks == ["tests/conftest.py:4 implements pytest_collection_modifyitems (hook)"]
        return
    assert (result.code, check["status"], report["score"]) == (1, "fail", 0), result.stderr
    if check["message"].startswith("test results were altered"):
        assert evidence["passed"] == 1 and evidence["failed"] + evidence["errors"] + evidence["collected"] >= 3
        assert any("tests/conftest.py:" in line for line in evidence["tampering"]), evidence["tampering"]
    leftovers = [c.name for c in docker_client.containers.list(
        all=True, filters={"label": f"capstone-grader.run={report['run_id']}"})]
    assert leftovers == []


def test_the_fake_junit_file_is_named_with_its_claim(tmp_path: Path, docker_client, runtime_image) -> None:
    submission = write_submission(tmp_path / "submission", "fake-junit-and-exitstatus")
    lab = support.probe_lab(tmp_path / "lab", [PYTEST_CHECK])
    support.run_grade(submission, lab, tmp_path / "out", scratch=tmp_path / "scratch")
    check = support.read_report(tmp_path / "out")["checks"][0]
    assert check["evidence"]["junit_passed"] == 3
    assert "the JUnit report lists 3 passed tests but only 1 passed" in check["evidence"]["tampering"]
