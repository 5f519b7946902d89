"""The sandbox interface every backend implements, and the logic all backends share.

A sandbox belongs to one grading run. It owns an isolated network (no route out), a work area that
holds the submission, the one-shot *steps* and long-running *services* started there, and the
teardown that removes all of it. Checks and the runner only ever see this interface: no engine
types and no engine exceptions cross it (backends translate them into ``grader.errors``).
"""

from __future__ import annotations

import math
import shlex
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from grader.errors import InfrastructureError
from grader.models import Limits, ServiceResult, StepResult

WORK_DIR = "/work"
SANDBOX_USER = "1000:1000"
# Variables a candidate container may see besides those a lab or check sets explicitly.
BASE_ENVIRONMENT = {
    "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
    "GIT_PYTHON_REFRESH": "quiet",  # MLflow probes for git, which sandboxes lack: keep logs readable
    # The MLflow client retries a server that does not answer for about four minutes by default; in a sandbox
    # nothing starts answering later, so a step fails in seconds, naming the address it tried.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    # MLflow 3.x refuses a file store (``./mlruns``) unless this is set; code written before that logged there, and
    # the grader reads such stores after each step (grader.evidence.local_store).
    "MLFLOW_ALLOW_FILE_STORE": "true",
}
# Numeric libraries start one thread per core they see (the host's), not per core the quota allows: the
# container's CPU limit is given to them, so they do not oversubscribe it.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")
BASE_ENVIRONMENT.update(dict.fromkeys(THREAD_VARIABLES, "1"))
TRUNCATION_MARKER = "\n[... {omitted} bytes cut by the grader ...]\n"


@dataclass(frozen=True)
class Mount:
    """A host path mounted into a container: read-only unless ``read_only=False`` (only the dependency
    step's wheel output is writable, a fresh host folder the grader checks before trusting anything in it)."""

    source: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class RunSpec:
    """Everything a backend needs to start one container for a step or a service.

    ``name`` is the logical id (step or service id); backends make the real container name unique.
    ``trusted`` marks the grader's own helper commands (probes): they get no work area.
    ``egress`` puts the container on a network with a route out (the engine's default bridge) instead of the
    run network, so it can reach a package index but none of the run's services; only the dependency step
    uses it, always with ``mount_work=False``.
    """

    name: str
    command: str
    image: str
    limits: Limits
    env: dict[str, str] = field(default_factory=dict)
    network: bool = False
    mounts: tuple[Mount, ...] = ()
    mount_work: bool = True
    work_read_only: bool = False  # the work area mounted read-only (the grader reading what a step left there)
    egress: bool = False
    image_command: bool = False  # run the image's own ENTRYPOINT/CMD and WORKDIR (an image built from a submission)
    aliases: tuple[str, ...] = ()  # more names a service answers to on the run network, besides ``name``

    def environment(self) -> dict[str, str]:
        """The container's variables: the base ones, thread counts matching its CPU limit, then its own."""
        threads = str(max(1, math.floor(self.limits.cpus)))
        return {**BASE_ENVIRONMENT, **dict.fromkeys(THREAD_VARIABLES, threads), **self.env}


class OutputCap:
    """Keeps the first ``limit`` bytes of a stream and counts the rest, so memory stays flat."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: list[bytes] = []
        self._kept = 0
        self.omitted = 0

    def feed(self, chunk: bytes) -> None:
        room = self.limit - self._kept
        if room > 0:
            self._chunks.append(chunk[:room])
            self._kept += min(room, len(chunk))
        self.omitted += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        kept = b"".join(self._chunks).decode("utf-8", errors="replace")
        if self.omitted:
            kept += TRUNCATION_MARKER.format(omitted=self.omitted)
        return kept


# The readiness probe's exit codes: the port answered, the deadline passed, the service's name is gone; with an
# HTTP path: the port accepted connections but nothing answered HTTP, or the service went after accepting them.
PORT_ANSWERED, PORT_DEADLINE, SERVICE_GONE, HTTP_SILENT, GONE_AFTER_ACCEPTING = 0, 1, 3, 4, 5
# How long a port that accepts connections may stay silent before the service is judged unable to answer HTTP
# (gunicorn binds in its master while its workers fail to import the app).
HTTP_GRACE_S = 20.0
# A service that has never resolved after this long is not coming (its container is gone or never joined).
NEVER_RESOLVED_S = 5


def readiness_probe_command(host: str, port: int, timeout: float, http_path: str | None = None,
                            http_grace: float = HTTP_GRACE_S) -> str:
    """A shell command (Python, run in the grader's probe container) that waits until host:port accepts TCP, or,
    with ``http_path``, until a GET of it gets an HTTP status line (any status).

    A service's name resolves on the run network only while its container runs, so a name that stops
    resolving (or never does) means the service exited: the probe stops at once (exit SERVICE_GONE, or
    GONE_AFTER_ACCEPTING once the port had accepted) instead of waiting out the deadline. A port that accepts
    but stays silent for ``http_grace`` seconds ends the wait (exit HTTP_SILENT)."""
    request = f"GET {http_path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode() if http_path else b""
    script = (
        "import socket,sys,time\n"
        f"start=time.monotonic();deadline=start+{timeout};resolved=False;accepted=None;request={request!r}\n"
        "def answers(address):\n"
        "    connection=socket.create_connection(address[:2],timeout=2)\n"
        "    try:\n"
        "        if not request: return True\n"
        "        try:\n"
        "            connection.sendall(request); return connection.recv(5)==b'HTTP/'\n"
        "        except OSError: return False\n"
        "    finally: connection.close()\n"
        "while time.monotonic()<deadline:\n"
        "    try:\n"
        f"        address=socket.getaddrinfo({host!r},{port},type=socket.SOCK_STREAM)[0][4]\n"
        "        resolved=True\n"
        "        if answers(address): sys.exit(0)\n"
        "        accepted=accepted or time.monotonic()\n"
        f"        if time.monotonic()-accepted>{http_grace}: sys.exit({HTTP_SILENT})\n"
        "        time.sleep(0.5)\n"
        "    except socket.gaierror:\n"
        f"        if accepted: sys.exit({GONE_AFTER_ACCEPTING})\n"
        f"        if resolved or time.monotonic()-start>{NEVER_RESOLVED_S}: sys.exit({SERVICE_GONE})\n"
        "        time.sleep(0.2)\n"
        "    except OSError: time.sleep(0.2)\n"
        f"sys.exit({HTTP_SILENT} if accepted else {PORT_DEADLINE})\n"
    )
    return f"python3 -c {shlex.quote(script)}"


def _not_ready_message(exit_code: int | None, running: bool, port: int, ready_timeout: float,
                       http_path: str | None) -> str:
    """What the readiness probe saw, in words a candidate can act on."""
    silent = (f"port {port} accepted connections but nothing answered HTTP at {http_path} within "
              f"{min(HTTP_GRACE_S, ready_timeout):.0f} s: the app likely failed to load in its workers (see its log)")
    if exit_code == HTTP_SILENT:
        return silent
    if exit_code == GONE_AFTER_ACCEPTING:
        return (f"port {port} accepted connections but the server exited before answering HTTP at {http_path}: the "
                "app likely failed to load in its workers (see its log)")
    if running:
        return f"not listening on port {port} within {ready_timeout:.0f}s"
    return f"exited before listening on port {port}"


class Sandbox(ABC):
    """One grading run's isolated environment. Use as a context manager: teardown always runs."""

    backend_name = "abstract"
    runtime: str | None = None  # the OCI runtime its containers run under, where the backend has one

    def __init__(self, run_id: str, image: str, limits: Limits) -> None:
        self.run_id = run_id
        self.image = image
        self.limits = limits
        # Paths copy_out refused (too large, unsafe entries) and why; copy_out returns None for them.
        self.copy_refusals: dict[str, str] = {}

    # --- what a backend implements --------------------------------------------------------------

    @abstractmethod
    def open(self) -> None:
        """Create the run's network and work area."""

    @abstractmethod
    def copy_in(self, source_dir: Path) -> None:
        """Copy a host directory's contents into the work area (owned by the sandbox user)."""

    @abstractmethod
    def copy_out(self, path: str, dest_dir: Path, max_bytes: int = 64 * 1024**2) -> Path | None:
        """Copy ``path`` (relative to the work area) to ``dest_dir``; None when it does not exist, or when
        its content is refused (over ``max_bytes`` or unsafe): then ``copy_refusals[path]`` says why."""

    @abstractmethod
    def run(self, spec: RunSpec) -> StepResult:
        """Run a one-shot container to completion (or its time limit) and collect its evidence."""

    @abstractmethod
    def start(self, spec: RunSpec) -> None:
        """Start a long-running container reachable on the run network under ``spec.name``."""

    @abstractmethod
    def service_logs(self, name: str, max_bytes: int = 64 * 1024) -> str:
        """The tail of a service's combined output."""

    @abstractmethod
    def service_running(self, name: str) -> bool:
        """Whether a service's container is still running."""

    def build_image(self, context: Path, dockerfile: str, limits: Limits) -> tuple[StepResult, str | None]:
        """Build ``context`` (a host folder: the grader's copy of a submission) with ``dockerfile`` (relative to
        it), with no network and within ``limits``; returns the build as a step result and the image id (None
        when the build failed). The image belongs to the run: ``close`` removes it."""
        raise InfrastructureError(f"the {self.backend_name} backend cannot build images")

    @abstractmethod
    def close(self) -> None:
        """Remove everything this run created. Idempotent; never raises for already-gone things."""

    # --- shared behaviour -----------------------------------------------------------------------

    def restart(self, name: str) -> None:
        """Restart a started service in place (same name on the run network); a backend that cannot says so."""
        from grader.errors import InfrastructureError

        raise InfrastructureError(f"the {self.backend_name} backend cannot restart service {name!r}")

    def restart_service(self, name: str, port: int, ready_timeout: float,
                        http_path: str | None = None) -> ServiceResult:
        """Restart a service and wait, as at its start, until its port answers again."""
        self.restart(name)
        return self._await_port(name, port, ready_timeout, http_path)

    def start_service(self, spec: RunSpec, port: int, ready_timeout: float,
                      http_path: str | None = None) -> ServiceResult:
        """Start a service and wait (with a declared deadline, never a bare sleep) until its port answers: accepts
        connections, or with ``http_path`` answers HTTP (any status) at that path."""
        self.start(spec)
        return self._await_port(spec.name, port, ready_timeout, http_path)

    def _await_port(self, name: str, port: int, ready_timeout: float,
                    http_path: str | None = None) -> ServiceResult:
        waited = 0.0
        while True:
            remaining = max(1.0, ready_timeout - waited)
            probe = RunSpec(
                name=f"client-{name}",  # neutral: a server must not tell the grader apart by names
                command=readiness_probe_command(name, port, remaining, http_path),
                image=self.image,
                limits=self.limits.model_copy(update={"timeout": remaining + 15, "memory": "256m"}),
                network=True,
                mount_work=False,
            )
            result = self.run(probe)
            waited += result.duration_s
            if result.exit_code == PORT_ANSWERED:
                answered = f"answered HTTP at {http_path} on port {port}" if http_path else f"listening on port {port}"
                return ServiceResult(id=name, ready=True, message=answered, ready_after_s=waited)
            running = self.service_running(name)
            # A name that did not resolve while the container still runs was a lookup hiccup: wait on.
            if not (result.exit_code == SERVICE_GONE and running and waited < ready_timeout):
                break
        message = _not_ready_message(result.exit_code, running, port, ready_timeout, http_path)
        return ServiceResult(id=name, ready=False, message=message, log_tail=self.service_logs(name))

    def __enter__(self) -> Sandbox:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
