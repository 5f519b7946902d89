"""Addresses real code hard-codes: the relay process forwards real TCP connections, and the run builds the
routes a lab declares into the commands of the grader's and the candidate's containers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from grader import probe
from grader.models import Lab, ServiceSpec
from grader.probe.forward import parse_route
from grader.run.addresses import FORWARDER_PATH, extra_port_routes, loopback_routes, with_relays

FORWARDER = Path(probe.PROBE_DIR) / "forward.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def echo_server():
    """A loopback server that answers each connection with ``echo:`` and what it received."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                client.sendall(b"echo:" + client.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def ask(port: int, text: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(text)
        return connection.recv(100)


def test_forwarder_returns_once_bound_and_relays_connections(echo_server):
    local = free_port()
    started = subprocess.run([sys.executable, str(FORWARDER), f"{local}=127.0.0.1:{echo_server}"], timeout=10)
    try:
        assert started.returncode == 0
        assert ask(local, b"hello") == b"echo:hello"  # listening already: no wait needed
        assert ask(local, b"again") == b"echo:again"
    finally:
        subprocess.run(["pkill", "-f", f"{FORWARDER} {local}="], check=False)


def test_forwarder_leaves_a_taken_port_to_its_owner(echo_server):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        started = subprocess.run([sys.executable, str(FORWARDER), f"{port}=127.0.0.1:{echo_server}"], timeout=10)
        assert started.returncode == 0  # skipped quietly: the command after it still runs
        taken.settimeout(2)
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            owner_side, _ = taken.accept()  # the connection reached the owner, not a relay
            owner_side.close()


@pytest.mark.parametrize("route", ["5000", "5000=mlflow", "x=mlflow:5000", "5000=:5000"])
def test_forwarder_refuses_a_malformed_route(route):
    with pytest.raises(ValueError, match="LOCAL_PORT=HOST:PORT"):
        parse_route(route)


def lab_with(*services: ServiceSpec) -> Lab:
    return Lab(id="lab", title="t", rubric="r", services=list(services))


TRACKING = ServiceSpec(id="mlflow", run="mlflow server", port=5000, trusted=True, aliases=["mlflow-server"],
                       extra_ports=[5001, 8080], loopback_ports=[5000, 5001, 8080])


def test_candidate_containers_reach_the_tracking_server_on_its_loopback_ports_but_their_own():
    assert loopback_routes(lab_with(TRACKING)) == ["5000=mlflow:5000", "5001=mlflow:5000", "8080=mlflow:5000"]
    assert loopback_routes(lab_with(TRACKING), own_port=5000) == ["5001=mlflow:5000", "8080=mlflow:5000"]


def test_the_tracking_server_answers_on_its_extra_ports():
    assert extra_port_routes(TRACKING) == ["5001=127.0.0.1:5000", "8080=127.0.0.1:5000"]
    templated = ServiceSpec(id="api", run="x", port="{{ serve.port }}", extra_ports=[9000])
    assert extra_port_routes(templated) == []


def test_relays_start_before_the_command_and_only_when_there_are_routes():
    assert with_relays("python train.py", []) == "python train.py"
    wrapped = with_relays("python train.py", ["5000=mlflow:5000"])
    assert wrapped == f"/usr/bin/python3 {FORWARDER_PATH} 5000=mlflow:5000 ; python train.py"
    assert with_relays("x", ["5001=127.0.0.1:5000"], bind_all=True).endswith("--bind 0.0.0.0 ; x")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("aliases", ["Not A Name"], "is not a host name"),
    ("extra_ports", [0], "not between 1 and 65535"),
    ("loopback_ports", [70000], "not between 1 and 65535"),
])
def test_lab_refuses_bad_addresses(field, value, message):
    with pytest.raises(ValueError, match=message):
        ServiceSpec(id="mlflow", run="x", port=5000, **{field: value})
