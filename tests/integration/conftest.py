"""Fixtures for tests against a real Docker engine: one client and one runtime image per session, and
sandboxes that are torn down (and then force-cleaned by label) after every test.

These tests need the engine: when none answers they fail with the way to start one, never skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from grader.errors import InfrastructureError
from grader.models import Limits
from grader.paths import project_paths
from grader.sandbox.docker.containers import (
    LABEL,
    LABEL_PID,
    LABEL_RUN,
    DockerSandbox,
    cleanup_leftovers,
    owner_is_gone,
)
from grader.sandbox.docker.containers import (
    docker_client as connect,
)
from grader.sandbox.docker.images import ImageRef, ensure_image

TEST_RUN_PREFIX = "test-"
HERE = Path(__file__).resolve().parent
# Small and quick: tests that need more ask for it.
TEST_LIMITS = Limits(memory="256m", cpus=1.0, pids=128, timeout=20, tmpfs="64m", output="64k")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def labelled_objects(client, label: str) -> list[tuple[str, str, dict[str, str]]]:
    """(kind, name, labels) of every container, network and volume carrying ``label``."""
    by_label = {"label": label}
    found = [("container", c.name, c.labels)
             for c in client.containers.list(all=True, filters=by_label, ignore_removed=True)]
    found += [("network", n.name, n.attrs["Labels"] or {}) for n in client.networks.list(filters=by_label)]
    found += [("volume", v.name, v.attrs["Labels"] or {}) for v in client.volumes.list(filters=by_label)]
    return found


def run_objects(client, run_id: str) -> list[str]:
    """Names of what is still labelled with ``run_id``."""
    return [f"{kind} {name}" for kind, name, _ in labelled_objects(client, f"{LABEL_RUN}={run_id}")]


def new_run_id() -> str:
    return f"{TEST_RUN_PREFIX}{uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def test_limits() -> Limits:
    """The limits sandbox_factory uses unless told otherwise."""
    return TEST_LIMITS


@pytest.fixture(scope="session")
def make_run_id() -> Callable[[], str]:
    """A fresh run id marked as a test's, so the session's final sweep can recognise it."""
    return new_run_id


@pytest.fixture(scope="session")
def objects_of_run(docker_client) -> Callable[[str], list[str]]:
    """What is still labelled with a run id on the engine."""
    return lambda run_id: run_objects(docker_client, run_id)


@pytest.fixture(scope="session")
def docker_client():
    try:
        return connect()
    except InfrastructureError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def runtime_image(docker_client) -> ImageRef:
    return ensure_image(docker_client, "runtime", project_paths())


@pytest.fixture
def sandbox_factory(docker_client, runtime_image) -> Iterator[Callable[..., DockerSandbox]]:
    """Opens sandboxes on the session's runtime image; closes them and then force-removes anything still
    labelled with their run ids."""
    opened: list[DockerSandbox] = []

    def make(limits: Limits = TEST_LIMITS) -> DockerSandbox:
        # GRADER_RUNTIME=runsc runs these sandboxes under gVisor, as `grader grade` does.
        sandbox = DockerSandbox(
            run_id=new_run_id(), image=runtime_image.tag, limits=limits, client=docker_client,
            runtime=os.environ.get("GRADER_RUNTIME") or None,
        )
        opened.append(sandbox)
        sandbox.open()
        return sandbox

    yield make
    for sandbox in opened:
        try:
            sandbox.close()
        finally:
            cleanup_leftovers(docker_client, run_id=sandbox.run_id)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """After the session: no object of a test run made by this process remains (test runs of processes
    that are gone, such as an interrupted run's, are removed quietly)."""
    yield
    try:
        client = connect()
    except InfrastructureError:
        return
    mine = str(os.getpid())
    leftovers: list[str] = []
    stale_runs: set[str] = set()
    for kind, name, labels in labelled_objects(client, f"{LABEL}=1"):
        run_id = labels.get(LABEL_RUN, "")
        if not run_id.startswith(TEST_RUN_PREFIX):
            continue  # not a test's: someone else's grading run
        if labels.get(LABEL_PID) == mine:
            leftovers.append(f"{kind} {name}")
            stale_runs.add(run_id)
        elif owner_is_gone(labels):
            stale_runs.add(run_id)
    for run_id in stale_runs:
        cleanup_leftovers(client, run_id=run_id)
    assert leftovers == [], f"integration tests left these behind (now removed): {leftovers}"
