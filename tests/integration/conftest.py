"""Fixtures for tests against a real Docker engine: one client and one runtime image per session,
sandboxes that are torn down (and then force-cleaned by label) after every test, and the gradings of the
labs' references and variants, each graded once per session and shared (across pytest-xdist workers too).

These tests need the engine: when none answers they fail with the way to start one, never skip.
"""

from __future__ import annotations

import fcntl
import json
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest

from grader.errors import InfrastructureError
from grader.labs.loading import load_lab, materialize_variant
from grader.models import Limits, Report
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
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
from grader.sandbox.docker.engine import DockerEngine
from grader.sandbox.docker.images import ImageRef, ensure_image

TEST_RUN_PREFIX = "test-"
HERE = Path(__file__).resolve().parent
# Small and quick: tests that need more ask for it.
TEST_LIMITS = Limits(memory="256m", cpus=1.0, pids=128, timeout=20, tmpfs="64m", output="64k")


# Fixtures that grade once for many tests: under `--dist loadgroup` their tests go to one worker together,
# so no second worker repeats the grading.
GRADING_FIXTURE_GROUPS = {"sandbox_breaker": "sandbox-breaker", "hostile": "hostile-capstone",
                          "walked_lab": "walked-lab", "plugin_site": "plugin-site"}
# Labs whose gradings take seconds; every other lab's (MLflow, training, a served model) take a minute or more.
QUICK_LABS = {"train-and-test"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(str(item.fspath)).resolve().parents:
            continue
        item.add_marker(pytest.mark.integration)
        group = next((GRADING_FIXTURE_GROUPS[f] for f in getattr(item, "fixturenames", ())
                      if f in GRADING_FIXTURE_GROUPS), None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    # Longest first, so that with two workers neither is left alone with a long grading at the end.
    items.sort(key=expected_cost_rank)


def expected_cost_rank(item: pytest.Item) -> int:
    """0 for a full grading of a lab that trains and serves a model, 1 for other gradings and the tests that
    share one, 2 for the rest (seconds each): unit tests and the engine's own tests."""
    if HERE not in Path(str(item.fspath)).resolve().parents:
        return 2
    callspec = getattr(item, "callspec", None)
    lab_id = callspec.params.get("lab_id") if callspec else None
    if (lab_id and lab_id not in QUICK_LABS) or item.path.name == "test_promotion_restart.py":
        return 0
    if lab_id or set(getattr(item, "fixturenames", ())) & {*GRADING_FIXTURE_GROUPS, "graded"}:
        return 1
    return 2


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


# --- shared gradings ---------------------------------------------------------------------------------

REFERENCE = "reference"


@dataclass(frozen=True)
class SharedGrading:
    """One lab submission (its reference or a variant) graded through the real pipeline, and what was
    still labelled with its run id on the engine right after (containers, networks, volumes, images)."""

    report: Report
    leftovers: list[str]


def grader_objects(client, run_id: str) -> list[str]:
    """Everything still labelled with ``run_id``, images built from the submission included."""
    label = {"label": f"{LABEL_RUN}={run_id}"}
    found = [c.name for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
    found += [n.name for n in client.networks.list(filters=label)]
    found += [v.name for v in client.volumes.list(filters=label)]
    return found + [f"image {i.short_id}" for i in client.images.list(filters=label)]


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this session sees: under pytest-xdist each worker's base temp folder is a
    child of the session's own, which no other pytest session uses."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-gradings"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def graded(docker_client, runtime_image, tmp_path_factory) -> Callable[[str, str], SharedGrading]:
    """``graded(lab_id, name)``: the grading of the lab's reference (``name="reference"``) or of one of its
    variants. The first test to ask grades it, holding a file lock so another worker asking meanwhile waits
    for that grading instead of repeating it; everyone after reads the stored report."""
    folder = shared_folder(tmp_path_factory)
    paths = project_paths()

    def grade(lab_id: str, name: str = REFERENCE) -> SharedGrading:
        stem = folder / f"{lab_id}--{name}"
        with open(f"{stem}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stored, failure = Path(f"{stem}.json"), Path(f"{stem}.error")
            if failure.is_file():
                pytest.fail(f"grading {lab_id}/{name} failed earlier in this session:\n{failure.read_text()}")
            if not stored.is_file():
                try:
                    grading = _grade_now(docker_client, paths, lab_id, name, stem)
                except BaseException:
                    failure.write_text(traceback.format_exc())
                    raise
                stored.write_text(json.dumps({"report": grading.report.model_dump(mode="json"),
                                              "leftovers": grading.leftovers}))
            data = json.loads(stored.read_text())  # every caller gets the same, round-tripped, report
            return SharedGrading(Report.model_validate(data["report"]), data["leftovers"])

    return grade


def _grade_now(client, paths, lab_id: str, name: str, stem: Path) -> SharedGrading:
    lab = load_lab(lab_id, paths)
    submission = lab.reference_dir if name == REFERENCE else materialize_variant(lab, name, stem / "submission")
    options = GradeOptions(out_dir=stem / "report", store=False)
    report = grade_submission(str(submission), lab_id, paths, DockerEngine(paths, client), options).report
    return SharedGrading(report=report, leftovers=grader_objects(client, report.run_id))

