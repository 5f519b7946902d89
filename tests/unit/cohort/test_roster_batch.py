"""A roster of git repositories on the fake engine: a deadline picks each repository's last commit before it, and
an unreachable repository, a ref that does not exist or a bad row is that candidate's clear error while the
others are graded. Git runs for real (local repositories and a loopback port nobody listens on)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from fakes import FakeEngine, passing_script, write_lab  # type: ignore[import-not-found]

from grader.cohort.batch import grade_batch
from grader.cohort.deadline import commit_at_deadline, parse_deadline
from grader.cohort.inputs import read_roster
from grader.cohort.progress import BatchProgress
from grader.cohort.runner import BatchRun
from grader.errors import BadInputError, SubmissionError
from grader.paths import project_paths
from grader.results.store import ResultStore

BATCH = "roster-batch"


def git(repo: Path, *args: str, when: str = "2026-05-01T10:00:00+00:00") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.invalid"}
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def repository(folder: Path, reference: Path) -> tuple[Path, str, str]:
    """A repository with the reference committed before the deadline and a late change after it."""
    shutil.copytree(reference, folder)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "on time", when="2026-05-01T10:00:00+00:00")
    on_time = git(folder, "rev-parse", "HEAD")
    (folder / "README.md").write_text("late\n")  # no title: the readme-title check would fail
    git(folder, "commit", "-qam", "late", when="2026-05-03T10:00:00+00:00")
    return folder, on_time, git(folder, "rev-parse", "HEAD")


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_roster_with_a_deadline_grades_the_on_time_commit_and_bad_rows_are_their_own_errors(tmp_path, queue):
    lab, reference = write_lab(tmp_path / "lab")
    alice, on_time, _ = repository(tmp_path / "repos" / "alice", reference)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "candidate,repository,ref\n"
        f"alice,{alice},main\n"
        f"bob,http://127.0.0.1:{free_loopback_port()}/bob.git,\n"
        f"carol,{alice},no-such-branch\n"
        "dave,,\n")
    queue.create_batch(BATCH, str(lab), {})
    queue.enqueue(BATCH, read_roster(roster))
    engine = FakeEngine(passing_script())
    run = BatchRun(batch_id=BATCH, lab=str(lab), out_dir=tmp_path / "out", paths=project_paths(),
                   make_engine=lambda: engine, deadline="2026-05-02T00:00:00+00:00")
    grade_batch(queue, run, 2, BatchProgress(4, 1, 2))

    jobs = {job.candidate: job for job in queue.jobs(BATCH)}
    assert {name: job.state for name, job in jobs.items()} == {
        "alice": "graded", "bob": "error", "carol": "error", "dave": "error"}
    assert jobs["bob"].error.startswith("git could not clone 'http://127.0.0.1:")
    assert jobs["carol"].error.startswith("git ref 'no-such-branch' is not a commit in")
    assert jobs["dave"].error == "roster.csv line 5: the repository cell is empty"
    with ResultStore(project_paths().results_db) as store:
        report = store.get(jobs["alice"].run_id)
    assert report.submission.ref == on_time and report.submission.kind == "git"
    assert report.score == report.max_score  # the late commit (a README without a title) was not graded


def test_the_deadline_picks_the_last_commit_at_or_before_it(tmp_path):
    _, reference = write_lab(tmp_path / "lab")
    repo, on_time, late = repository(tmp_path / "repo", reference)
    assert commit_at_deadline(str(repo), "main", parse_deadline("2026-05-02T00:00")) == on_time
    assert commit_at_deadline(str(repo), None, parse_deadline("2026-05-03T10:00:00+00:00")) == late
    assert commit_at_deadline(str(repo), None, parse_deadline("2026-05-03T11:00:00+02:00")) == on_time  # 09:00 UTC
    with pytest.raises(SubmissionError, match="no commit on 'main' at or before the deadline"):
        commit_at_deadline(str(repo), "main", parse_deadline("2026-04-01T00:00"))


def test_a_deadline_that_is_not_a_date_is_refused():
    with pytest.raises(BadInputError, match="not an ISO 8601 date"):
        parse_deadline("friday")
