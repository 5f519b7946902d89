"""The hostile corpus's shared grading: one real grading of the hostile submission ``sandbox-breaker``
against the lab ``sandbox-limits`` (both in this folder), through the ``grader`` command in a subprocess,
with canary servers standing where a step might try to escape to.

It runs once per session, only when a test asks for ``sandbox_breaker``; every case of test_resources.py,
test_network.py and test_secrets.py then asserts on the same report. See README.md for the case table.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socketserver
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from grader.models import CheckResult, Limits, Report, ServiceResult, StepResult
from grader.paths import project_paths
from grader.sandbox import RunSpec
from grader.sandbox.base import BASE_ENVIRONMENT
from grader.sandbox.docker.containers import LABEL_RUN, DockerSandbox, cleanup_leftovers, run_labels

HERE = Path(__file__).resolve().parent
LAB_DIR = HERE / "labs" / "sandbox-limits"
SUBMISSION_DIR = HERE / "submissions" / "sandbox-breaker"
SECRET_VARIABLE = "GRADER_CANARY_SECRET"
GRADING_TIMEOUT_S = 600
OTHER_RUN_LIMITS = Limits(memory="128m", cpus=0.5, pids=64, timeout=30, tmpfs="16m", output="64k")


# --- canaries: servers that record every connection, standing where a hostile step might escape to ---

CANARY_PORT = 8080
# Run with python3 -c in a container: logs "connection from <ip>" for every connection, answers HTTP 200.
CONTAINER_CANARY = textwrap.dedent(f"""
    import socket
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", {CANARY_PORT}))
    server.listen(64)
    print("canary listening", flush=True)
    while True:
        connection, peer = server.accept()
        print("connection from", peer[0], flush=True)
        try:
            connection.settimeout(2)
            connection.recv(65536)
            connection.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 6\\r\\n\\r\\ncanary")
        except OSError:
            pass
        connection.close()
""")


def connections_logged(log: str) -> list[str]:
    """Source addresses of the connections a container canary logged."""
    return [line.split()[-1] for line in log.splitlines() if line.startswith("connection from")]


class HostCanary:
    """A canary on the host itself, bound to 0.0.0.0 on an ephemeral port, in a thread of the test process."""

    def __init__(self) -> None:
        self.peers: list[str] = []
        canary = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                canary.peers.append(self.client_address[0])
                self.request.settimeout(2)
                try:
                    self.request.recv(65536)
                    self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\ncanary")
                except OSError:
                    pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("0.0.0.0", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="host-canary", daemon=True)

    def __enter__(self) -> HostCanary:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def connect_script(targets: Iterable[tuple[str, int]]) -> str:
    """Python for a control container: one line per target, ``connected HOST:PORT`` or ``failed HOST:PORT``."""
    return textwrap.dedent(f"""
        import socket
        for host, port in {list(targets)!r}:
            try:
                with socket.create_connection((host, port), timeout=3) as connection:
                    connection.sendall(b"GET /control HTTP/1.0\\r\\n\\r\\n")
                    connection.recv(100)
                print("connected", f"{{host}}:{{port}}")
            except OSError as error:
                print("failed", f"{{host}}:{{port}}", error)
    """)


def host_addresses() -> list[str]:
    """The host's own global IPv4 addresses, apart from the engine's bridges (docker0 is its own case)."""
    listing = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                             text=True, check=True).stdout
    addresses = []
    for line in listing.splitlines():
        fields = line.split()
        interface, address = fields[1], fields[3].split("/")[0]
        if not interface.startswith(("docker", "br-", "veth")):
            addresses.append(address)
    return addresses


# --- the grading ---------------------------------------------------------------------------------------


@dataclass
class HostileRun:
    """One finished grading of the hostile submission and what the canaries saw while it ran."""

    report: Report
    files: dict[str, str]  # report format → its text
    exit_code: int
    grader_stderr: str
    max_rss_mib: float  # peak resident memory of the grader process
    secret: str  # value of GRADER_CANARY_SECRET in the grader's environment
    targets: dict[str, Any]  # what hostile/targets.json told the submission
    expected_environment: set[str]  # variable names a step may see: allow-list, image, engine, lab
    leftovers: list[str]  # engine objects still labelled with the run's id after the grader exited
    reached: dict[str, list[str]] = field(default_factory=dict)  # canary → sources connecting during grading

    def check(self, check_id: str) -> CheckResult:
        return next(c for c in self.report.checks if c.id == check_id)

    def step(self, step_id: str) -> StepResult:
        return next(s for s in self.report.steps if s.id == step_id)

    def service(self, service_id: str) -> ServiceResult:
        return next(s for s in self.report.services if s.id == service_id)


def docker0_gateway(client: Any) -> str:
    """The default bridge's gateway as the engine records it, else docker0's own address: an engine may record
    none for its default bridge (seen with 20.10 here) while the host still holds that address on docker0."""
    recorded = client.networks.get("bridge").attrs["IPAM"]["Config"][0].get("Gateway")
    if recorded:
        return str(recorded)
    listing = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True,
                             check=True).stdout
    return listing.split()[3].split("/")[0]


def _container_ip(container: Any, network: str) -> str:
    container.reload()
    return str(container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


def _wait_for_log(container: Any, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text.encode() not in container.logs():
        if time.monotonic() > deadline:
            pytest.fail(f"canary {container.name} did not start: {container.logs()[-500:]!r}", pytrace=False)
        time.sleep(0.2)


def _assert_all_connected(output: str, where: str) -> None:
    lines = output.strip().splitlines()
    failed = [line for line in lines if not line.startswith("connected")]
    assert lines and not failed, f"a canary is not reachable from {where}, so silence would prove nothing: {failed}"


@dataclass
class Canaries:
    """The standing canaries, and the addresses a hostile step is told (``hostile/targets.json``)."""

    host: HostCanary
    container: Any
    other_run: DockerSandbox
    targets: dict[str, Any]

    def connections(self) -> dict[str, list[str]]:
        """Source addresses of every connection each canary has recorded so far."""
        return {"host": list(self.host.peers), "container": connections_logged(self.container.logs().decode()),
                "other-run": connections_logged(self.other_run.service_logs("canary"))}


@contextmanager
def standing_canaries(client: Any, image: str, labels: dict[str, str], other_run: DockerSandbox) -> Iterator[Canaries]:
    """A canary on the host, one in a container on a (not internal) network of the test's own, and one served
    in another run's sandbox; each proven reachable by an ordinary container first."""
    network_name = f"grader-{labels[LABEL_RUN]}-canary"
    with HostCanary() as host:
        network = client.networks.create(network_name, driver="bridge", labels=labels)
        container = client.containers.run(image, ["python3", "-c", CONTAINER_CANARY], detach=True, labels=labels,
                                          name=network_name, network=network_name)
        _wait_for_log(container, "canary listening")
        other_run.open()
        served = RunSpec(name="canary", command=f"python3 -c {shlex.quote(CONTAINER_CANARY)}", image=image,
                         limits=OTHER_RUN_LIMITS, network=True)
        assert other_run.start_service(served, port=CANARY_PORT, ready_timeout=20).ready
        of_other_run = client.containers.list(filters={"label": f"{LABEL_RUN}={other_run.run_id}"})
        other_canary = next(c for c in of_other_run if "-canary-" in c.name)
        targets: dict[str, Any] = {
            "canary_container": {"name": network_name, "ip": _container_ip(container, network_name),
                                 "port": CANARY_PORT},
            "host_canary_port": host.port,
            "docker0_gateway": docker0_gateway(client),
            "host_addresses": host_addresses(),
            "other_run": {"ip": _container_ip(other_canary, other_run.network_name), "port": CANARY_PORT},
        }
        assert targets["host_addresses"], "the host needs an address besides loopback and the engine's bridges"

        # Controls: every target answers an ordinary container, so a hostile step's silence means blocked.
        network.reload()
        reachable = [(targets["canary_container"]["ip"], CANARY_PORT),
                     (network.attrs["IPAM"]["Config"][0]["Gateway"], host.port),
                     (targets["docker0_gateway"], host.port),
                     *[(address, host.port) for address in targets["host_addresses"]]]
        control = client.containers.run(image, ["python3", "-c", connect_script(reachable)], labels=labels,
                                        network=network_name, remove=True)
        _assert_all_connected(control.decode(), f"a container on {network_name}")
        to_other_canary = connect_script([(targets["other_run"]["ip"], CANARY_PORT)])
        same_run = other_run.run(RunSpec(name="control", command=f"python3 -c {shlex.quote(to_other_canary)}",
                                         image=image, limits=OTHER_RUN_LIMITS, network=True))
        _assert_all_connected(same_run.stdout, "the other run's own network")
        yield Canaries(host=host, container=container, other_run=other_run, targets=targets)


def _grade_in_subprocess(submission: Path, out: Path, env: dict[str, str]) -> tuple[int, float, str]:
    """Run ``grader grade`` and reap it with wait4, which gives this child's own peak RSS (MiB)."""
    command = [sys.executable, "-m", "grader.cli", "grade", str(submission), "--lab", str(LAB_DIR), "--json",
               "--out", str(out), "--no-store", "--quiet"]
    with open(out.parent / "grader.stdout", "wb") as stdout, open(out.parent / "grader.stderr", "wb") as stderr:
        process = subprocess.Popen(command, cwd=project_paths().root, env=env, stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + GRADING_TIMEOUT_S
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.send_signal(signal.SIGINT)  # the grader tears the sandbox down on SIGINT
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            pytest.fail(f"grading the hostile submission took over {GRADING_TIMEOUT_S}s", pytrace=False)
        time.sleep(0.2)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return process.returncode, usage.ru_maxrss / 1024, (out.parent / "grader.stderr").read_text(errors="replace")


@pytest.fixture(scope="session")
def sandbox_breaker(
    docker_client, runtime_image, make_run_id, objects_of_run, tmp_path_factory
) -> Iterator[HostileRun]:
    """Grade ``sandbox-breaker`` once, through the ``grader`` command, with the canaries standing and a
    canary secret in the grader's environment."""
    image = runtime_image.tag
    labels = run_labels(make_run_id())
    other_run = DockerSandbox(run_id=make_run_id(), image=image, limits=OTHER_RUN_LIMITS, client=docker_client)
    submission = tmp_path_factory.mktemp("sandbox-breaker") / "submission"
    shutil.copytree(SUBMISSION_DIR, submission)
    out, secret = submission.parent / "report", f"canary-secret-{uuid4().hex}"
    try:
        with standing_canaries(docker_client, image, labels, other_run) as canaries:
            (submission / "hostile" / "targets.json").write_text(json.dumps(canaries.targets, indent=2))
            before = canaries.connections()
            exit_code, max_rss_mib, stderr = _grade_in_subprocess(submission, out,
                                                                  {**os.environ, SECRET_VARIABLE: secret})
            after = canaries.connections()
        report_json = out / "report.json"
        assert report_json.is_file(), f"the grader wrote no report (exit {exit_code}): {stderr[-2000:]}"
        report = Report.model_validate_json(report_json.read_text())
        image_env = docker_client.images.get(image).attrs["Config"]["Env"] or []
        yield HostileRun(
            report=report, files={p.suffix.lstrip("."): p.read_text() for p in out.iterdir()},
            exit_code=exit_code, grader_stderr=stderr, max_rss_mib=max_rss_mib, secret=secret,
            targets=canaries.targets, leftovers=objects_of_run(report.run_id),
            expected_environment={*BASE_ENVIRONMENT, *(e.split("=", 1)[0] for e in image_env), "HOSTNAME",
                                  "LAB_DECLARED_SETTING"},
            reached={name: after[name][len(before[name]):] for name in after},
        )
    finally:
        other_run.close()
        cleanup_leftovers(docker_client, run_id=labels[LABEL_RUN])
