"""A batch's orchestration on the fake engine: every job graded once, errors kept to their job, retries per the
lab's policy, and a batch resumed after its grader was killed; in milliseconds, with no container engine."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from fakes import FakeEngine, exited, passing_script, write_lab  # type: ignore[import-not-found]

from grader.cohort.batch import grade_batch, select_for_regrade
from grader.cohort.progress import BatchProgress
from grader.cohort.queue import JobInput, SqliteJobQueue
from grader.cohort.runner import BatchRun
from grader.errors import EngineLostError
from grader.paths import project_paths
from grader.results.store import ResultStore
from grader.run.orchestrate import GradeOptions, grade_submission

BATCH = "unit-lab-batch"
DEAD_OWNER = f"{socket.gethostname()}:999999999:1"


def make_batch(tmp_path: Path, queue: SqliteJobQueue, names: tuple[str, ...] = ("alice", "bob"),
               retries: int = 0, extra: tuple[JobInput, ...] = ()) -> tuple[Path, list[JobInput]]:
    lab, reference = write_lab(tmp_path / "lab", retries)
    inputs = []
    for name in names:
        shutil.copytree(reference, tmp_path / "subs" / name)
        inputs.append(JobInput(name, str(tmp_path / "subs" / name)))
    queue.create_batch(BATCH, str(lab), {"out": str(tmp_path / "out")})
    queue.enqueue(BATCH, [*inputs, *extra])
    return lab, inputs


def batch_run(tmp_path: Path, lab: Path, engine: FakeEngine) -> BatchRun:
    return BatchRun(batch_id=BATCH, lab=str(lab), out_dir=tmp_path / "out", paths=project_paths(),
                    make_engine=lambda: engine)


def outcome(queue: SqliteJobQueue) -> dict[str, tuple[str, str | None]]:
    return {job.candidate: (job.state, job.error) for job in queue.jobs(BATCH)}


def test_every_job_is_graded_once_with_its_reports_and_bad_inputs_stay_their_own_errors(tmp_path, queue):
    bad = (JobInput("carol", "", None, "roster.csv line 4: the repository cell is empty"),
           JobInput("dave", str(tmp_path / "missing")))
    lab, _ = make_batch(tmp_path, queue, extra=bad)
    engine = FakeEngine(passing_script())
    progress = BatchProgress(4, 1, 2)
    jobs = grade_batch(queue, batch_run(tmp_path, lab, engine), 2, progress)

    states = {job.candidate: job.state for job in jobs}
    assert states == {"alice": "graded", "bob": "graded", "carol": "error", "dave": "error"}
    assert "nothing exists at that path" in outcome(queue)["dave"][1]
    assert outcome(queue)["carol"][1] == "roster.csv line 4: the repository cell is empty"
    assert engine.calls.entries[0] == "cleanup None dead-only=True"
    assert len(engine.calls.matching("sandbox ")) == 2  # alice and bob, once each
    with ResultStore(project_paths().results_db) as store:
        for job in jobs[:2]:
            report = store.get(job.run_id)
            assert report is not None and report.score == report.max_score == 10
            assert (Path(job.report_dir) / "report.html").exists()
            assert Path(job.report_dir) == tmp_path / "out" / job.candidate / job.run_id
    assert (progress.done, progress.errors, progress.queued) == (4, 1, 0)


def test_an_infrastructure_failure_is_retried_per_the_lab_policy(tmp_path, queue):
    lab, _ = make_batch(tmp_path, queue, names=("alice",), retries=1)
    engine = FakeEngine(passing_script(train=EngineLostError("engine restarted")), passing_script())
    grade_batch(queue, batch_run(tmp_path, lab, engine), 1, BatchProgress(1, 0, 1))
    job = queue.jobs(BATCH)[0]
    assert job.state == "graded"
    with ResultStore(project_paths().results_db) as store:
        assert [a.outcome for a in store.get(job.run_id).attempts] == ["error", "graded"]


def test_a_job_that_fails_beyond_its_retries_is_an_error_and_the_batch_goes_on(tmp_path, queue):
    lab, _ = make_batch(tmp_path, queue, retries=0)
    engine = FakeEngine(passing_script(train=EngineLostError("engine restarted")), passing_script())
    grade_batch(queue, batch_run(tmp_path, lab, engine), 1, BatchProgress(2, 0, 1))
    assert outcome(queue) == {"alice": ("error", "engine restarted"), "bob": ("graded", None)}
    assert queue.jobs(BATCH)[0].report_dir is not None  # an errored grading still wrote its report


def test_a_grader_bug_with_one_submission_is_that_jobs_error(tmp_path, queue):
    lab, _ = make_batch(tmp_path, queue, names=("alice",))
    engine = FakeEngine(passing_script(), image_error=RuntimeError("boom"))
    grade_batch(queue, batch_run(tmp_path, lab, engine), 1, BatchProgress(1, 0, 1))
    assert outcome(queue) == {"alice": ("error", "internal error: RuntimeError: boom")}


def test_resume_keeps_a_report_that_reached_the_store_and_grades_the_interrupted_job_again(tmp_path, queue):
    lab, inputs = make_batch(tmp_path, queue, names=("alice", "bob", "carol"))
    engine = FakeEngine(passing_script())
    # A grader killed mid-batch: alice's grading finished (its run is stored) but the job was not marked; bob's
    # grading was cut short (nothing stored); carol was never claimed.
    queue.claim(BATCH, DEAD_OWNER, "alice-run")
    options = GradeOptions(out_dir=tmp_path / "out" / "alice" / "alice-run", formats=("json",))
    grade_submission(inputs[0].source, str(lab), project_paths(), engine, options, run_id="alice-run")
    queue.claim(BATCH, DEAD_OWNER, "bob-killed")
    engine.calls.entries.clear()

    progress = BatchProgress(3, 0, 1)
    grade_batch(queue, batch_run(tmp_path, lab, engine), 1, progress)

    jobs = {job.candidate: job for job in queue.jobs(BATCH)}
    assert {name: job.state for name, job in jobs.items()} == {"alice": "graded", "bob": "graded", "carol": "graded"}
    assert jobs["alice"].run_id == "alice-run"
    assert jobs["bob"].run_id != "bob-killed" and jobs["bob"].attempts == 2
    graded_now = engine.calls.matching("sandbox ")
    assert len(graded_now) == 2 and "sandbox alice-run" not in graded_now  # alice is not graded twice
    assert [(h.candidate, h.state) for h in queue.history(BATCH)] == [
        ("alice", "graded"), ("bob", "graded"), ("carol", "graded")]
    assert any("alice: graded before the interruption" in note for note in progress.notes)


def test_a_stop_request_starts_no_new_job(tmp_path, queue):
    import threading

    lab, _ = make_batch(tmp_path, queue)
    stop = threading.Event()
    stop.set()
    engine = FakeEngine(passing_script())
    grade_batch(queue, batch_run(tmp_path, lab, engine), 2, BatchProgress(2, 0, 2), stop)
    assert {job.state for job in queue.jobs(BATCH)} == {"queued"}
    assert engine.calls.matching("sandbox ") == []


@pytest.mark.parametrize(("selection", "expected"), [
    ({}, ["alice", "bob"]), ({"errored": True}, ["alice"]), ({"candidate": "bob"}, ["bob"]),
    ({"lab_version": "1"}, ["alice"]), ({"lab_version": "2"}, ["alice", "bob"])])
def test_regrade_selects_all_errored_one_candidate_or_another_lab_version(tmp_path, queue, selection, expected):
    lab, _ = make_batch(tmp_path, queue, extra=(JobInput("carol", "", None, "empty cell"),))
    engine = FakeEngine(passing_script(train=lambda spec: exited(spec, 0, stdout="accuracy 0.9")))
    grade_batch(queue, batch_run(tmp_path, lab, engine), 1, BatchProgress(3, 0, 1))
    queue.finish(BATCH, "alice", "error", "engine lost", None)  # as if alice's grading had failed
    alice = queue.jobs(BATCH)[0]
    with ResultStore(project_paths().results_db) as store:
        store._db.execute("DELETE FROM runs WHERE run_id = ?", (alice.run_id,))  # no report of alice's
        assert select_for_regrade(queue, store, BATCH, **selection) == expected


def test_a_regrade_of_an_unknown_candidate_is_refused(tmp_path, queue):
    from grader.errors import BadInputError

    make_batch(tmp_path, queue)
    with ResultStore(project_paths().results_db) as store, pytest.raises(BadInputError, match="no candidate 'zed'"):
        select_for_regrade(queue, store, BATCH, candidate="zed")
