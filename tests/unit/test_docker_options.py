"""The hardening options every candidate container is created with (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import InfrastructureError
from grader.models import Limits
from grader.sandbox.base import BASE_ENVIRONMENT, Mount, RunSpec
from grader.sandbox.docker.labels import owner_is_gone, run_labels
from grader.sandbox.docker.options import ENGINE_LOG_MAX_SIZE, container_options, docker_client

LIMITS = Limits(
    memory="512m", cpus=1.5, pids=100, timeout=60, tmpfs="64m", output="1k", nofile=512, fsize="10m"
)
LABELS = {"capstone-grader": "1", "capstone-grader.run": "r1"}


def options(**spec_fields) -> dict:
    engine_logs = spec_fields.pop("engine_logs", True)
    spec = RunSpec(**{"name": "train", "command": "python train.py", "image": "img:1", "limits": LIMITS,
                      **spec_fields})
    return container_options(spec, name="grader-r1-train-1", labels=LABELS, network="grader-r1",
                             volume="grader-r1-work", engine_logs=engine_logs)


def test_container_runs_the_command_with_sh_as_the_sandbox_user_in_work():
    opts = options()
    assert opts["image"] == "img:1" and opts["command"] == ["sh", "-c", "python train.py"]
    assert opts["name"] == "grader-r1-train-1" and opts["hostname"] == "train"
    assert opts["user"] == "1000:1000" and opts["working_dir"] == "/work"
    assert opts["labels"] == LABELS and opts["labels"] is not LABELS


def test_privileges_are_dropped_and_the_root_filesystem_is_read_only():
    opts = options()
    assert opts["cap_drop"] == ["ALL"] and opts["security_opt"] == ["no-new-privileges"]
    assert opts["read_only"] is True and opts["init"] is True and opts["ipc_mode"] == "private"
    assert "privileged" not in opts and "cap_add" not in opts


def test_limits_become_engine_limits_in_bytes():
    opts = options()
    assert opts["mem_limit"] == opts["memswap_limit"] == 512 * 1024**2  # no swap on top
    assert opts["nano_cpus"] == 1_500_000_000 and opts["pids_limit"] == 100
    assert opts["tmpfs"] == {"/tmp": f"size={64 * 1024**2},mode=1777"}
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in opts["ulimits"]}
    assert ulimits == {"nofile": (512, 512), "fsize": (10 * 1024**2, 10 * 1024**2), "core": (0, 0)}


def test_environment_is_only_the_base_and_the_specs_own():
    assert options(env={"SEED": "1"})["environment"] == {**BASE_ENVIRONMENT, "SEED": "1"}
    assert options()["environment"] == BASE_ENVIRONMENT


def test_services_keep_a_capped_engine_log_and_steps_none():
    assert options()["log_config"] == {"Type": "json-file", "Config": {"max-size": ENGINE_LOG_MAX_SIZE,
                                                                       "max-file": "1"}}
    assert options(engine_logs=False)["log_config"] == {"Type": "none", "Config": {}}


def test_step_without_network_gets_no_network_at_all():
    opts = options(network=False)
    assert opts["network_mode"] == "none"
    assert "network" not in opts and "networking_config" not in opts


def test_networked_container_joins_the_run_network_under_its_name():
    opts = options(network=True)
    assert opts["network"] == "grader-r1"
    assert opts["networking_config"] == {"grader-r1": {"Aliases": ["train"]}}
    assert opts["dns_opt"] == ["timeout:1", "attempts:2"]  # a gone service fails to resolve fast
    assert "network_mode" not in opts


def test_work_volume_is_writable_and_data_mounts_are_read_only():
    opts = options(mounts=(Mount(source=Path("/labs/x/data"), target="/data"),))
    mounts = [(m["Type"], m["Source"], m["Target"], m["ReadOnly"]) for m in opts["mounts"]]
    assert mounts == [("volume", "grader-r1-work", "/work", False), ("bind", "/labs/x/data", "/data", True)]


def test_trusted_helpers_get_no_work_area():
    assert [m["Target"] for m in options(mount_work=False)["mounts"]] == []


def test_hostname_fits_the_kernel_limit():
    assert len(options(name="probe-" + "a" * 64)["hostname"]) == 63


def test_labels_name_the_run_its_owner_and_time():
    labels = run_labels("r9")
    assert labels["capstone-grader"] == "1" and labels["capstone-grader.run"] == "r9"
    assert int(labels["capstone-grader.pid"]) > 0 and int(labels["capstone-grader.created"]) > 1_600_000_000
    assert not owner_is_gone(labels)  # this process


@pytest.mark.parametrize(("pid", "host", "gone"), [("999999999", None, True), ("1", None, False),
                                                    ("999999999", "another-host", False), ("x", None, False)])
def test_owner_is_gone_only_when_its_process_is_known_to_have_exited(pid, host, gone):
    labels = {**run_labels("r"), "capstone-grader.pid": pid}
    if host:
        labels["capstone-grader.host"] = host
    assert owner_is_gone(labels) is gone


def test_missing_engine_is_an_infrastructure_error_that_says_how_to_start_one(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(InfrastructureError, match=r"no Docker engine answers .*scripts/ensure-docker\.sh"):
        docker_client(timeout=2)


def test_numeric_libraries_get_the_containers_cpu_limit_as_their_thread_count():
    from grader.models import Limits
    from grader.sandbox.base import THREAD_VARIABLES, RunSpec

    two = RunSpec(name="train", command="x", image="i", limits=Limits(cpus=2)).environment()
    half = RunSpec(name="train", command="x", image="i", limits=Limits(cpus=0.5)).environment()
    own = RunSpec(name="train", command="x", image="i", limits=Limits(cpus=2), env={"OMP_NUM_THREADS": "4"})
    assert {two[v] for v in THREAD_VARIABLES} == {"2"} and {half[v] for v in THREAD_VARIABLES} == {"1"}
    assert own.environment()["OMP_NUM_THREADS"] == "4"  # a lab's own setting wins


def test_the_work_area_is_mounted_read_only_for_a_reader_of_what_a_step_left():
    [work] = options(work_read_only=True)["mounts"]
    assert (work["Target"], work["Source"], work["ReadOnly"]) == ("/work", "grader-r1-work", True)
    assert options()["mounts"][0]["ReadOnly"] is False
