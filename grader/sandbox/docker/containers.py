"""The Docker backend: one internal network and one work volume per run, hardened containers on them.

Everything this backend creates carries ``capstone-grader.*`` labels, and teardown finds what to remove
by label rather than by memory, so an interrupted run (or a crashed grader, via ``cleanup_leftovers``)
leaves nothing behind (``labels``, ``cleanup``). Engine exceptions never leave this module: they become
``InfrastructureError``.
"""


from __future__ import annotations

import itertools
import posixpath
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.types import Mount as DockerMount

from grader.errors import InfrastructureError, SubmissionError
from grader.models import Limits, StepResult, parse_memory
from grader.sandbox.base import SANDBOX_USER, WORK_DIR, OutputCap, RunSpec, Sandbox
from grader.sandbox.docker.cleanup import cleanup_leftovers
from grader.sandbox.docker.health import ENGINE_ERRORS, engine_failure, read_timed_out
from grader.sandbox.docker.labels import (
    LABEL,
    LABEL_CREATED,
    LABEL_HOST,
    LABEL_PID,
    LABEL_RUN,
    owner_is_gone,
    run_labels,
)
from grader.sandbox.docker.options import container_options, docker_client, engine_errors

__all__ = ["LABEL", "LABEL_CREATED", "LABEL_HOST", "LABEL_PID", "LABEL_RUN", "DockerSandbox", "cleanup_leftovers",
           "container_options", "docker_client", "owner_is_gone", "run_labels"]

LOG_DRAIN_SECONDS = 30
COPY_CHUNK = 1024 * 1024
# An internal network still gives containers a default route to its bridge, which holds the gateway address
# on the host: every host address (the gateway, docker0, eth0) would answer them through the host's INPUT
# chain. Without an address on the bridge nothing answers there; containers still reach each other.
RUN_NETWORK_OPTIONS = {"com.docker.network.bridge.inhibit_ipv4": "true"}


class DockerSandbox(Sandbox):
    """A sandbox on a Docker engine; see the module docstring."""

    backend_name = "docker"

    def __init__(
        self, run_id: str, image: str, limits: Limits, *, client: docker.DockerClient, runtime: str | None = None
    ) -> None:
        super().__init__(run_id, image, limits)
        self.client = client
        self.runtime = runtime
        self.labels = run_labels(run_id)
        self.network_name = f"grader-{run_id}"
        self.volume_name = f"grader-{run_id}-work"
        self._counter = itertools.count(1)
        self._services: dict[str, Any] = {}

    # --- work area and network ------------------------------------------------------------------

    def open(self) -> None:
        """Create the run's internal network (no route out) and its work volume."""
        with engine_errors(f"cannot create network {self.network_name}"):
            self.client.networks.create(
                self.network_name, driver="bridge", internal=True, labels=self.labels, check_duplicate=True,
                options=RUN_NETWORK_OPTIONS,
            )
        with engine_errors(f"cannot create volume {self.volume_name}"):
            self.client.volumes.create(name=self.volume_name, labels=self.labels)

    def copy_in(self, source_dir: Path) -> None:
        """Copy ``source_dir``'s contents into /work, every entry owned by the sandbox user."""
        uid, gid = (int(part) for part in SANDBOX_USER.split(":"))

        def owned_by_sandbox(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            info.mode |= 0o700 if info.isdir() else 0o600  # the candidate may change its own files
            return info

        # Spooled: small submissions stay in memory, big ones go to disk, never all in memory.
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024**2) as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for entry in sorted(source_dir.iterdir()):
                    tar.add(entry, arcname=entry.name, filter=owned_by_sandbox)
            archive.seek(0)
            with self._helper(read_only=False) as helper, engine_errors(f"cannot copy {source_dir} in"):
                helper.put_archive(WORK_DIR, archive)

    def copy_out(self, path: str, dest_dir: Path, max_bytes: int = 64 * 1024**2) -> Path | None:
        """Copy ``path`` (under /work) into ``dest_dir``; returns the copy, or None.

        None when the path does not exist, and also when the candidate's content is refused: more than
        ``max_bytes``, too many files, or unsafe entries (links leading out, devices). The reason for a
        refusal is kept in ``copy_refusals[path]`` so the caller can report it; nothing is raised, since
        what a candidate leaves behind is graded, not an error of the run.
        """
        from grader.intake.archive import extract_tar
        from grader.intake.tree import ExtractLimits

        source = posixpath.normpath(posixpath.join(WORK_DIR, path))
        if source != WORK_DIR and not source.startswith(WORK_DIR + "/"):
            raise InfrastructureError(f"copy_out path {path!r} is outside {WORK_DIR}")
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / posixpath.basename(source)
        fresh = Path(tempfile.mkdtemp(prefix=".copy-", dir=dest_dir))
        limits = ExtractLimits(max_bytes=max_bytes, max_file_bytes=max_bytes)
        try:
            with self._helper(read_only=True) as helper, engine_errors(f"cannot copy {source} out"):
                try:
                    chunks, _ = helper.get_archive(source, chunk_size=COPY_CHUNK)
                except docker.errors.NotFound:
                    return None
                try:  # streamed straight into the extractor, which counts what is written
                    extract_tar(_ChunkReader(chunks), fresh, limits)  # type: ignore[arg-type]
                except SubmissionError as refusal:
                    self.copy_refusals[path] = str(refusal)
                    return None
            copied = fresh / posixpath.basename(source)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            copied.rename(target)
            return target
        finally:
            shutil.rmtree(fresh, ignore_errors=True)

    # --- steps and services ---------------------------------------------------------------------

    def run(self, spec: RunSpec) -> StepResult:
        """Run ``spec`` to completion or its wall-time limit; stdout and stderr are captured apart."""
        container = self._create(spec, engine_logs=False)
        what = f"engine failed running {container.name} (image {spec.image}, command {spec.command!r})"
        caps = OutputCap(parse_memory(spec.limits.output)), OutputCap(parse_memory(spec.limits.output))
        try:
            with engine_errors(what):
                # Attached before start: no output is missed, and none goes through the engine's log file.
                drains = [_drain(container, cap, stdout=which == 0) for which, cap in enumerate(caps)]
                started = time.monotonic()
                container.start()
                exit_code, timed_out = self._wait(container, spec.limits.timeout)
                duration = time.monotonic() - started
                for thread, stream in drains:
                    thread.join(LOG_DRAIN_SECONDS)
                    stream.close()
                container.reload()
                oom_killed = bool(container.attrs["State"].get("OOMKilled"))
        finally:
            _remove_quietly(container)
        out, err = caps
        return StepResult(
            id=spec.name, command=spec.command, exit_code=exit_code, duration_s=round(duration, 3),
            time_limit_s=spec.limits.timeout, timed_out=timed_out, oom_killed=oom_killed, stdout=out.text(),
            stderr=err.text(), stdout_truncated=out.omitted, stderr_truncated=err.omitted,
        )

    def start(self, spec: RunSpec) -> None:
        """Start ``spec`` detached on the run network (alias ``spec.name``); it lives until close()."""
        container = self._create(spec)
        with engine_errors(f"cannot start service container {container.name} (image {spec.image})"):
            container.start()
        self._services[spec.name] = container

    def service_logs(self, name: str, max_bytes: int = 64 * 1024) -> str:
        """The last ``max_bytes`` of a service's stdout and stderr, interleaved; empty when unknown."""
        container = self._services.get(name)
        if container is None:
            return ""
        tail = bytearray()
        try:
            for chunk in container.logs(
                stdout=True, stderr=True, stream=True, follow=False, tail=max(100, max_bytes // 16)
            ):
                tail += chunk
                del tail[: max(0, len(tail) - max_bytes)]
        except docker.errors.NotFound:
            return ""
        except ENGINE_ERRORS as exc:
            raise engine_failure(f"cannot read the logs of service {name}", exc) from exc
        return bytes(tail).decode("utf-8", errors="replace")

    def service_running(self, name: str) -> bool:
        """Whether the service's container is running now."""
        container = self._services.get(name)
        if container is None:
            return False
        try:
            container.reload()
        except docker.errors.NotFound:
            return False
        except ENGINE_ERRORS as exc:
            raise engine_failure(f"cannot inspect service {name}", exc) from exc
        return bool(container.status == "running")

    def restart(self, name: str) -> None:
        """Stop the service's container (SIGTERM, SIGKILL after 5 s) and start it again with the same settings."""
        container = self._services.get(name)
        if container is None:
            raise InfrastructureError(f"service {name!r} was not started, so it cannot be restarted")
        with engine_errors(f"cannot restart service {name}"):
            container.restart(timeout=5)

    # --- teardown -------------------------------------------------------------------------------

    def build_image(self, context: Path, dockerfile: str, limits: Limits) -> tuple[StepResult, str | None]:
        """Build the submission's image with no network (see ``grader.sandbox.docker.build``)."""
        from grader.sandbox.docker.build import build_image

        return build_image(self.client, context=context, dockerfile=dockerfile, tag=f"grader-built-{self.run_id}",
                           labels=self.labels, limits=limits, step_id="build")

    def close(self) -> None:
        """Remove every container, then the images built for this run, the network and the volume."""
        self._services.clear()
        cleanup_leftovers(self.client, run_id=self.run_id)

    # --- internals ------------------------------------------------------------------------------

    def _create(self, spec: RunSpec, *, engine_logs: bool = True) -> Any:
        name = f"grader-{self.run_id}-{spec.name}-{next(self._counter)}"
        options = container_options(
            spec, name=name, labels=self.labels, network=self.network_name, volume=self.volume_name,
            engine_logs=engine_logs, runtime=self.runtime,
        )
        with engine_errors(f"cannot create container {name} (image {spec.image}, command {spec.command!r})"):
            return self.client.containers.create(**options)

    def _wait(self, container: Any, timeout: float) -> tuple[int | None, bool]:
        """Wait for exit; past ``timeout`` kill it (SIGKILL: a trapped SIGTERM must not keep it alive).

        Only a read timeout means the limit passed. A connection the engine dropped (it restarted or went
        away) raises: taking it for a timeout would blame the candidate for the engine.
        """
        try:
            return int(container.wait(timeout=timeout)["StatusCode"]), False
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
            if not read_timed_out(exc):
                raise
        timed_out = True
        try:
            container.kill()
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise
            timed_out = False  # 409 "not running": it ended on its own just in time
        return int(container.wait(timeout=LOG_DRAIN_SECONDS)["StatusCode"]), timed_out

    @contextmanager
    def _helper(self, *, read_only: bool) -> Iterator[Any]:
        """A created, never started container with the work volume at /work, for archive copies."""
        name = f"grader-{self.run_id}-copy-{next(self._counter)}"
        with engine_errors(f"cannot create helper container {name} (image {self.image})"):
            helper = self.client.containers.create(
                self.image, ["true"], name=name, labels=self.labels, user=SANDBOX_USER, network_mode="none",
                mounts=[DockerMount(WORK_DIR, self.volume_name, type="volume", read_only=read_only)],
                **({"runtime": self.runtime} if self.runtime else {}),
            )
        try:
            yield helper
        finally:
            _remove_quietly(helper)


def _remove_quietly(container: Any) -> None:
    """Force-remove a container; close() retries by label whatever this misses."""
    with suppress(*ENGINE_ERRORS):
        container.remove(force=True)


def _drain(container: Any, cap: OutputCap, *, stdout: bool) -> tuple[threading.Thread, Any]:
    """Stream one of a container's outputs into ``cap`` on a daemon thread, so memory stays flat.

    An attach rather than a log follow: the engine hands every byte over exactly once (its log file
    rotates at ``ENGINE_LOG_MAX_SIZE``, and a follow loses or repeats data across a rotation), and a
    slow reader holds the writer back instead of losing output.
    """
    stream = container.attach(stdout=stdout, stderr=not stdout, stream=True, logs=False)

    def feed() -> None:
        # A failing stream ends the capture, not the run: the engine's fault surfaces in wait/inspect.
        with suppress(Exception):
            for chunk in stream:
                cap.feed(chunk)

    which = "stdout" if stdout else "stderr"
    thread = threading.Thread(target=feed, name=f"{container.name}-{which}", daemon=True)
    thread.start()
    return thread, stream


class _ChunkReader:
    """A read()-able view of an iterator of byte chunks (what get_archive returns)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data
