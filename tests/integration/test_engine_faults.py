"""The Docker engine lost mid-run: an infrastructure error (exit 3) that no check blames on the candidate, a
report and a stored result all the same, one retry where the lab allows it, and nothing left afterwards.

The shared engine is never restarted (other tests use it): the grader talks to it through a proxy socket this
test starts, and "the engine goes away" is the proxy dropping every connection and its socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from grader.labs.loading import load_lab
from grader.models import Report, Status
from grader.paths import project_paths
from grader.results.store import ResultStore
from grader.sandbox.docker.containers import LABEL_PID, cleanup_leftovers

PATHS = project_paths()
LAB = "train-and-test"
ENGINE_MESSAGE = "the Docker engine stopped answering"


class EngineProxy:
    """Forwards connections from a unix socket to the engine; ``stop`` is an engine outage as a client sees it:
    every open connection is cut and the socket is gone until ``start`` again."""

    def __init__(self, path: Path, upstream: str) -> None:
        self.path = path
        self.upstream = upstream
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="engine-proxy", daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._open = self._open, set()
        if listener is not None:
            listener.close()
        self.path.unlink(missing_ok=True)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = self._connect_upstream()
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile: this one must not survive the outage
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        address = urlparse(self.upstream)
        if address.scheme == "unix":
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(address.path)
            return upstream
        return socket.create_connection((address.hostname, address.port))


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)  # pass the half-close on: docker's attach streams rely on it
    except OSError:
        pass


@pytest.fixture
def engine_proxy() -> Iterator[EngineProxy]:
    folder = Path(tempfile.mkdtemp(prefix="grader-proxy-"))  # short: a unix socket path has 108 bytes at most
    proxy = EngineProxy(folder / "engine.sock", os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    proxy.start()
    yield proxy
    proxy.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def start_grading(engine_proxy: EngineProxy, tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Starts `grader grade` of the reference through the proxy; a grader a failed test leaves running is ended
    (SIGTERM: it tears down and writes its report)."""
    started: list[subprocess.Popen[str]] = []

    def start(lab: str) -> subprocess.Popen[str]:
        env = {**os.environ, "DOCKER_HOST": engine_proxy.docker_host, "GRADER_DB": str(tmp_path / "results.sqlite3")}
        grader = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "grade", "labs/train-and-test/reference", "--lab", lab,
             "--out", str(tmp_path / "out"), "--quiet"],
            cwd=PATHS.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        started.append(grader)
        return grader

    yield start
    for grader in started:
        if grader.poll() is None:
            grader.terminate()
            grader.communicate(timeout=120)


def wait_for_step_container(client, grader: subprocess.Popen[str], step: str) -> None:
    """Block until the grader has created the container of ``step`` (named grader-RUN-STEP-N)."""
    deadline = time.monotonic() + 120
    while True:
        names = [c.name for c in client.containers.list(
            all=True, filters={"label": f"{LABEL_PID}={grader.pid}"}, ignore_removed=True)]
        if any(f"-{step}-" in name for name in names):
            return
        assert grader.poll() is None, f"the grading ended before its {step} step: {grader.communicate()}"
        assert time.monotonic() < deadline, f"the grading never started its {step} step"
        time.sleep(0.05)


def stored_report(tmp_path: Path, run_id: str) -> Report:
    with ResultStore(tmp_path / "results.sqlite3") as store:
        report = store.get(run_id)
    assert report is not None, f"run {run_id} is not in the results store"
    return report


def test_engine_lost_mid_step_ends_in_an_infrastructure_error_never_blamed_on_the_candidate(
    docker_client, runtime_image, engine_proxy, start_grading, objects_of_run, tmp_path
):
    grader = start_grading(LAB)
    wait_for_step_container(docker_client, grader, "train")
    engine_proxy.stop()
    _, stderr = grader.communicate(timeout=120)

    assert grader.returncode == 3, stderr
    assert ENGINE_MESSAGE in " ".join(stderr.split())  # the console wraps long messages
    report = Report.model_validate_json((tmp_path / "out" / "report.json").read_text())
    assert report.outcome == "error" and ENGINE_MESSAGE in (report.error or "")
    assert report.score == 0 and not report.passed
    rubric_checks = [check.id for check in load_lab(LAB, PATHS).rubric.rubric.checks]
    assert [check.id for check in report.checks] == rubric_checks  # every check has a result, in rubric order
    assert {check.status for check in report.checks} == {Status.error}
    assert all("not the submission's fault" in check.message and ENGINE_MESSAGE in check.message
               for check in report.checks)
    assert [(a.number, a.outcome, a.error) for a in report.attempts] == [(1, "error", report.error)]
    assert stored_report(tmp_path, report.run_id).outcome == "error"

    # The engine could not be reached for teardown; once it answers, the dead owner's leftovers go.
    assert objects_of_run(report.run_id), "teardown cannot have reached the engine through the stopped proxy"
    cleanup = subprocess.run(
        [sys.executable, "-m", "grader.cli", "cleanup", "--run", report.run_id, "--dead-only"],
        cwd=PATHS.root, capture_output=True, text=True, timeout=120,
    )
    assert cleanup.returncode == 0, cleanup.stderr
    assert objects_of_run(report.run_id) == []


@pytest.fixture
def lab_with_one_retry(tmp_path) -> Path:
    lab_dir = tmp_path / "lab"
    shutil.copytree(load_lab(LAB, PATHS).directory, lab_dir, ignore=shutil.ignore_patterns("variants"))
    with (lab_dir / "lab.yaml").open("a") as lab_file:
        lab_file.write("retry_on_infrastructure_error: 1\n")
    return lab_dir


def test_run_is_retried_once_the_engine_answers_again_and_the_report_says_attempt_2(
    docker_client, runtime_image, engine_proxy, start_grading, lab_with_one_retry, objects_of_run, tmp_path
):
    grader = start_grading(str(lab_with_one_retry))
    wait_for_step_container(docker_client, grader, "train")
    engine_proxy.stop()
    time.sleep(2)  # a short outage, as during an engine restart
    engine_proxy.start()
    _, stderr = grader.communicate(timeout=180)

    assert grader.returncode == 0, stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["outcome"] == "graded" and report["error"] is None
    assert report["score"] == report["max_score"] and report["passed"] is True
    assert {check["status"] for check in report["checks"]} == {"pass"}
    first, second = report["attempts"]
    assert (first["number"], first["outcome"], second["number"], second["outcome"]) == (1, "error", 2, "graded")
    assert ENGINE_MESSAGE in first["error"] and second["error"] is None
    assert [step["id"] for step in report["steps"]] == ["train"]  # the second try's, not both tries'
    stored = stored_report(tmp_path, report["run_id"])
    assert stored.outcome == "graded" and len(stored.attempts) == 2
    assert objects_of_run(report["run_id"]) == []  # the failed try's leftovers included


def test_cleanup_removes_a_run_network_that_still_has_an_endpoint(docker_client, runtime_image, sandbox_factory):
    """An endpoint the engine still holds (stale after a restart, or a container that is not the grader's) does not
    keep the run's network alive: cleanup force-disconnects it."""
    sandbox = sandbox_factory()
    stranger = docker_client.containers.run(runtime_image.tag, ["sleep", "60"], detach=True,
                                            network=sandbox.network_name, labels={"test": "stranger"})
    try:
        removed = cleanup_leftovers(docker_client, run_id=sandbox.run_id)
        assert f"network {sandbox.network_name} (run {sandbox.run_id})" in removed
        assert docker_client.networks.list(names=[sandbox.network_name]) == []
        stranger.reload()
        assert stranger.status == "running"  # not the grader's: disconnected, never removed
    finally:
        stranger.remove(force=True)
