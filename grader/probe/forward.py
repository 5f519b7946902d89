"""Forward local ports to a service of the run, so code that hard-codes an address still reaches it.

Real capstones hard-code their tracking server (``http://127.0.0.1:5000``, ``http://localhost:5000``,
``http://mlflow:5001``). Started before a candidate's command in its own container, this binds each
``LOCAL_PORT`` on loopback and relays every connection to ``HOST:PORT`` on the run network; started in the
grader's MLflow container, it makes that server answer on more ports than its own. It returns once its
ports are bound (the relay goes on in a child process), so the command after it finds them open. A port
already taken (e.g. the candidate's server listens on 5000) is skipped: the candidate's own use wins.

Usage: forward.py LOCAL_PORT=HOST:PORT [...] [--bind ADDRESS]   (standard library only)
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

BUFFER = 64 * 1024
CONNECT_TIMEOUT_S = 5.0


def parse_route(text: str) -> tuple[int, str, int]:
    """``5000=mlflow:5000`` → (5000, "mlflow", 5000)."""
    local, _, target = text.partition("=")
    host, _, port = target.rpartition(":")
    if not local.isdigit() or not port.isdigit() or not host:
        raise ValueError(f"not a route LOCAL_PORT=HOST:PORT: {text!r}")
    return int(local), host, int(port)


def bind(address: str, port: int) -> socket.socket | None:
    """A listening socket on ``address:port``, or None when the port is taken."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((address, port))
    except OSError:
        listener.close()
        return None
    listener.listen(64)
    return listener


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(BUFFER):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (sink, source):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _relay(client: socket.socket, host: str, port: int) -> None:
    try:
        upstream = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError:
        client.close()  # the client sees a closed connection, as it would with nothing listening
        return
    upstream.settimeout(None)
    threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
    _pipe(client, upstream)
    client.close()
    upstream.close()


def serve(listener: socket.socket, host: str, port: int) -> None:
    """Accept forever, one relay thread per connection."""
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_relay, args=(client, host, port), daemon=True).start()


def main(argv: list[str]) -> int:
    address = "127.0.0.1"
    if "--bind" in argv:
        index = argv.index("--bind")
        address = argv[index + 1]
        argv = argv[:index] + argv[index + 2:]
    routes = [parse_route(arg) for arg in argv]
    bound = [(listener, host, port) for local, host, port in routes
             if (listener := bind(address, local)) is not None]
    if not bound or os.fork() > 0:
        return 0  # the caller goes on once every free port listens
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(devnull, stream)
    threads = [threading.Thread(target=serve, args=route, daemon=True) for route in bound]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
