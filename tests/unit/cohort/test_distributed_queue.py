"""The SQL job queue of distributed workers, against a real PostgreSQL (started for the session on loopback) and
SQLite: the attempt claim is idempotent, a live lease keeps a job with its worker, an expired one lets another
worker take it over, and the store keeps exactly one report per attempt."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from real_services import postgres_server

from grader.cohort.distributed.sqlqueue import SqlJobQueue, SqlReports
from grader.cohort.jobs import JobInput
from grader.errors import BadInputError

BATCH = "lab-1234"


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    name = f"t{abs(hash(request.node.name)) % 10**9}"  # one database per test: no state shared between tests
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        db.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield base.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def queue(store_url: str) -> Iterator[SqlJobQueue]:
    job_queue = SqlJobQueue(store_url)
    job_queue.create_batch(BATCH, "train-and-test", {"out": "/tmp/out", "deadline": ""})
    job_queue.enqueue(BATCH, [JobInput("alice", "/subs/alice"), JobInput("bob", "/subs/bob"),
                              JobInput("eve", "", problem="listed 2 times")])
    yield job_queue
    job_queue.close()


def test_a_queued_job_is_claimed_as_a_new_attempt_with_its_run_id(queue: SqlJobQueue) -> None:
    claim = queue.claim_attempt(BATCH, "alice", "host:1:1", "run-a", max_attempts=3)
    assert claim.kind == "grade" and claim.job is not None
    assert (claim.job.state, claim.job.attempts, claim.job.run_id, claim.job.owner) == ("running", 1, "run-a",
                                                                                        "host:1:1")


def test_a_job_with_a_live_lease_stays_with_its_worker(queue: SqlJobQueue) -> None:
    queue.claim_attempt(BATCH, "alice", "host:1:1", "run-a", max_attempts=3)
    again = queue.claim_attempt(BATCH, "alice", "host:2:2", "run-b", max_attempts=3)
    assert again.kind == "busy"
    assert queue.jobs(BATCH)[0].run_id == "run-a"


def test_a_redelivered_job_whose_report_landed_is_not_graded_again(queue: SqlJobQueue) -> None:
    queue.claim_attempt(BATCH, "alice", "host:1:1", "run-a", max_attempts=3)
    assert queue.finish_attempt(BATCH, "alice", "run-a", "graded", None, "/out/alice/run-a", '{"score": 1}')
    redelivered = queue.claim_attempt(BATCH, "alice", "host:2:2", "run-b", max_attempts=3)
    assert redelivered.kind == "finished"
    assert queue.reports(BATCH) == [("alice", 1, "run-a", '{"score": 1}')]
    assert [(h.candidate, h.run_id, h.state) for h in queue.history(BATCH)] == [
        ("eve", None, "error"), ("alice", "run-a", "graded")]


def test_a_job_whose_worker_died_is_taken_over_and_only_the_new_attempt_lands(store_url: str,
                                                                              queue: SqlJobQueue) -> None:
    queue.claim_attempt(BATCH, "alice", "host:1:1", "run-a", max_attempts=3)
    expired = SqlJobQueue(store_url, lease_s=-1.0)  # every lease has run out for this one
    try:
        takeover = expired.claim_attempt(BATCH, "alice", "host:2:2", "run-b", max_attempts=3)
        assert takeover.kind == "grade" and takeover.job is not None and takeover.job.attempts == 2
        # the first worker was only slow, not dead: its late result is refused, the new attempt's is kept
        assert not queue.finish_attempt(BATCH, "alice", "run-a", "graded", None, "/out/a", "{}")
        assert not queue.heartbeat(BATCH, "alice", "run-a")
        assert expired.finish_attempt(BATCH, "alice", "run-b", "graded", None, "/out/b", "{}")
        assert not expired.finish_attempt(BATCH, "alice", "run-b", "graded", None, "/out/b", "{}")
    finally:
        expired.close()
    assert [(c, attempt, run) for c, attempt, run, _ in queue.reports(BATCH)] == [("alice", 2, "run-b")]


def test_a_job_that_keeps_killing_workers_is_given_up_with_a_reason(store_url: str, queue: SqlJobQueue) -> None:
    expired = SqlJobQueue(store_url, lease_s=-1.0)
    try:
        kinds = [expired.claim_attempt(BATCH, "bob", f"host:{n}:1", f"run-{n}", max_attempts=2).kind
                 for n in range(3)]
    finally:
        expired.close()
    assert kinds == ["grade", "grade", "gave_up"]
    bob = queue.jobs(BATCH)[1]
    assert bob.state == "error" and "stopped 2 times" in (bob.error or "")
    assert queue.claim_attempt(BATCH, "bob", "host:9:9", "run-9", max_attempts=2).kind == "finished"


def test_concurrent_deliveries_of_one_job_start_one_attempt(queue: SqlJobQueue) -> None:
    kinds: list[str] = []
    barrier = threading.Barrier(6)

    def deliver(n: int) -> None:
        barrier.wait()
        kinds.append(queue.claim_attempt(BATCH, "alice", f"host:{n}:1", f"run-{n}", max_attempts=3).kind)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kinds) == ["busy"] * 5 + ["grade"]
    assert queue.jobs(BATCH)[0].attempts == 1


def test_an_unknown_job_is_not_graded(queue: SqlJobQueue) -> None:
    assert queue.claim_attempt(BATCH, "mallory", "host:1:1", "run-m", max_attempts=3).kind == "unknown"
    assert queue.claim_attempt("other-batch", "alice", "host:1:1", "run-m", max_attempts=3).kind == "unknown"


def test_the_job_queue_protocol_behaves_like_the_sqlite_backend(queue: SqlJobQueue) -> None:
    assert [(j.candidate, j.state) for j in queue.jobs(BATCH)] == [("alice", "queued"), ("bob", "queued"),
                                                                    ("eve", "error")]
    notes = queue.enqueue(BATCH, [JobInput("alice", "/subs/alice"), JobInput("carol", "/subs/carol")])
    assert notes == [] and [j.candidate for j in queue.jobs(BATCH)][-1] == "carol"
    first = queue.claim(BATCH, "host:1:1", "run-1")
    assert first is not None and first.candidate == "alice"
    queue.set_phase(BATCH, "alice", "train")
    assert queue.jobs(BATCH)[0].phase == "train"
    queue.finish(BATCH, "alice", "graded", None, "/out/alice")
    changed = queue.enqueue(BATCH, [JobInput("alice", "/subs/alice-v2")])
    assert "the input changed since it was graded" in changed[0]
    assert queue.requeue(BATCH, ["alice", "bob"]) == 1  # bob is still queued
    assert queue.jobs(BATCH)[0].state == "queued" and queue.jobs(BATCH)[0].attempts == 0
    assert queue.batch(BATCH) is not None and [b.batch_id for b in queue.batches()] == [BATCH]
    assert queue.batch("nope") is None


def test_abandoned_jobs_are_those_whose_lease_ran_out(store_url: str, queue: SqlJobQueue) -> None:
    queue.claim_attempt(BATCH, "alice", "elsewhere:1:1", "run-a", max_attempts=3)
    assert queue.abandoned(BATCH) == []  # another host's worker with a live lease
    expired = SqlJobQueue(store_url, lease_s=-1.0)
    try:
        assert [job.candidate for job in expired.abandoned(BATCH)] == ["alice"]
        assert expired.release(BATCH, "alice", max_attempts=3) == "queued"
    finally:
        expired.close()


def test_a_store_url_that_is_not_one_is_refused_clearly() -> None:
    with pytest.raises(BadInputError, match="not a database URL"):
        SqlJobQueue("not a url")
    with pytest.raises(BadInputError, match="--store"):
        SqlJobQueue("nosuchdb+driver://host/db")



def test_the_exports_read_each_job_s_report_from_the_shared_store(queue: SqlJobQueue) -> None:
    from cohort.test_exports import check, report

    from grader.cohort.collect import cohort_entries
    from grader.models import Status

    queue.claim_attempt(BATCH, "alice", "host:1:1", "run-a", max_attempts=3)
    reports = SqlReports(queue)
    assert reports.get("run-a") is None  # not finished: no report yet
    graded = report("run-a", check("readme", Status.passed, 2))
    queue.finish_attempt(BATCH, "alice", "run-a", "graded", None, "/out/alice/run-a", graded.model_dump_json())
    assert reports.get("run-a") == graded
    entries = {entry.candidate: entry for entry in cohort_entries(queue, reports, BATCH)}
    assert entries["alice"].report == graded and entries["bob"].report is None and entries["eve"].state == "error"


def test_a_regrade_is_a_new_attempt_with_its_own_report_and_the_old_one_is_kept(queue: SqlJobQueue) -> None:
    queue.claim_attempt(BATCH, "alice", "host:1:1", "run-a", max_attempts=3)
    assert queue.finish_attempt(BATCH, "alice", "run-a", "graded", None, "/out/a", "{}")
    assert queue.requeue(BATCH, ["alice"]) == 1
    regrade = queue.claim_attempt(BATCH, "alice", "host:1:1", "run-b", max_attempts=3)
    assert regrade.kind == "grade" and regrade.job is not None and regrade.job.attempts == 1  # claims start again
    assert queue.finish_attempt(BATCH, "alice", "run-b", "graded", None, "/out/b", "{}")
    assert [(c, attempt, run) for c, attempt, run, _ in queue.reports(BATCH)] == [("alice", 1, "run-a"),
                                                                                ("alice", 2, "run-b")]
