"""Hostile corpus, hidden data and secrets: steps of ``sandbox-breaker`` search the whole sandbox for the
lab's hidden hold-out data, list every variable of every process they can see, and look for a way to the
Docker engine. The grader runs with a canary secret in its own environment (conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.models import Status

SECRET_CASES = [
    ("hidden-data", Status.passed, "step 'hidden-data' exited with code 0"),
    ("environment", Status.passed, "step 'environment' exited with code 0"),
    ("process-environ", Status.passed, "step 'process-environ' exited with code 0"),
    ("docker-socket", Status.passed, "step 'docker-socket' exited with code 0"),
]
HIDDEN_MARKER = "HOLDOUT-CANARY-5d1f0c7e93"
HIDDEN_FILE = Path(__file__).resolve().parent / "labs" / "sandbox-limits" / "hidden" / "holdout.csv"


@pytest.mark.parametrize(("check_id", "status", "message"), SECRET_CASES, ids=[c[0] for c in SECRET_CASES])
def test_secret_hunt_gets_its_exact_outcome(sandbox_breaker, check_id, status, message):
    check = sandbox_breaker.check(check_id)
    assert (check.status, check.message) == (status, message), check.evidence


def test_a_search_of_the_whole_sandbox_finds_the_public_data_but_not_the_hidden(sandbox_breaker):
    assert HIDDEN_MARKER in HIDDEN_FILE.read_text()  # there is something to find
    assert sandbox_breaker.step("hidden-data").stdout == (
        "public data: seen at /data/public.csv\n"
        "hidden data: not found\n"
    )


def test_a_step_sees_only_allow_listed_variables_and_its_labs_own(sandbox_breaker):
    started_with, process_sees = sandbox_breaker.step("environment").stdout.splitlines()
    expected = sandbox_breaker.expected_environment
    assert set(started_with.removeprefix("environment names: ").split()) == expected
    assert set(process_sees.removeprefix("this process sees: ").split()) == expected | {"PWD"}  # set by sh


def test_no_process_in_the_sandbox_carries_the_graders_environment(sandbox_breaker):
    stdout = sandbox_breaker.step("process-environ").stdout
    assert stdout.startswith("environ of pid 1: PATH=")
    assert "GRADER_" not in stdout and sandbox_breaker.secret not in stdout


@pytest.mark.parametrize("report_format", ["json", "md", "html"])
def test_the_graders_secret_appears_in_no_report(sandbox_breaker, report_format):
    text = sandbox_breaker.files[report_format]
    assert sandbox_breaker.secret not in text and "GRADER_CANARY_SECRET" not in text


def test_there_is_no_docker_socket_and_no_engine_api(sandbox_breaker):
    lines = sandbox_breaker.step("docker-socket").stdout.splitlines()
    assert lines[:2] == ["docker socket: none", "DOCKER_HOST: unset"]
    assert len(lines) == 4 and all(re.fullmatch(r"engine API at [\d.]+:237[56]: blocked \(\w+\)", line)
                                   for line in lines[2:]), lines
