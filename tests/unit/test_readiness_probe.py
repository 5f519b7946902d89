"""The readiness probe's script, run against loopback listeners this test starts: an HTTP answer, a port that
accepts but never answers (gunicorn's master with workers that never load), and nothing at all."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from grader.sandbox.base import (
    GONE_AFTER_ACCEPTING,
    HTTP_SILENT,
    PORT_ANSWERED,
    PORT_DEADLINE,
    _not_ready_message,
    readiness_probe_command,
)


class NotAllowed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(405)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), NotAllowed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_listener() -> Iterator[int]:
    """A bound, listening socket nobody accepts on: connections complete in the backlog and get no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(port: int, timeout: float, http_path: str | None, grace: float = 1.0) -> int:
    command = readiness_probe_command("127.0.0.1", port, timeout, http_path, http_grace=grace)
    return subprocess.run(command, shell=True, timeout=30, check=False).returncode


def test_any_http_status_at_the_path_is_ready():
    with http_server() as port:
        assert run(port, 10, "/predict") == PORT_ANSWERED


def test_a_port_that_accepts_but_never_answers_http_is_silent():
    with silent_listener() as port:
        assert run(port, 20, "/predict", grace=1.0) == HTTP_SILENT


def test_without_a_path_an_accepted_connection_is_enough():
    with silent_listener() as port:
        assert run(port, 10, None) == PORT_ANSWERED


def test_nothing_listening_waits_out_the_deadline():
    assert run(free_port(), 1.5, "/predict") == PORT_DEADLINE


@pytest.mark.parametrize(("code", "running", "expected"), [
    (HTTP_SILENT, True, "port 5000 accepted connections but nothing answered HTTP at /predict within 20 s: the app "
                        "likely failed to load in its workers (see its log)"),
    (GONE_AFTER_ACCEPTING, False, "port 5000 accepted connections but the server exited before answering HTTP at "
                                  "/predict: the app likely failed to load in its workers (see its log)"),
    (PORT_DEADLINE, True, "not listening on port 5000 within 90s"),
    (PORT_DEADLINE, False, "exited before listening on port 5000"),
])
def test_the_message_says_what_the_probe_saw(code, running, expected):
    assert expected in _not_ready_message(code, running, 5000, 90, "/predict")
