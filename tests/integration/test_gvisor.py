"""The optional gVisor runtime: selected for every container when asked for, and a lab that requires it refused,
before anything runs, on an engine that does not offer it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.labs.loading import load_lab
from grader.paths import project_paths
from grader.sandbox.base import RunSpec
from grader.sandbox.docker.containers import LABEL_PID, LABEL_RUN, DockerSandbox
from grader.sandbox.runtimes import GVISOR

PATHS = project_paths()
LAB = "train-and-test"
NO_GVISOR = "gVisor (runsc) runtime not offered by this engine"


@pytest.fixture(scope="module")
def runtimes(docker_client) -> tuple[set[str], str]:
    info = docker_client.info()
    return set(info["Runtimes"]), info["DefaultRuntime"]


@pytest.fixture
def absent_runtime(runtimes) -> str:
    """runsc where the engine lacks it (as here), else a name no engine offers."""
    offered, _ = runtimes
    return GVISOR if GVISOR not in offered else "no-such-runtime"


def lab_with_sandbox_policy(tmp_path: Path, policy: str) -> Path:
    lab_dir = tmp_path / "lab"
    shutil.copytree(load_lab(LAB, PATHS).directory, lab_dir, ignore=shutil.ignore_patterns("variants"))
    with (lab_dir / "lab.yaml").open("a") as lab_file:
        lab_file.write(f"sandbox: {policy}\n")
    return lab_dir


def grade(lab: str | Path, tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], subprocess.Popen]:
    grader = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "grade", "labs/train-and-test/reference", "--lab", str(lab),
         "--out", str(tmp_path / "out"), "--no-store", "--quiet", *options],
        cwd=PATHS.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stdout, stderr = grader.communicate(timeout=300)
    stderr = " ".join(stderr.split())  # the console wraps long messages
    return subprocess.CompletedProcess(grader.args, grader.returncode, stdout, stderr), grader


def owned_by(client, pid: int) -> list[str]:
    by_owner = {"label": f"{LABEL_PID}={pid}"}
    return ([c.name for c in client.containers.list(all=True, filters=by_owner, ignore_removed=True)]
            + [n.name for n in client.networks.list(filters=by_owner)]
            + [v.name for v in client.volumes.list(filters=by_owner)])


def test_lab_that_requires_a_runtime_the_engine_lacks_is_refused_before_anything_runs(
    docker_client, absent_runtime, tmp_path
):
    lab = lab_with_sandbox_policy(tmp_path, f"{{runtime: {absent_runtime}, require: true}}")
    completed, grader = grade(lab, tmp_path)
    assert completed.returncode == 3, completed.stderr
    assert "refusing to grade: this lab requires the" in completed.stderr
    assert "which this Docker engine does not offer (it offers: " in completed.stderr
    assert not (tmp_path / "out").exists()  # nothing was graded
    assert owned_by(docker_client, grader.pid) == []


def test_runtime_asked_for_on_the_command_line_but_not_offered_is_refused(docker_client, absent_runtime, tmp_path):
    completed, grader = grade(LAB, tmp_path, "--runtime", absent_runtime)
    assert completed.returncode == 3, completed.stderr
    assert "--runtime (or GRADER_RUNTIME) asks for the" in completed.stderr and "does not offer" in completed.stderr
    assert owned_by(docker_client, grader.pid) == []


def test_command_line_runtime_contradicting_the_labs_requirement_is_bad_input(docker_client, runtimes, tmp_path):
    _, default = runtimes
    lab = lab_with_sandbox_policy(tmp_path, f"{{runtime: {GVISOR}, require: true}}")
    completed, _ = grade(lab, tmp_path, "--runtime", default)
    assert completed.returncode == 2, completed.stderr
    assert f"this lab requires the gVisor (runsc) runtime; the requested runtime '{default}'" in completed.stderr


def run_under(runtime: str, docker_client, image: str, limits, run_id: str) -> tuple[str, str]:
    """(HostConfig.Runtime of a service container, output of a step) in a sandbox using ``runtime``."""
    with DockerSandbox(run_id, image, limits, client=docker_client, runtime=runtime) as sandbox:
        sandbox.start(RunSpec(name="web", command="sleep 60", image=image, limits=limits, network=True))
        [container] = docker_client.containers.list(filters={"label": f"{LABEL_RUN}={run_id}"})
        host_runtime = docker_client.api.inspect_container(container.id)["HostConfig"]["Runtime"]
        step = sandbox.run(RunSpec(name="kernel", command="dmesg 2>&1 | head -3; uname -r", image=image,
                                   limits=limits))
        assert step.exit_code == 0, step.stderr
    return host_runtime, step.stdout


def test_chosen_runtime_is_set_on_the_run_containers(
    docker_client, runtime_image, runtimes, test_limits, make_run_id, objects_of_run
):
    _, default = runtimes
    run_id = make_run_id()
    host_runtime, _ = run_under(default, docker_client, runtime_image.tag, test_limits, run_id)
    assert host_runtime == default
    assert objects_of_run(run_id) == []


def test_steps_and_services_run_under_gvisor_when_the_engine_offers_it(
    docker_client, runtime_image, runtimes, test_limits, make_run_id, objects_of_run
):
    offered, _ = runtimes
    if GVISOR not in offered:
        pytest.skip(NO_GVISOR)
    run_id = make_run_id()
    host_runtime, kernel = run_under(GVISOR, docker_client, runtime_image.tag, test_limits, run_id)
    assert host_runtime == GVISOR
    assert "gVisor" in kernel  # gVisor's own kernel log, not the host's
    assert objects_of_run(run_id) == []
