"""The probe's HTTP client against real servers on loopback: it looks like a common client, it is bounded in
time whatever the server does, and a cut or redirected answer never counts as a correct one."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from grader.evidence.answers import HttpAnswer
from grader.probe import agent

SEEN: list[list[tuple[str, str]]] = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None: ...

    def do_GET(self) -> None:
        SEEN.append(list(self.headers.items()))
        if self.path == "/drip":
            self.send_response(200)
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
            return
        body = {"/huge": b"y" * (agent.BODY_CAP * 3), "/gzip": gzip.compress(b'{"prediction": "ok"}')}.get(
            self.path, b'{"prediction": "ok"}')
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/")
        else:
            self.send_response(200)
        if self.path == "/gzip":
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_requests_carry_a_common_clients_headers_and_vary(server):
    SEEN.clear()
    for _ in range(40):
        assert agent.request(server + "/")["status"] == 200
    agents = {dict(headers)["User-Agent"] for headers in SEEN}
    assert len(agents) > 1 and agents <= {dict(h)["User-Agent"] for h in agent.CLIENT_HEADERS}
    assert all(dict(headers).get("Accept-Encoding") != "identity" for headers in SEEN)  # http.client's tell


def test_a_server_answering_a_byte_at_a_time_cannot_hold_the_probe(server):
    started = time.perf_counter()
    answer = agent.request(server + "/drip", timeout=1.0)
    assert answer["status"] is None and "TimeoutError" in answer["error"]
    assert time.perf_counter() - started < 3  # bounded by the request's limit, not the server's pace


def test_a_gzip_answer_is_read_as_a_client_would(server):
    assert agent.request(server + "/gzip")["body"] == '{"prediction": "ok"}'


def test_a_cut_or_redirected_answer_is_not_a_correct_answer(server):
    huge = HttpAnswer.from_probe(agent.request(server + "/huge"))
    moved = HttpAnswer.from_probe(agent.request(server + "/moved"))
    assert huge.truncated and not huge.ok and "too large" in huge.describe_status()
    assert moved.status == 302 and not moved.ok
    assert HttpAnswer.from_probe(agent.request(server + "/")).ok


def test_nothing_listening_is_an_error_not_a_crash():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert agent.request(f"http://127.0.0.1:{port}/")["status"] is None
