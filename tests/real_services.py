"""Real redis-server and PostgreSQL servers for tests, on free loopback ports, with their data in a temporary
folder (``scripts/ensure-services.sh`` installs them). PostgreSQL refuses to run as root: as root its
server runs as ``nobody``."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        raise RuntimeError(f"{name} not found: run `bash scripts/ensure-services.sh` (or `make setup`)")
    return found


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A redis-server on loopback, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: run `bash scripts/ensure-services.sh` (or `make setup`)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """A PostgreSQL cluster on loopback (trust authentication, user ``grader``, database ``grader``); yields its
    SQLAlchemy URL."""
    folder.mkdir(parents=True, exist_ok=True)
    data, log = folder / "data", folder / "postgres.log"
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
        shutil.chown(folder, user="nobody")
        os.chmod(folder, 0o700)
        for parent in folder.parents:  # nobody must reach the folder
            if parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o001)
    subprocess.run([*as_user, _postgres_bin("initdb"), "-D", str(data), "-U", "grader", "--auth=trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    port = free_port()
    options = f"-p {port} -h 127.0.0.1 -k {folder} -F"
    pg_ctl = _postgres_bin("pg_ctl")
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
                   check=True, capture_output=True)
    try:
        subprocess.run([*as_user, _postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader",
                        "grader"], check=True, capture_output=True)
        yield f"postgresql+psycopg://grader@127.0.0.1:{port}/grader"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)
