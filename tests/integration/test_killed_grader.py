"""A grader killed mid-run cannot tear down; the next start (or `grader cleanup`) removes what it left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from grader.paths import project_paths
from grader.sandbox.docker.containers import LABEL_PID
from grader.sandbox.docker.engine import DockerEngine

PATHS = project_paths()


def objects_of(client, pid: int) -> list[str]:
    label = f"{LABEL_PID}={pid}"
    found = [f"container {c.name}"
             for c in client.containers.list(all=True, filters={"label": label}, ignore_removed=True)]
    found += [f"network {n.name}" for n in client.networks.list(filters={"label": label})]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": label})]
    return found


def start_grading_and_kill_it(client, tmp_path) -> int:
    grader = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "grade", "labs/train-and-test/reference", "--lab", "train-and-test",
         "--out", str(tmp_path / "out"), "--no-store", "--quiet"],
        cwd=PATHS.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not any(o.startswith("container") for o in objects_of(client, grader.pid)):
        assert grader.poll() is None, "the grading run ended before it could be killed"
        assert time.monotonic() < deadline, "the grading run never started a container"
        time.sleep(0.2)
    os.kill(grader.pid, signal.SIGKILL)
    grader.wait(timeout=30)
    wait_until_settled(client, grader.pid)
    return grader.pid


def wait_until_settled(client, pid: int, quiet_for: float = 1.0, timeout: float = 15) -> None:
    """A request the grader sent just before it died is still carried out by the engine (a container created
    after the kill): wait until what the dead grader owns has stopped changing, so cleanup sees all of it."""
    deadline = time.monotonic() + timeout
    last, since = objects_of(client, pid), time.monotonic()
    while time.monotonic() - since < quiet_for and time.monotonic() < deadline:
        time.sleep(0.2)
        now = objects_of(client, pid)
        if now != last:
            last, since = now, time.monotonic()


@pytest.mark.parametrize("how", ["next-start", "cleanup-command"])
def test_what_a_killed_grader_left_is_removed(docker_client, runtime_image, tmp_path, how):
    pid = start_grading_and_kill_it(docker_client, tmp_path)
    assert objects_of(docker_client, pid), "a SIGKILLed grader should have left its sandbox behind"
    assert not (tmp_path / "out" / "report.json").exists()
    if how == "next-start":
        DockerEngine(PATHS).client  # noqa: B018 - connecting is what triggers the clean-up
    else:
        completed = subprocess.run([sys.executable, "-m", "grader.cli", "cleanup", "--dead-only"], cwd=PATHS.root,
                                   capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stderr
    assert objects_of(docker_client, pid) == []
