"""The pytest witness's pure parts: signed records in sequence, per-test outcomes, and the host's reading of
its one result line against the run's self-reports (exit status, JUnit file)."""

from __future__ import annotations

import json
import shlex

from grader.checks.pytest_witness import read_witness, tampering, witness_command
from grader.probe.pytest_witness import WITNESS_MARKER, Ledger, _sign, summarise

KEY = b"k" * 32


def signed(seq: int, kind: str, key: bytes = KEY, **values) -> bytes:
    payload = json.dumps({"seq": seq, "kind": kind, **values})
    return f"{_sign(key, payload)} {payload}\n".encode()


def ledger_of(*lines: bytes) -> Ledger:
    ledger = Ledger(KEY)
    for line in lines:
        ledger.take(line)
    return ledger


def test_only_records_signed_with_the_run_key_and_in_sequence_are_kept():
    ledger = ledger_of(
        signed(0, "collected", test="t::a"),
        signed(1, "collected", key=b"x" * 32, test="t::forged"),  # wrong key
        b"0000 {\"seq\": 1, \"kind\": \"collected\", \"test\": \"t::b\"}\n",  # no signature
        signed(0, "collected", test="t::replayed"),  # out of sequence
        b"not json at all\n",
        signed(1, "collected", test="t::b"),
    )
    assert [record["test"] for record in ledger.records] == ["t::a", "t::b"]
    assert ledger.rejected == 4


def test_the_worst_phase_decides_and_expected_failures_never_count_as_passes():
    records = [signed(0, "collected", test="t::ok"), signed(1, "collected", test="t::bad"),
               signed(2, "collected", test="t::setup"), signed(3, "collected", test="t::dropped"),
               signed(4, "collected", test="t::xfail"), signed(5, "collected", test="t::teardown"),
               signed(6, "selected", count=5, by_options=False, hooks=[])]
    phases = [("t::ok", "setup", "passed"), ("t::ok", "call", "passed"), ("t::ok", "teardown", "passed"),
              ("t::bad", "setup", "passed"), ("t::bad", "call", "failed"), ("t::bad", "teardown", "passed"),
              ("t::setup", "setup", "failed"), ("t::setup", "teardown", "passed"),
              ("t::xfail", "setup", "passed"), ("t::xfail", "call", "skipped"),
              ("t::teardown", "setup", "passed"), ("t::teardown", "call", "passed"),
              ("t::teardown", "teardown", "failed")]
    for offset, (test, when, outcome) in enumerate(phases):
        records.append(signed(7 + offset, "outcome", test=test, when=when, outcome=outcome, message="m"))
    summary = summarise(ledger_of(*records), exit_code=1)
    assert (summary["passed"], summary["failed"], summary["errors"], summary["skipped"]) == (1, 1, 2, 1)
    assert summary["never_run"] == ["t::dropped"] and summary["never_run_count"] == 1
    assert [failure["test"] for failure in summary["failures"]] == ["t::bad", "t::setup", "t::teardown"]
    assert summary["finished"] is False and summary["exit_code"] == 1


def line(**values) -> str:
    base = {"exit_code": 1, "collected": 3, "passed": 1, "failed": 2, "errors": 0, "skipped": 0, "finished": True}
    return WITNESS_MARKER + json.dumps({**base, **values})


def test_the_witness_line_is_read_once_and_a_second_one_is_a_forgery():
    assert read_witness("noise\n" + line() + "\n").run.failed == 2
    assert read_witness("pytest output only\n").problem.startswith("the grader's record of the test run is missing")
    doubled = read_witness(line(passed=3, failed=0) + "\n" + line() + "\n")
    assert doubled.run is None and "holds 2 grader result lines" in doubled.problem
    assert "unreadable" in read_witness(WITNESS_MARKER + "{}\n").problem


def test_self_reports_that_contradict_the_witness_are_tampering():
    run = read_witness(line(hooks=[{"hook": "pytest_runtest_makereport", "where": "tests/conftest.py:4",
                                    "in_submission": True, "wrapper": True}])).run
    assert tampering(run, exit_code=1, junit_passed=1) == []
    found = tampering(run, exit_code=0, junit_passed=3)
    assert found == ["pytest exited 0 although 2 tests failed or errored (exit status rewritten)",
                     "the JUnit report lists 3 passed tests but only 1 passed",
                     "outcome-altering hooks in the submission: tests/conftest.py:4 implements "
                     "pytest_runtest_makereport (hook wrapper)"]
    forged = read_witness(line(rejected_records=7)).run
    assert tampering(forged, 1, None)[0] == "7 forged records were written to the grader's channel"


def test_tests_dropped_without_an_option_are_tampering_and_with_one_are_not():
    dropped = dict(passed=1, failed=0, never_run=["t::a", "t::b"], never_run_count=2)
    assert tampering(read_witness(line(**dropped)).run, 0, 1)[0].startswith(
        "2 collected tests were removed before running, with no -k, -m or --deselect option asking for it (t::a")
    assert tampering(read_witness(line(never_run_by_options=True, **dropped)).run, 0, 1) == []


def test_the_witness_runs_its_own_source_with_the_arguments_given():
    command = witness_command("tests -q --junitxml=.grader-junit-1.xml")
    words = shlex.split(command)
    assert words[:2] == ["python", "-c"] and WITNESS_MARKER in words[2]
    assert words[3:] == ["tests", "-q", "--junitxml=.grader-junit-1.xml"]


def test_a_suite_whose_pytest_never_started_says_why(tmp_path):
    from grader.models import StepResult
    from tests.unit.check_contract import make_context, run_check

    def run(name, command, env):
        output = "Traceback (most recent call last):\nModuleNotFoundError: No module named 'pytest'\n"
        witness = WITNESS_MARKER + json.dumps({"exit_code": 1, "collected": 0, "passed": 0, "failed": 0,
                                               "errors": 0, "skipped": 0, "finished": False})
        return StepResult(id=name, command=command, exit_code=1, duration_s=1, stdout=witness + "\n", stderr=output)

    ctx = make_context(tmp_path, {"tests/test_x.py": ""}, run_in_sandbox=run, copy_from_sandbox=lambda p, d: None)
    outcome = run_check("pytest", {"path": "tests"}, ctx)
    assert outcome.status.value == "fail"
    assert outcome.message.startswith("pytest did not run: ") and "pytest" in outcome.message[20:]
