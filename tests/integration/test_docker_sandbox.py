"""The Docker sandbox against a real engine: evidence captured, limits enforced, isolation held, and
nothing left behind whichever way a run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from grader.errors import BadInputError
from grader.models import Limits, parse_memory
from grader.paths import project_paths
from grader.sandbox.base import BASE_ENVIRONMENT, Mount, RunSpec
from grader.sandbox.docker.containers import LABEL_RUN, DockerSandbox, cleanup_leftovers, run_labels
from grader.sandbox.docker.images import ensure_image

ROOT = project_paths().root
HTTP_SERVER = "python3 -m http.server --bind 0.0.0.0 {port}"


def step(sandbox: DockerSandbox, command: str, **overrides) -> RunSpec:
    limits = overrides.pop("limits", sandbox.limits)
    name = overrides.pop("name", "step")
    return RunSpec(name=name, command=command, image=sandbox.image, limits=limits, **overrides)


def python(*parts: str) -> str:
    """A shell command running the (separately dedented) parts as one Python script."""
    return "python3 - <<'EOF'\n" + "\n".join(textwrap.dedent(part) for part in parts) + "\nEOF"


# --- evidence -------------------------------------------------------------------------------------


def test_step_captures_exit_code_stdout_and_stderr_separately(sandbox_factory):
    sandbox = sandbox_factory()
    result = sandbox.run(step(sandbox, "echo to-out; echo to-err >&2; echo more-out", name="hello"))
    assert (result.id, result.exit_code, result.timed_out, result.oom_killed) == ("hello", 0, False, False)
    assert result.stdout == "to-out\nmore-out\n"
    assert result.stderr == "to-err\n"
    assert result.succeeded and result.duration_s > 0


def test_nonzero_exit_is_a_result_not_an_error(sandbox_factory):
    sandbox = sandbox_factory()
    result = sandbox.run(step(sandbox, "echo broken >&2; exit 3"))
    assert result.exit_code == 3 and not result.succeeded
    assert result.failure_reason == "exited with code 3"
    assert result.stderr == "broken\n"


@pytest.mark.parametrize("command", ["sleep 600", "trap '' TERM INT; while :; do sleep 1; done"],
                         ids=["sleeps", "ignores-sigterm"])
def test_step_past_its_time_limit_is_killed(sandbox_factory, test_limits, command):
    sandbox = sandbox_factory()
    started = time.monotonic()
    result = sandbox.run(step(sandbox, command, limits=test_limits.model_copy(update={"timeout": 2})))
    assert result.timed_out and not result.succeeded
    assert time.monotonic() - started < 15
    assert 2 <= result.duration_s < 10


def test_step_over_its_memory_limit_is_oom_killed(sandbox_factory, test_limits):
    sandbox = sandbox_factory()
    limits = test_limits.model_copy(update={"memory": "64m"})
    command = "python3 -c 'x = bytearray(512 * 1024 * 1024); print(len(x))'"
    result = sandbox.run(step(sandbox, command, limits=limits))
    assert result.oom_killed and not result.succeeded
    assert result.exit_code != 0 and result.stdout == ""
    assert result.failure_reason == "killed: out of memory"


def test_huge_output_is_cut_to_the_limit_with_a_marker(sandbox_factory, test_limits):
    sandbox = sandbox_factory()
    command = "head -c 50000000 /dev/zero | tr '\\0' a; yes err | head -c 20000000 >&2"
    result = sandbox.run(step(sandbox, command))
    kept = parse_memory(test_limits.output)
    assert result.exit_code == 0
    assert result.stdout_truncated == 50_000_000 - kept
    assert result.stderr_truncated == 20_000_000 - kept
    assert result.stdout.startswith("a" * kept)
    assert result.stdout.endswith(f"[... {result.stdout_truncated} bytes cut by the grader ...]\n")
    assert result.stderr.startswith("err\n")
    assert result.stderr.endswith(f"[... {result.stderr_truncated} bytes cut by the grader ...]\n")
    assert len(result.stdout) < kept + 200 and len(result.stderr) < kept + 200


def test_binary_output_without_newlines_is_kept(sandbox_factory, test_limits):
    sandbox = sandbox_factory()
    result = sandbox.run(step(sandbox, "printf 'a\\000b\\377c'; head -c 100000 /dev/urandom >&2"))
    assert result.stdout == "a\x00b\ufffdc"
    assert result.stderr_truncated == 100_000 - parse_memory(test_limits.output)


# --- hardening ------------------------------------------------------------------------------------


def test_root_filesystem_is_read_only_but_work_and_tmp_are_writable(sandbox_factory):
    sandbox = sandbox_factory()
    command = "touch /oops || echo root-refused; touch /work/ok /tmp/ok && echo writable"
    result = sandbox.run(step(sandbox, command))
    assert result.stdout == "root-refused\nwritable\n"
    assert "Read-only file system" in result.stderr


def test_steps_run_as_the_sandbox_user_in_the_work_directory(sandbox_factory):
    sandbox = sandbox_factory()
    result = sandbox.run(step(sandbox, "id -u; id -g; pwd; grep CapEff /proc/self/status"))
    assert result.stdout.splitlines()[:3] == ["1000", "1000", "/work"]
    assert result.stdout.splitlines()[3].split() == ["CapEff:", "0000000000000000"]


def test_fork_bomb_is_contained_by_the_pids_limit(sandbox_factory, test_limits):
    sandbox = sandbox_factory()
    limits = test_limits.model_copy(update={"pids": 32, "timeout": 4})
    result = sandbox.run(step(sandbox, "bomb() { bomb | bomb & }; bomb; sleep 30", limits=limits))
    assert not result.succeeded
    after = sandbox.run(step(sandbox, "echo still-fine", name="after"))
    assert after.stdout == "still-fine\n"


def test_service_container_configuration_is_hardened(sandbox_factory, docker_client, tmp_path):
    limits = Limits(memory="128m", cpus=0.5, pids=64, timeout=30, tmpfs="32m", nofile=256, fsize="8m")
    sandbox = sandbox_factory(limits)
    (tmp_path / "data.csv").write_text("x\n1\n")
    spec = RunSpec(name="web", command="sleep 60", image=sandbox.image, limits=limits, env={"MODEL": "m"},
                   network=True, mounts=(Mount(source=tmp_path, target="/data"),))
    sandbox.start(spec)
    [container] = docker_client.containers.list(filters={"label": f"{LABEL_RUN}={sandbox.run_id}"})
    attrs = docker_client.api.inspect_container(container.id)
    host, config = attrs["HostConfig"], attrs["Config"]
    assert config["User"] == "1000:1000" and config["WorkingDir"] == "/work" and config["Hostname"] == "web"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"] and not host["Privileged"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Memory"] == host["MemorySwap"] == 128 * 1024**2
    assert host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 64
    assert {u["Name"]: (u["Soft"], u["Hard"]) for u in host["Ulimits"]} == {
        "nofile": (256, 256), "fsize": (8 * 1024**2, 8 * 1024**2), "core": (0, 0)}
    assert host["Init"] is True and host["IpcMode"] == "private"
    assert host["Runtime"] == (sandbox.runtime or docker_client.info()["DefaultRuntime"])  # runsc when chosen
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "16m", "max-file": "1"}}
    assert host["Tmpfs"] == {"/tmp": f"size={32 * 1024**2},mode=1777"}
    assert host["NetworkMode"] == sandbox.network_name
    assert attrs["NetworkSettings"]["Networks"][sandbox.network_name]["Aliases"][0] == "web"
    mounts = {m["Destination"]: (m["Type"], m["RW"]) for m in attrs["Mounts"]}
    assert mounts == {"/work": ("volume", True), "/data": ("bind", False)}
    image_env = docker_client.images.get(sandbox.image).attrs["Config"]["Env"]
    allowed = {*BASE_ENVIRONMENT, "MODEL", *(entry.split("=", 1)[0] for entry in image_env)}
    names = {entry.split("=", 1)[0] for entry in config["Env"]}
    assert names <= allowed and {"MODEL", *BASE_ENVIRONMENT} <= names
    assert sandbox.labels.items() <= config["Labels"].items()


# --- networks -------------------------------------------------------------------------------------


@pytest.fixture
def canary(docker_client, runtime_image, make_run_id):
    """An HTTP server on a network the test creates itself (a normal bridge, not the sandbox's), proven
    reachable from that network; yields its address. Never anything outside this engine."""
    labels = run_labels(make_run_id())
    name = f"grader-{labels[LABEL_RUN]}-canary"
    network = docker_client.networks.create(name, driver="bridge", labels=labels)
    try:
        server = docker_client.containers.run(
            runtime_image.tag, ["python3", "-m", "http.server", "8080"], detach=True, labels=labels,
            name=name, network=network.name,
        )
        server.reload()
        address = server.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        check = docker_client.containers.run(
            runtime_image.tag, ["python3", "-c", _connect_script(address, 8080, attempts=50)], labels=labels,
            network=network.name, remove=True,
        )
        assert b"connected" in check, "the canary must be reachable from its own network"
        yield address
    finally:
        cleanup_leftovers(docker_client, run_id=labels[LABEL_RUN])


def _connect_script(host: str, port: int, attempts: int = 1) -> str:
    return textwrap.dedent(f"""
        import socket, time
        for attempt in range({attempts}):
            try:
                socket.create_connection(({host!r}, {port}), timeout=2).close()
                print("connected"); break
            except OSError as error:
                last = error; time.sleep(0.2)
        else:
            print("refused:", type(last).__name__, last)
    """)


def test_step_without_network_has_only_loopback_and_reaches_nothing(sandbox_factory, canary):
    sandbox = sandbox_factory()
    command = "ls /sys/class/net; " + python("""
        import socket
        try:
            socket.getaddrinfo("web", 80)
            print("resolved")
        except OSError:
            print("no-dns")
    """, _connect_script(canary, 8080))
    result = sandbox.run(step(sandbox, command, network=False))
    lines = result.stdout.splitlines()
    assert lines[:2] == ["lo", "no-dns"], result.stderr
    assert lines[2].startswith("refused:")


def test_networked_step_reaches_a_service_by_name_but_nothing_outside(sandbox_factory, canary):
    sandbox = sandbox_factory()
    service = RunSpec(name="web", command=HTTP_SERVER.format(port=8000), image=sandbox.image,
                      limits=sandbox.limits, network=True)
    assert sandbox.start_service(service, port=8000, ready_timeout=20).ready
    command = python("""
        import urllib.request
        print(urllib.request.urlopen("http://web:8000/", timeout=5).status)
    """, _connect_script(canary, 8080))
    result = sandbox.run(step(sandbox, command, network=True))
    lines = result.stdout.splitlines()
    assert lines[0] == "200", result.stderr
    assert lines[1].startswith("refused:")


# --- work area ------------------------------------------------------------------------------------


def test_copied_in_files_are_seen_and_owned_by_the_step(sandbox_factory, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('trained')\n")
    (tmp_path / "README.md").write_text("hello\n")
    (tmp_path / "README.md").chmod(0o444)
    sandbox = sandbox_factory()
    sandbox.copy_in(tmp_path)
    command = "python3 src/train.py; stat -c '%u:%g %n' README.md src src/train.py; echo more >> README.md"
    result = sandbox.run(step(sandbox, command))
    assert result.succeeded, result.stderr
    owners = ["1000:1000 README.md", "1000:1000 src", "1000:1000 src/train.py"]
    assert result.stdout.splitlines() == ["trained", *owners]


def test_copy_out_returns_files_and_directories_and_none_when_missing(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    made = sandbox.run(step(sandbox, "mkdir -p models/v1; echo w > models/v1/weights; echo 0.93 > score.txt"))
    assert made.succeeded, made.stderr
    out = tmp_path / "out"
    assert sandbox.copy_out("score.txt", out) == out / "score.txt"
    assert (out / "score.txt").read_text() == "0.93\n"
    assert sandbox.copy_out("models", out) == out / "models"
    assert (out / "models" / "v1" / "weights").read_text() == "w\n"
    assert sandbox.copy_out("missing.txt", out) is None
    assert sorted(p.name for p in out.iterdir()) == ["models", "score.txt"]


def test_copy_out_refuses_content_over_the_limit_or_unsafe(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    made = sandbox.run(step(sandbox, "head -c 100000 /dev/zero >big.bin; mkdir d; ln -s /etc/passwd d/link"))
    assert made.succeeded, made.stderr
    assert sandbox.copy_out("big.bin", tmp_path, max_bytes=1000) is None
    assert "larger than the limit of 1000 bytes" in sandbox.copy_refusals["big.bin"]
    assert sandbox.copy_out("d", tmp_path) is None
    assert "symlink" in sandbox.copy_refusals["d"]
    assert list(tmp_path.iterdir()) == []


# --- services -------------------------------------------------------------------------------------


def test_service_that_listens_is_ready_and_its_logs_are_kept(sandbox_factory):
    sandbox = sandbox_factory()
    spec = RunSpec(name="api", command="echo booting; " + HTTP_SERVER.format(port=8000), image=sandbox.image,
                   limits=sandbox.limits, network=True)
    result = sandbox.start_service(spec, port=8000, ready_timeout=20)
    assert result.ready and result.message == "listening on port 8000"
    assert sandbox.service_running("api")
    assert "booting" in sandbox.service_logs("api")
    assert len(sandbox.service_logs("api", max_bytes=4).encode()) <= 4


def test_service_on_the_wrong_port_is_not_ready(sandbox_factory):
    sandbox = sandbox_factory()
    spec = RunSpec(name="api", command=HTTP_SERVER.format(port=9001), image=sandbox.image,
                   limits=sandbox.limits, network=True)
    result = sandbox.start_service(spec, port=9000, ready_timeout=2)
    assert not result.ready
    assert result.message == "not listening on port 9000 within 2s"
    assert sandbox.service_running("api")


def test_service_that_exits_at_once_is_reported_with_its_log(sandbox_factory):
    sandbox = sandbox_factory()
    spec = RunSpec(name="api", command="echo 'cannot load model' >&2; exit 1", image=sandbox.image,
                   limits=sandbox.limits, network=True)
    result = sandbox.start_service(spec, port=9000, ready_timeout=2)
    assert not result.ready
    assert result.message == "exited before listening on port 9000"
    assert "cannot load model" in result.log_tail
    assert not sandbox.service_running("api") and not sandbox.service_running("unknown")


# --- teardown -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", ["echo fine", "exit 1", "sleep 600"], ids=["after-success", "after-failure", "after-timeout"]
)
def test_teardown_leaves_nothing_behind(
    docker_client, runtime_image, test_limits, make_run_id, objects_of_run, tmp_path, command
):
    run_id = make_run_id()
    limits = test_limits.model_copy(update={"timeout": 1})
    (tmp_path / "f.txt").write_text("x")
    try:
        with DockerSandbox(run_id, runtime_image.tag, limits, client=docker_client) as sandbox:
            sandbox.copy_in(tmp_path)
            sandbox.start(step(sandbox, "sleep 600", name="svc", limits=limits, network=True))
            sandbox.run(step(sandbox, command, limits=limits))
            assert objects_of_run(run_id) != []
        assert objects_of_run(run_id) == []
        sandbox.close()  # idempotent
    finally:
        cleanup_leftovers(docker_client, run_id=run_id)


INTERRUPTED_RUN = """
import sys
from grader.models import Limits
from grader.sandbox.base import RunSpec
from grader.sandbox.docker.containers import DockerSandbox, docker_client

run_id, image = sys.argv[1], sys.argv[2]
limits = Limits(timeout=600)
with DockerSandbox(run_id, image, limits, client=docker_client()) as sandbox:
    sandbox.start(RunSpec(name="svc", command="sleep 600", image=image, limits=limits, network=True))
    print("started", flush=True)
    sandbox.run(RunSpec(name="long", command="sleep 600", image=image, limits=limits))
"""


def test_interrupted_run_leaves_nothing_behind(docker_client, runtime_image, make_run_id, objects_of_run):
    run_id = make_run_id()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, run_id, runtime_image.tag],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "started\n"
        deadline = time.monotonic() + 20
        while not any("-long-" in name for name in objects_of_run(run_id)):
            assert time.monotonic() < deadline, "the long step never started"
            time.sleep(0.1)
        time.sleep(0.3)  # let it reach the wait
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=180)  # teardown is slow when the disk is busy
        assert "KeyboardInterrupt" in stderr
        assert objects_of_run(run_id) == []
    finally:
        process.kill()
        process.wait()
        cleanup_leftovers(docker_client, run_id=run_id)


def test_cleanup_removes_runs_whose_owner_is_gone_and_spares_live_ones(
    docker_client, runtime_image, sandbox_factory, make_run_id, objects_of_run
):
    live = sandbox_factory()
    gone = subprocess.Popen(["true"])
    gone.wait()
    run_id = make_run_id()
    labels = {**run_labels(run_id), "capstone-grader.pid": str(gone.pid)}
    try:
        docker_client.networks.create(f"grader-{run_id}", internal=True, labels=labels)
        docker_client.volumes.create(f"grader-{run_id}-work", labels=labels)
        docker_client.containers.create(runtime_image.tag, "true", name=f"grader-{run_id}-x-1", labels=labels)
        assert cleanup_leftovers(docker_client, run_id=live.run_id, only_dead_owners=True) == []
        removed = cleanup_leftovers(docker_client, run_id=run_id, only_dead_owners=True)
        assert sorted(removed) == sorted([f"container grader-{run_id}-x-1 (run {run_id})",
                                          f"network grader-{run_id} (run {run_id})",
                                          f"volume grader-{run_id}-work (run {run_id})"])
        assert objects_of_run(run_id) == []
        assert objects_of_run(live.run_id) != []
    finally:
        cleanup_leftovers(docker_client, run_id=run_id)


# --- images ---------------------------------------------------------------------------------------


def test_runtime_image_is_reused_when_nothing_changed(docker_client, runtime_image):
    started = time.monotonic()
    again = ensure_image(docker_client, "runtime", project_paths())
    assert again == runtime_image
    assert time.monotonic() - started < 3
    assert again.tag.startswith("capstone-grader/runtime:") and again.id.startswith("sha256:")


def test_unknown_image_definition_lists_the_valid_ones(docker_client):
    with pytest.raises(BadInputError, match=r"choose one of: .*runtime"):
        ensure_image(docker_client, "no-such-image", project_paths())


def test_runtime_image_has_the_pinned_stack(sandbox_factory):
    sandbox = sandbox_factory()
    lines = (ROOT / "sandboxes" / "runtime" / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    result = sandbox.run(step(sandbox, python(f"""
        from importlib.metadata import version
        for name in {sorted(pins)!r}:
            print(f"{{name}}=={{version(name)}}")
    """)))
    assert dict(pair.split("==") for pair in result.stdout.split()) == pins, result.stderr
