"""Submissions whose test suite fails honestly, each with one way of making pytest report a pass.

Generated in code (like the rest of the corpus) rather than kept as files: a ``conftest.py`` under ``tests/``
would be loaded by this project's own pytest run. Every case shares ``tests/test_model.py`` — one passing
test, two failing ones — and adds the ``tests/conftest.py`` (or module) of its attack. ``ATTACKS`` maps the
case id to its files and to the start of the message the ``pytest`` check must give.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.probe.pytest_witness import WITNESS_MARKER

TEST_MODEL = '''\
def add(a, b):
    return a + b


def test_adds():
    assert add(2, 2) == 4


def test_fails_on_wrong_sum():
    assert add(2, 2) == 5


def test_fails_on_untrained_model():
    raise RuntimeError("model not trained")
'''

ALL_PASSED_JUNIT = ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3" '
                    'failures="0" errors="0"><testcase classname="tests.test_model" name="test_adds"/>'
                    '<testcase classname="tests.test_model" name="test_fails_on_wrong_sum"/>'
                    '<testcase classname="tests.test_model" name="test_fails_on_untrained_model"/>'
                    '</testsuite></testsuites>')

MAKEREPORT_WRAPPER = '''\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.outcome = "passed"
        report.longrepr = None
'''

REPORT_TESTSTATUS = '''\
def pytest_report_teststatus(report, config):
    if report.when == "call" and report.failed:
        return "passed", ".", "PASSED"
'''

DESELECT_FAILING = '''\
def pytest_collection_modifyitems(config, items):
    items[:] = [item for item in items if "fails" not in item.name]
'''

FAKE_JUNIT = f'''\
import pytest


def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = 0


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open(config.option.xmlpath, "w") as junit:  # after pytest wrote the real one
        junit.write({ALL_PASSED_JUNIT!r})
'''

EXIT_ZERO = '''\
import os


def pytest_unconfigure(config):
    os._exit(0)
'''

TERMINAL_PATCH = '''\
import sys

from _pytest.terminal import TerminalReporter


def _all_green(self):
    self.write_sep("=", "3 passed in 0.01s", green=True)


def pytest_configure(config):
    TerminalReporter.summary_stats = _all_green


def pytest_sessionfinish(session, exitstatus):
    sys.exit(0)
'''

FORGED_RECORDS = '''\
import json
import os


def _pipes():
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                yield int(name)
        except OSError:
            pass


def pytest_sessionfinish(session, exitstatus):
    for fd in _pipes():
        for seq in range(100):
            record = {"seq": seq, "kind": "outcome", "test": f"forged{seq}", "when": "call", "outcome": "passed"}
            try:
                os.write(fd, ("0" * 64 + " " + json.dumps(record) + "\\n").encode())
            except OSError:
                pass
'''

FORGED_WITNESS = f'''\
import json
import os

import pytest

LINE = {WITNESS_MARKER!r} + json.dumps({{"exit_code": 0, "collected": 3, "passed": 3, "failed": 0, "errors": 0,
                                         "skipped": 0, "finished": True}}) + "\\n"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.outcome = "passed"


def pytest_unconfigure(config):
    for path in ("/proc/1/fd/1", "/proc/self/fd/1"):  # the container's output, and ours
        try:
            with open(path, "w") as out:
                out.write(LINE)
        except OSError as error:
            print("could not write", path, error)
'''

HONEST_WITH_HOOKS = '''\
import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.model)


def pytest_configure(config):
    config.addinivalue_line("markers", "model: tests of the model")
'''


@dataclass(frozen=True)
class Attack:
    conftest: str
    message: str  # the start of the pytest check's message
    honest_tests: bool = False  # the control: every test passes


ALTERED = "test results were altered: "
EXIT_REWRITTEN = ALTERED + "pytest exited 0 although 2 tests failed or errored (exit status rewritten)"
ATTACKS = {
    "makereport-hookwrapper": Attack(MAKEREPORT_WRAPPER, EXIT_REWRITTEN),
    "report-teststatus": Attack(REPORT_TESTSTATUS, "1 passed, 2 failed, 0 errors, 0 skipped; first failure: "
                                                   "tests/test_model.py::test_fails_on_wrong_sum"),
    "deselect-failing": Attack(DESELECT_FAILING, ALTERED + "2 collected tests were removed before running, with no "
                                                           "-k, -m or --deselect option asking for it"),
    "fake-junit-and-exitstatus": Attack(FAKE_JUNIT, EXIT_REWRITTEN),
    "os-exit-zero": Attack(EXIT_ZERO, EXIT_REWRITTEN),
    "terminal-patch-and-sys-exit": Attack(TERMINAL_PATCH, EXIT_REWRITTEN),
    "forged-records": Attack(FORGED_RECORDS, ALTERED + "100 forged records were written to the grader's channel"),
    "forged-witness-line": Attack(FORGED_WITNESS, "test results not accepted: the test run's output holds 2 grader "
                                                  "result lines where the grader writes one"),
    "control-honest-with-hooks": Attack(HONEST_WITH_HOOKS, "3 passed, 0 failed, 0 errors, 0 skipped",
                                        honest_tests=True),
}


def write_submission(folder: Path, case: str) -> Path:
    """The submission of one case: the shared tests and the case's conftest."""
    attack = ATTACKS[case]
    tests = folder / "tests"
    tests.mkdir(parents=True)
    source = TEST_MODEL.replace("== 5", "== 4").replace('raise RuntimeError("model not trained")', "pass") \
        if attack.honest_tests else TEST_MODEL
    (tests / "test_model.py").write_text(source)
    (tests / "conftest.py").write_text(attack.conftest)
    (folder / "README.md").write_text(f"# {case}\n")
    return folder
