"""The session-finish guard of tests/conftest.py, run for real in a pytest session of its own: what a process of
that session leaves on the engine fails the session and is removed; other owners' objects are not touched.
The same under pytest-xdist, where what a worker's child left is found by the worker and named by the controller."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from uuid import uuid4

import docker.errors
import pytest

from grader.sandbox.docker.containers import run_labels

TESTS = Path(__file__).resolve().parent.parent

LEAKY_TEST = textwrap.dedent('''
    import subprocess
    import sys

    # A child process (as a grader run is) creates a labelled network and exits without removing it.
    CHILD = (
        "import docker, sys; from grader.sandbox.docker.containers import run_labels; "
        "docker.from_env().networks.create(sys.argv[1], internal=True, labels=run_labels(sys.argv[2]))"
    )

    def test_leaves_a_network_behind():
        subprocess.run([sys.executable, "-c", CHILD, "{network}", "{run_id}"], check=True)
''')


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["one-process", "xdist-worker"])
def test_session_fails_naming_what_its_processes_left_and_removes_only_that(docker_client, tmp_path, workers):
    run_id = f"test-leak-{uuid4().hex[:8]}"
    leaked = f"grader-{run_id}"
    # Someone else's object (this outer process owns it, not the inner session): it must survive.
    bystander = docker_client.volumes.create(name=f"grader-test-bystander-{uuid4().hex[:8]}",
                                             labels=run_labels(f"test-bystander-{uuid4().hex[:8]}"))
    try:
        session_dir = tmp_path / "session"
        session_dir.mkdir()
        shutil.copy(TESTS / "conftest.py", session_dir / "conftest.py")
        (session_dir / "test_leaky.py").write_text(LEAKY_TEST.format(network=leaked, run_id=run_id))
        inner = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, "--rootdir", str(session_dir),
             str(session_dir)],
            cwd=session_dir, capture_output=True, text=True, timeout=120,
        )
        assert inner.returncode == 1, inner.stdout + inner.stderr
        assert "1 passed" in inner.stdout  # the test itself passed: the guard failed the session
        assert "this test session left grader objects on the engine" in inner.stdout
        assert f"run {run_id}: network {leaked}" in inner.stdout
        assert docker_client.networks.list(names=[leaked]) == []
        bystander.reload()  # still there
    finally:
        try:
            bystander.remove(force=True)
        finally:
            for network in docker_client.networks.list(names=[leaked]):
                with contextlib.suppress(docker.errors.NotFound):
                    network.remove()
