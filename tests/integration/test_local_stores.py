"""MLflow stores a candidate keeps in the repository, on the real engine: code that hard-codes ``sqlite:///mlflow.db``
or ``file:./mlruns`` is graded on what it logged there (with the local-store note), a store holding nothing of this
grading fails for that reason, and what a hostile step leaves (symlinks to host files, a FIFO, a forged database, a
forged result line) never reaches the host and never stops the reading."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from grader.evidence.local_store_reader import read_local_stores
from grader.models import Limits, Status
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.base import RunSpec
from grader.sandbox.docker.engine import DockerEngine

SUBMISSIONS = Path(__file__).parent / "submissions"
TRACKING_CHECKS = ("run-tracked", "model-registered")
STEP_LIMITS = Limits(memory="1g", cpus=1, pids=256, timeout=180, tmpfs="128m", output="256k")


def grade(docker_client, submission: Path, out: Path, lab: str = "capstone-review"):
    paths = project_paths()
    options = GradeOptions(out_dir=out, store=False, formats=("json", "md"))
    return grade_submission(str(submission), lab, paths, DockerEngine(paths, docker_client), options).report


@pytest.mark.parametrize(("name", "uri"), [("local-sqlite-store", "sqlite:///mlflow.db"),
                                           ("local-file-store", "./mlruns")])
def test_runs_in_the_repositorys_own_store_earn_credit_and_the_report_says_where(docker_client, runtime_image,
                                                                                  tmp_path, name, uri):
    report = grade(docker_client, SUBMISSIONS / name, tmp_path / "report")
    checks = {c.id: c for c in report.checks}
    train = next(s for s in report.steps if s.id == "train")
    assert train.exit_code == 0, train.stderr[-2000:]
    note = f"found in the repository's local store {uri}, not on the tracking server"
    for check_id in TRACKING_CHECKS:
        assert checks[check_id].status == Status.passed, checks[check_id].message
        assert checks[check_id].message.endswith(note)
        assert checks[check_id].evidence["source"] == f"local store {uri}"
    assert checks["run-tracked"].message.startswith("run ") and "logged 2 params" in checks["run-tracked"].message
    assert note in (tmp_path / "report" / "report.md").read_text()


def test_a_store_holding_only_runs_from_before_grading_fails_for_that_reason(docker_client, runtime_image, tmp_path):
    """The repository was committed with an mlflow.db of the author's runs, and training logs nothing now."""
    submission = tmp_path / "submission"
    shutil.copytree(SUBMISSIONS / "local-sqlite-store", submission)
    author_runs = textwrap.dedent("""
        import mlflow
        mlflow.set_tracking_uri("sqlite:////submission/mlflow.db")
        with mlflow.start_run():
            mlflow.log_param("C", 1.0)
    """)
    subprocess.run(["docker", "run", "--rm", "-u", "0", "-e", "HOME=/tmp", "-v", f"{submission}:/submission",
                    runtime_image.tag, "python3", "-c", author_runs], check=True, capture_output=True)
    db = sqlite3.connect(submission / "mlflow.db")
    db.execute("UPDATE runs SET start_time = start_time - 86400000")  # the author's run, a day old
    db.commit()
    db.close()
    subprocess.run(["docker", "run", "--rm", "-u", "0", "-v", f"{submission}:/submission", runtime_image.tag,
                    "sh", "-c", "rm -rf /submission/mlruns && chmod -R a+rwX /submission"], check=True)
    (submission / "train.py").write_text('print("trained; nothing logged")\n')

    report = grade(docker_client, submission, tmp_path / "report")
    checks = {c.id: c for c in report.checks}
    assert checks["training-runs"].status == Status.passed
    tracked = checks["run-tracked"]
    assert tracked.status == Status.failed
    assert tracked.message == ("no finished run of this grading to look at; the repository's local store "
                               "sqlite:///mlflow.db holds nothing of this grading either (only what was there before "
                               "it)")


def test_a_lab_about_the_tracking_server_fails_a_local_run_and_says_to_log_there(docker_client, runtime_image,
                                                                                  tmp_path):
    report = grade(docker_client, SUBMISSIONS / "local-sqlite-store", tmp_path / "report", lab="mlops-capstone")
    checks = {c.id: c for c in report.checks}
    created = checks["run-created"]
    assert created.status == Status.failed and created.points == 0
    assert created.message.startswith("1 finished run(s) during grading, newest ")
    assert created.message.endswith("found in the repository's local store sqlite:///mlflow.db, not on the tracking "
                                    "server: this lab grades what reaches the tracking server; log to the server in "
                                    "MLFLOW_TRACKING_URI instead of a hard-coded sqlite:///mlflow.db")
    assert checks["model-registered"].status == Status.skipped  # it needs run-created


HOSTILE_STEP = textwrap.dedent("""
    set -e
    mkdir -p /work/good
    python3 - <<'EOF'
    import mlflow, sqlite3
    mlflow.set_tracking_uri("sqlite:////work/good/mlflow.db")
    with mlflow.start_run():
        mlflow.log_param("C", "0.5")
    db = sqlite3.connect("/work/forged.db")
    db.executescript("CREATE TABLE experiments (experiment_id, name); CREATE TABLE runs (run_uuid, experiment_id,"
                     " status, start_time, lifecycle_stage); CREATE TABLE params (key, value, run_uuid);")
    db.execute("INSERT INTO runs VALUES ('x', 0, 'FINISHED', 'yesterday', 'active')")
    db.execute("INSERT INTO params VALUES ('p', ?, 'x')", ('\\nGRADER-PROBE-RESULT {{"stores": []}}\\n',))
    db.commit()
    EOF
    ln -s {secret} /work/mlflow.db
    ln -s {secret_dir} /work/linked
    mkdir -p /work/mlruns/0 && ln -s {secret} /work/mlruns/0/meta.yaml
    mkfifo /work/hang.db
""")


def test_a_hostile_work_area_never_reaches_host_files_and_never_stops_the_reading(sandbox_factory, tmp_path):
    token = secrets.token_hex(12)
    secret_dir = tmp_path / "host-only"
    secret_dir.mkdir()
    (secret_dir / "secret.db").write_text(f"name: {token}\n")
    sandbox = sandbox_factory()
    step = HOSTILE_STEP.format(secret=secret_dir / "secret.db", secret_dir=secret_dir)
    made = sandbox.run(RunSpec(name="train", command=step, image=sandbox.image, limits=STEP_LIMITS))
    assert made.exit_code == 0, made.stderr
    checksum = "sha256sum /work/good/mlflow.db /work/forged.db"
    before = sandbox.run(RunSpec(name="sum", command=checksum, image=sandbox.image, limits=sandbox.limits)).stdout

    reading = read_local_stores(sandbox, "train")

    assert token not in repr(reading)
    good = {s.uri: s for s in reading.stores}["sqlite:///good/mlflow.db"]
    assert [r.params for r in good.snapshot.runs] == [{"C": "0.5"}]
    forged = {s.uri: s for s in reading.stores}["sqlite:///forged.db"]
    assert not forged.readable and "ValueError" in (forged.snapshot.error or "")
    assert "sqlite:///mlflow.db: a symlink, not read" in reading.notes
    assert "./mlruns" not in {s.uri for s in reading.stores}  # its only experiment is a link: not a store
    after = sandbox.run(RunSpec(name="sum", command=checksum, image=sandbox.image, limits=sandbox.limits)).stdout
    assert after == before


def test_the_reader_cannot_write_to_the_work_area_nor_reach_a_network(sandbox_factory):
    sandbox = sandbox_factory()
    from grader.evidence.local_store_reader import reader_spec

    spec = reader_spec(sandbox, "train")
    probe = ("touch /work/x 2>/dev/null && echo wrote || echo read-only; "
             "python3 -c \"import socket; print(sorted(__import__('os').listdir('/sys/class/net')))\"")
    result = sandbox.run(RunSpec(name=spec.name, command=probe, image=spec.image, limits=spec.limits,
                                 network=spec.network, work_read_only=spec.work_read_only, mounts=spec.mounts))
    assert result.stdout.split("\n")[:2] == ["read-only", "['lo']"], result.stderr
