from grader.checks.pytest_check import parse_junit

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="99" failures="0">
<testcase classname="tests.test_a" name="test_ok" time="0.1"/>
<testcase classname="tests.test_a" name="test_bad" time="0.1"><failure message="assert 1 == 2">...</failure></testcase>
<testcase classname="tests.test_a" name="test_err" time="0.1"><error message="fixture broke"/></testcase>
<testcase classname="tests.test_a" name="test_skip" time="0.1"><skipped message="later"/></testcase>
</testsuite></testsuites>"""


def test_junit_counts_come_from_test_cases_not_the_suite_totals():
    summary = parse_junit(JUNIT)
    assert (summary.tests, summary.passed, summary.failed, summary.errors, summary.skipped) == (4, 1, 1, 1, 1)
    assert summary.failures[0] == {"test": "tests.test_a::test_bad", "kind": "failure", "message": "assert 1 == 2"}


def test_the_manifest_pytest_command_is_used_and_other_commands_fall_back_to_the_rubric_path():
    from grader.checks.pytest_check import Params, pytest_arguments

    params = Params(path="tests", args="-q")
    assert pytest_arguments(params, None) == ("tests -q", None)
    assert pytest_arguments(params, "python -m pytest tests/unit -x") == ("tests/unit -x", None)
    assert pytest_arguments(params, "pytest") == ("", None)
    arguments, note = pytest_arguments(params, "make test")
    assert arguments == "tests -q" and "not a pytest command" in note
