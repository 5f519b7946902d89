"""For every test session, unit or integration: when it ends, nothing of the grader's that it created may be left
on the Docker engine.

"What it created" is judged by owner, since other gradings may share the engine: objects labelled
``capstone-grader.run`` whose owner (``capstone-grader.pid`` on this host) is this pytest process or a process
it started during the session (``subprocess`` children are recorded as they start), created after the session
began. Anything found is named loudly, removed, and the session's exit status becomes "tests failed".
Nobody else's objects are counted or touched. No engine answering means nothing can have been left.

Under pytest-xdist each worker looks for what it and its children left and hands the list to the controller,
which names everything found (its workers' objects too) and fails the session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any

import pytest

_SESSION_STARTED = int(time.time())
_children: set[int] = set()
_found_by_workers: list[str] = []
WORKER_LEFTOVERS = "capstone-grader-leftovers"
_original_popen_init = subprocess.Popen.__init__


def _recording_popen_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    _original_popen_init(self, *args, **kwargs)
    _children.add(self.pid)


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _recording_popen_init  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a 200-column terminal: rich, given no terminal, wraps at 80 and folds a word longer than
    that, so a path under pytest-xdist's deeper temporary folders would be cut in two in a message a test reads."""
    monkeypatch.setenv("COLUMNS", "200")


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _original_popen_init  # type: ignore[method-assign]


def left_by_this_session(client: Any) -> dict[str, list[str]]:
    """Run id → "kind name" of the grader's objects this session's processes created and left."""
    from grader.sandbox.docker.containers import LABEL_CREATED, LABEL_HOST, LABEL_PID, LABEL_RUN

    owners = {str(os.getpid()), *(str(pid) for pid in _children)}
    found: dict[str, list[str]] = {}
    listings = (
        ("container", client.containers.list(all=True, filters={"label": LABEL_RUN}, ignore_removed=True)),
        ("network", client.networks.list(filters={"label": LABEL_RUN})),
        ("volume", client.volumes.list(filters={"label": LABEL_RUN})),
    )
    for kind, objects in listings:
        for obj in objects:
            labels = obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}
            ours = labels.get(LABEL_PID) in owners and labels.get(LABEL_HOST) == socket.gethostname()
            if ours and int(labels.get(LABEL_CREATED, "0")) >= _SESSION_STARTED:
                found.setdefault(labels[LABEL_RUN], []).append(f"{kind} {obj.name}")
    return found


def remove_what_this_session_left() -> list[str]:
    """Remove what this process and its children left; one line per run, plus any removal that failed."""
    from grader.errors import InfrastructureError
    from grader.sandbox.docker.containers import cleanup_leftovers, docker_client

    try:
        client = docker_client(timeout=30)
    except InfrastructureError:
        return []
    leftovers = left_by_this_session(client)
    lines = [f"run {run_id}: {', '.join(sorted(objects))}" for run_id, objects in sorted(leftovers.items())]
    for run_id in leftovers:
        try:
            cleanup_leftovers(client, run_id=run_id)
        except InfrastructureError:
            time.sleep(1)  # e.g. a container the engine was still creating for a killed grader: once more
            try:
                cleanup_leftovers(client, run_id=run_id)
            except InfrastructureError as exc:
                lines.append(f"could not remove them all: {exc}")
    return lines


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect what a finished worker found."""
    _found_by_workers.extend(getattr(node, "workeroutput", {}).get(WORKER_LEFTOVERS, []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    lines = remove_what_this_session_left()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller names them and fails the session
        workeroutput[WORKER_LEFTOVERS] = lines
        return
    lines += _found_by_workers
    if not lines:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("!", "this test session left grader objects on the engine (now removed)", red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("this test session left grader objects on the engine (now removed):", *lines, sep="\n")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
