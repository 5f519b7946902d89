"""A worker's handling of one delivered job, on the fake engine and a SQLite job store: graded once, a
redelivery after the report landed is not graded again, a job another worker holds is left to it; and the
messages of the distributed options."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fakes import FakeEngine, passing_script, write_lab  # type: ignore[import-not-found]

from grader.cli import main
from grader.cohort.distributed.sqlqueue import SqlJobQueue
from grader.cohort.distributed.worker import WorkerContext, grade_delivered
from grader.cohort.jobs import JobInput
from grader.models import Report
from grader.paths import project_paths

BATCH = "fake-batch"


@pytest.fixture
def context(tmp_path: Path, results_db: Path) -> WorkerContext:
    lab, reference = write_lab(tmp_path / "lab")
    queue = SqlJobQueue(f"sqlite:///{tmp_path / 'store.db'}")
    queue.create_batch(BATCH, str(lab), {"out": str(tmp_path / "out"), "deadline": ""})
    queue.enqueue(BATCH, [JobInput("alice", str(reference)), JobInput("bob", str(reference))])
    return WorkerContext(queue=queue, paths=project_paths(), make_engine=lambda: FakeEngine(passing_script()))


def test_a_delivered_job_is_graded_once_and_its_report_lands_in_the_store(context: WorkerContext) -> None:
    assert grade_delivered(context, BATCH, "alice") == "grade"
    assert grade_delivered(context, BATCH, "alice") == "finished"  # redelivered after the report landed
    [(candidate, attempt, run_id, report_json)] = context.queue.reports(BATCH)
    assert (candidate, attempt) == ("alice", 1)
    assert report_json is not None and Report.model_validate_json(report_json).run_id == run_id
    alice = context.queue.jobs(BATCH)[0]
    assert alice.state == "graded" and alice.run_id == run_id
    assert (Path(alice.report_dir or "") / "report.json").is_file()


def test_a_job_another_worker_holds_is_left_to_it(context: WorkerContext) -> None:
    context.queue.claim_attempt(BATCH, "bob", "elsewhere:1:1", "run-other", max_attempts=3)
    assert grade_delivered(context, BATCH, "bob") == "busy"
    assert context.queue.reports(BATCH) == []
    assert grade_delivered(context, "no-such-batch", "bob") == "unknown"


def test_broker_without_a_shared_store_is_refused(tmp_path: Path, results_db: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    lab, reference = write_lab(tmp_path / "lab")
    code = main(["batch", str(lab), str(reference), "--broker", "redis://127.0.0.1:1/0"])
    assert code == 2 and "--broker needs --store" in capsys.readouterr().err


def test_a_worker_without_broker_or_store_says_what_it_needs(results_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GRADER_BROKER", raising=False)
    monkeypatch.delenv("GRADER_STORE", raising=False)
    assert main(["worker", "--store", "sqlite:///x.db"]) == 2
    assert "grader worker needs --broker" in capsys.readouterr().err


def test_a_store_that_cannot_be_reached_is_an_infrastructure_error(results_db: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lab, reference = write_lab(tmp_path / "lab")
    code = main(["batch", str(lab), str(reference), "--store", f"sqlite:///{tmp_path}/missing/dir/store.db"])
    assert code == 3 and "cannot open the job store" in capsys.readouterr().err


def test_following_a_batch_reports_a_takeover_and_ends_when_every_job_finished(context: WorkerContext) -> None:
    import io
    import threading

    from grader.cohort.distributed.dispatch import follow
    from grader.cohort.progress import PlainProgress

    queue, stream = context.queue, io.StringIO()
    queue.claim_attempt(BATCH, "alice", "elsewhere:1:1", "run-1", max_attempts=3)
    expired = SqlJobQueue(str(queue.engine.url), lease_s=-1.0)

    def workers() -> None:  # a worker dies, another takes the job over; then both jobs finish
        time.sleep(0.3)
        expired.claim_attempt(BATCH, "alice", "elsewhere:2:2", "run-2", max_attempts=3)
        time.sleep(0.3)
        expired.finish_attempt(BATCH, "alice", "run-2", "graded", None, None, None)
        expired.claim_attempt(BATCH, "bob", "elsewhere:2:2", "run-3", max_attempts=3)
        expired.finish_attempt(BATCH, "bob", "run-3", "error", "infrastructure error: engine lost", None, None)

    thread = threading.Thread(target=workers)
    thread.start()
    jobs = follow(queue, BATCH, PlainProgress(2, 0, 1, stream), poll_s=0.05)
    thread.join()
    expired.close()
    assert [(job.candidate, job.state) for job in jobs] == [("alice", "graded"), ("bob", "error")]
    shown = stream.getvalue()
    assert "alice: its worker stopped; another one grades it again" in shown
    assert "engine lost" in shown
