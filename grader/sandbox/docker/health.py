"""How the grader reads a Docker engine's health: which exceptions mean "it stopped answering", waiting for it
to answer again, and which container runtimes it offers."""

from __future__ import annotations

import time
from collections.abc import Callable

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from grader.errors import EngineLostError, InfrastructureError

ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
# What a request to an engine that stopped answering raises: refused or reset connections, a response cut off
# mid-stream, no answer within the client's timeout.
_ENGINE_LOST = (
    requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
)


def engine_lost(exc: BaseException) -> bool:
    """Whether an engine exception means the engine stopped answering (rather than answering with an error)."""
    return isinstance(exc, _ENGINE_LOST)


def engine_failure(what: str, exc: BaseException) -> InfrastructureError:
    """The grader's error for an engine exception raised while doing ``what``."""
    if engine_lost(exc):
        return EngineLostError(f"{what}: the Docker engine stopped answering ({exc})")
    return InfrastructureError(f"{what}: {exc}")


def read_timed_out(exc: BaseException) -> bool:
    """A read timeout: requests raises it as ReadTimeout, or (over docker-py's unix socket) as a
    ConnectionError wrapping urllib3's ReadTimeoutError."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    return bool(exc.args) and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError)


def wait_for_engine(ping: Callable[[], object], timeout: float, poll: float = 1.0) -> None:
    """Return once ``ping`` succeeds; raise EngineLostError when it has not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ping()
            return
        except (InfrastructureError, *ENGINE_ERRORS) as exc:
            if time.monotonic() >= deadline:
                raise EngineLostError(f"the Docker engine did not answer again within {timeout:g}s ({exc})") from exc
        time.sleep(poll)


def engine_runtimes(client: docker.DockerClient) -> tuple[set[str], str]:
    """The OCI runtimes the engine offers (``docker info`` Runtimes) and its default one."""
    try:
        info = client.info()
    except ENGINE_ERRORS as exc:
        raise engine_failure("cannot read the engine's runtimes", exc) from exc
    return set(info.get("Runtimes") or {}), str(info.get("DefaultRuntime") or "runc")
