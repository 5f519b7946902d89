"""The durable job queue: states, claims, history, regrades, and jobs a killed grader left running."""

from __future__ import annotations

import socket

from grader.cohort.queue import JobInput, SqliteJobQueue, owner_is_gone, this_process

BATCH = "lab-1234"
DEAD_OWNER = f"{socket.gethostname()}:999999999:1"  # no such pid


def states(queue: SqliteJobQueue) -> dict[str, str]:
    return {job.candidate: job.state for job in queue.jobs(BATCH)}


def test_jobs_go_queued_running_graded_and_each_try_is_in_the_history(queue):
    queue.create_batch(BATCH, "lab", {"out": "/tmp/x"})
    queue.enqueue(BATCH, [JobInput("alice", "/a"), JobInput("bob", "/b")])
    assert states(queue) == {"alice": "queued", "bob": "queued"}
    job = queue.claim(BATCH, this_process(), "run-a1")
    assert (job.candidate, job.state, job.attempts, job.run_id) == ("alice", "running", 1, "run-a1")
    queue.finish(BATCH, "alice", "graded", None, "/out/alice/run-a1")
    assert states(queue) == {"alice": "graded", "bob": "queued"}
    assert [(h.candidate, h.run_id, h.state) for h in queue.history(BATCH)] == [("alice", "run-a1", "graded")]


def test_claims_follow_roster_order_and_stop_when_nothing_is_queued(queue):
    queue.create_batch(BATCH, "lab", {})
    queue.enqueue(BATCH, [JobInput(name, f"/{name}") for name in ("c", "a", "b")])
    claimed = [queue.claim(BATCH, this_process(), f"r{n}").candidate for n in range(3)]
    assert claimed == ["c", "a", "b"]
    assert queue.claim(BATCH, this_process(), "r4") is None


def test_an_input_problem_is_an_error_from_the_start_and_a_fixed_row_is_queued_on_the_next_run(queue):
    queue.create_batch(BATCH, "lab", {})
    queue.enqueue(BATCH, [JobInput("alice", "", None, "line 2: the repository cell is empty")])
    assert states(queue) == {"alice": "error"}
    assert queue.jobs(BATCH)[0].error == "line 2: the repository cell is empty"
    queue.enqueue(BATCH, [JobInput("alice", "/fixed")])
    job = queue.jobs(BATCH)[0]
    assert (job.state, job.source, job.error) == ("queued", "/fixed", None)


def test_the_same_inputs_again_change_nothing_and_a_changed_graded_input_is_only_noted(queue):
    queue.create_batch(BATCH, "lab", {})
    queue.enqueue(BATCH, [JobInput("alice", "/a")])
    queue.claim(BATCH, this_process(), "r1")
    queue.finish(BATCH, "alice", "graded", None, "/out")
    assert queue.enqueue(BATCH, [JobInput("alice", "/a")]) == []
    notes = queue.enqueue(BATCH, [JobInput("alice", "/a-new")])
    assert states(queue) == {"alice": "graded"} and queue.jobs(BATCH)[0].source == "/a"
    assert notes == [f"alice: the input changed since it was graded; `grader regrade {BATCH} --candidate alice` "
                     "grades the new one"]


def test_a_regrade_requeues_finished_jobs_and_keeps_their_history(queue):
    queue.create_batch(BATCH, "lab", {})
    queue.enqueue(BATCH, [JobInput("alice", "/a")])
    queue.claim(BATCH, this_process(), "r1")
    queue.finish(BATCH, "alice", "error", "engine lost", None)
    assert queue.requeue(BATCH, ["alice"]) == 1
    assert states(queue) == {"alice": "queued"}
    queue.claim(BATCH, this_process(), "r2")
    queue.finish(BATCH, "alice", "graded", None, "/out/r2")
    assert [(h.run_id, h.state) for h in queue.history(BATCH)] == [("r1", "error"), ("r2", "graded")]


def test_a_job_whose_grader_died_is_released_until_it_was_claimed_too_often(queue):
    queue.create_batch(BATCH, "lab", {})
    queue.enqueue(BATCH, [JobInput("alice", "/a")])
    for attempt in (1, 2, 3):
        queue.claim(BATCH, DEAD_OWNER, f"r{attempt}")
        assert [job.candidate for job in queue.abandoned(BATCH)] == ["alice"]
        assert queue.release(BATCH, "alice", max_attempts=3) == ("queued" if attempt < 3 else "error")
    job = queue.jobs(BATCH)[0]
    assert (job.state, job.attempts) == ("error", 3)
    assert "stopped 3 times" in job.error


def test_a_running_job_of_a_live_process_is_not_abandoned(queue):
    queue.create_batch(BATCH, "lab", {})
    queue.enqueue(BATCH, [JobInput("alice", "/a")])
    queue.claim(BATCH, this_process(), "r1")
    assert queue.abandoned(BATCH) == []


def test_owners_are_judged_only_on_their_own_host():
    assert not owner_is_gone(this_process())
    assert owner_is_gone(DEAD_OWNER)
    assert not owner_is_gone("another-host.invalid:1:1")
    pid_reused = this_process().rsplit(":", 1)[0] + ":1"  # same pid, another start time
    assert owner_is_gone(pid_reused)


def test_two_queues_on_one_file_see_the_same_jobs(results_db):
    first, second = SqliteJobQueue(results_db), SqliteJobQueue(results_db)
    try:
        first.create_batch(BATCH, "lab", {})
        first.enqueue(BATCH, [JobInput("alice", "/a")])
        assert second.claim(BATCH, this_process(), "r1").candidate == "alice"
        assert first.claim(BATCH, this_process(), "r2") is None
    finally:
        first.close()
        second.close()


def test_default_workers_follow_cores_and_the_memory_each_grading_may_hold(tmp_path):
    from fakes import write_lab  # type: ignore[import-not-found]

    from grader.cohort.capacity import default_workers, grading_memory
    from grader.labs.loading import load_lab
    from grader.paths import project_paths

    lab_dir, _ = write_lab(tmp_path / "lab")
    lab = load_lab(str(lab_dir), project_paths())
    per_grading = grading_memory(lab)
    assert per_grading == 3 * 512 * 1024**2  # the step container and two services, 512m each
    assert default_workers(lab, cores=2, memory=24 * 1024**3) == 2
    assert default_workers(lab, cores=64, memory=24 * 1024**3) == 8  # capped
    assert default_workers(lab, cores=4, memory=per_grading) == 1  # memory is short
    assert default_workers(lab, cores=4, memory=0) == 1  # never none
