"""Hostile corpus, resources: each step of ``sandbox-breaker`` attacks one limit of the sandbox, and each
gets its exact outcome in the one shared grading (see conftest.py and the case table in README.md)."""

from __future__ import annotations

import re

import pytest

from grader.models import Status
from grader.sandbox.base import TRUNCATION_MARKER

OUTPUT_LIMIT = 64 * 1024  # the lab's limits.output
MAX_GRADER_RSS_MIB = 300

RESOURCE_CASES = [
    ("fork-bomb", Status.failed, "step 'fork-bomb' timed out after 4s"),
    ("after-fork-bomb", Status.passed, "step 'after-fork-bomb' exited with code 0"),
    ("memory-hog", Status.failed, "step 'memory-hog' killed: out of memory"),
    ("fill-tmp", Status.failed, "step 'fill-tmp' exited with code 1, expected [0]"),
    ("write-root", Status.failed, "step 'write-root' exited with code 2, expected [0]"),
    ("giant-file", Status.failed,
     "step 'giant-file' exited with code 153 (SIGXFSZ: file size limit exceeded), expected [0]"),
    ("sleep-forever", Status.failed, "step 'sleep-forever' timed out after 3s"),
    ("ignore-sigterm", Status.failed, "step 'ignore-sigterm' timed out after 3s"),
    ("flood-stdout", Status.passed, "step 'flood-stdout' exited with code 0"),
    ("binary-stdout", Status.passed, "step 'binary-stdout' exited with code 0"),
    ("spam-stderr", Status.passed, "step 'spam-stderr' exited with code 0"),
    ("close-streams", Status.passed, "step 'close-streams' exited with code 0"),
    ("open-files", Status.passed, "step 'open-files' exited with code 0"),
    ("escalate", Status.passed, "step 'escalate' exited with code 0"),
]


@pytest.mark.parametrize(("check_id", "status", "message"), RESOURCE_CASES, ids=[c[0] for c in RESOURCE_CASES])
def test_resource_attack_gets_its_exact_outcome(sandbox_breaker, check_id, status, message):
    check = sandbox_breaker.check(check_id)
    assert (check.status, check.message) == (status, message), check.evidence


def test_the_hostile_submission_is_still_graded_completely_and_leaves_nothing(sandbox_breaker):
    report = sandbox_breaker.report
    assert (report.outcome, report.error) == ("graded", None), sandbox_breaker.grader_stderr[-2000:]
    assert sandbox_breaker.exit_code == 1  # graded, not passed
    assert len(report.checks) == 29 and not report.passed
    assert {c.status for c in report.checks} == {Status.passed, Status.failed}  # every check was decided
    assert sandbox_breaker.leftovers == []


def test_fork_bomb_is_held_by_the_pids_limit_and_the_next_step_runs(sandbox_breaker):
    bomb = sandbox_breaker.step("fork-bomb")
    refused = re.fullmatch(r"fork refused after (\d+) children: \[Errno 11\] Resource temporarily unavailable\n",
                           bomb.stdout)
    assert refused and int(refused.group(1)) < 64, bomb.stdout  # the lab's pids limit
    assert bomb.timed_out and bomb.duration_s < 4 + 10  # killed at its limit, not whenever the bomb allowed
    assert sandbox_breaker.step("after-fork-bomb").stdout == "still running after the fork bomb\n"


def test_memory_blow_up_is_killed_at_the_memory_limit(sandbox_breaker):
    hog = sandbox_breaker.step("memory-hog")
    held = [int(n) for n in re.findall(r"^holding (\d+) MiB$", hog.stdout, re.MULTILINE)]
    assert hog.oom_killed and hog.exit_code == 137
    assert held and max(held) <= 128  # the lab's memory limit


@pytest.mark.parametrize(("step_id", "stderr"), [
    ("fill-tmp", "dd: error writing '/tmp/fill': No space left on device"),
    ("write-root", "sh: 1: cannot create /usr/bin/owned: Read-only file system"),
    ("giant-file", "File size limit exceeded"),
])
def test_the_refusal_the_step_got_is_in_the_report(sandbox_breaker, step_id, stderr):
    assert stderr in sandbox_breaker.step(step_id).stderr
    assert stderr in sandbox_breaker.check(step_id).evidence["stderr_tail"]


@pytest.mark.parametrize(("step_id", "printed"), [
    ("sleep-forever", "epoch 1 of 1000000\n"),
    ("ignore-sigterm", "survived my own SIGTERM\n"),
])
def test_a_step_killed_at_its_time_limit_keeps_what_it_printed(sandbox_breaker, step_id, printed):
    step = sandbox_breaker.step(step_id)
    assert step.timed_out and step.time_limit_s == 3 and 3 <= step.duration_s < 3 + 10  # SIGKILL, no grace
    assert sandbox_breaker.check(step_id).evidence["stdout_tail"] == printed


@pytest.mark.parametrize(("step_id", "stream", "written"), [
    ("flood-stdout", "stdout", 1024**3),
    ("binary-stdout", "stdout", 8_000_000),
    ("spam-stderr", "stderr", 50_000_000),
])
def test_huge_output_is_cut_to_the_limit_with_a_marker(sandbox_breaker, step_id, stream, written):
    step = sandbox_breaker.step(step_id)
    omitted = written - OUTPUT_LIMIT
    assert getattr(step, f"{stream}_truncated") == omitted
    assert getattr(step, stream).endswith(TRUNCATION_MARKER.format(omitted=omitted))


def test_grader_memory_stays_flat_under_a_gigabyte_of_output(sandbox_breaker):
    assert sandbox_breaker.max_rss_mib < MAX_GRADER_RSS_MIB, f"peak RSS {sandbox_breaker.max_rss_mib:.0f} MiB"


def test_binary_output_reaches_the_html_report_without_control_characters(sandbox_breaker):
    assert sandbox_breaker.step("binary-stdout").stdout  # kept, decoded with replacement characters
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", sandbox_breaker.files["html"])


def test_closing_stdout_and_stderr_ends_the_step_normally(sandbox_breaker):
    step = sandbox_breaker.step("close-streams")
    assert (step.stdout, step.stderr) == ("", "stdout closed, stderr still open\n")
    assert step.duration_s < 10
    assert sandbox_breaker.step("spam-stderr").stdout == "finished\n"


def test_open_files_stop_at_the_nofile_limit_which_cannot_be_raised(sandbox_breaker):
    lines = sandbox_breaker.step("open-files").stdout.splitlines()
    refused = re.fullmatch(r"open refused after (\d+) files: \[Errno 24\] Too many open files: '/dev/null'",
                           lines[0])
    assert refused and int(refused.group(1)) < 256, lines
    assert lines[1:] == ["nofile limit: soft 256, hard 256",
                         "raising the limit refused: not allowed to raise maximum limit"]


def test_every_escalation_attempt_is_refused(sandbox_breaker):
    assert sandbox_breaker.step("escalate").stdout.splitlines() == [
        "setuid(0): refused (PermissionError: [Errno 1] Operation not permitted)",
        "setgid(0): refused (PermissionError: [Errno 1] Operation not permitted)",
        "append to /etc/passwd: refused (PermissionError: [Errno 13] Permission denied: '/etc/passwd')",
        "append to /etc/shadow: refused (PermissionError: [Errno 13] Permission denied: '/etc/shadow')",
        "write /etc/sudoers: refused (OSError: [Errno 30] Read-only file system: '/etc/sudoers')",
        "su ran as uid 1000 1000 1000 1000",  # setuid root binary, no-new-privileges: no effect
        "sudo: not installed",
        "mount: exit 32",
        "effective uid after all attempts: 1000",
    ]
