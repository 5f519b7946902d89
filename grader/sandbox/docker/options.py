"""How a container of the Docker backend is configured (hardening, limits, labels, network, logs), the engine
client, and the translation of engine exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig, Ulimit
from docker.types import Mount as DockerMount

from grader.errors import InfrastructureError
from grader.models import parse_memory
from grader.sandbox.base import SANDBOX_USER, WORK_DIR, RunSpec
from grader.sandbox.docker.health import ENGINE_ERRORS, engine_failure

# The engine keeps at most this much of a service's output on disk (it backs service_logs). Steps'
# output is streamed to the grader as it is written, which keeps only ``limits.output`` of it.
ENGINE_LOG_MAX_SIZE = "16m"


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine named by the environment (``DOCKER_HOST``), checked to answer."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except ENGINE_ERRORS as exc:
        raise InfrastructureError(
            f"no Docker engine answers ({exc}): start one, e.g. `bash scripts/ensure-docker.sh`"
        ) from exc
    return client


def container_options(
    spec: RunSpec, *, name: str, labels: dict[str, str], network: str | None, volume: str | None,
    engine_logs: bool = True, runtime: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``: the hardening every candidate container gets.

    ``network`` is the run network (joined only when ``spec.network``, never by an ``egress`` spec, which
    gets the engine's default bridge instead); ``volume`` the work volume
    (mounted only when ``spec.mount_work``). ``engine_logs`` keeps the output in the engine (capped at
    ``ENGINE_LOG_MAX_SIZE``) for services; steps stream theirs and skip the engine's log driver, which
    costs time on every line. ``runtime`` names the OCI runtime (e.g. ``runsc``, gVisor); None: the engine's default.
    """
    limits, fsize = spec.limits, parse_memory(spec.limits.fsize)
    mounts = [DockerMount(m.target, str(m.source), type="bind", read_only=m.read_only) for m in spec.mounts]
    if spec.mount_work and volume:
        mounts.insert(0, DockerMount(WORK_DIR, volume, type="volume", read_only=spec.work_read_only))
    log = LogConfig(type="json-file", config={"max-size": ENGINE_LOG_MAX_SIZE, "max-file": "1"})
    options: dict[str, Any] = {
        "image": spec.image,
        "command": ["sh", "-c", spec.command],
        "name": name,
        "hostname": spec.name[:63],
        "labels": dict(labels),
        "environment": spec.environment(),
        "user": SANDBOX_USER,
        "working_dir": WORK_DIR,
        "read_only": True,
        "tmpfs": {"/tmp": f"size={parse_memory(limits.tmpfs)},mode=1777"},
        "mem_limit": parse_memory(limits.memory),
        "memswap_limit": parse_memory(limits.memory),
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "ulimits": [
            Ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile),
            Ulimit(name="fsize", soft=fsize, hard=fsize),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "init": True,
        "ipc_mode": "private",
        "log_config": log if engine_logs else LogConfig(type="none"),
        "mounts": mounts,
    }
    if runtime:
        options["runtime"] = runtime
    if spec.egress:
        # The engine's default bridge: a route out (NAT) to the package index, but no alias on and no route
        # to the run's internal network, whose services stay out of reach.
        options["network_mode"] = "bridge"
    elif spec.network and network:
        options["network"] = network
        options["networking_config"] = {network: {"Aliases": [spec.name, *spec.aliases]}}
        # The engine's DNS never answers for unknown names on an internal network: without this a lookup
        # of a service that is gone hangs 10 s (5 s x 2 tries) instead of failing fast.
        options["dns_opt"] = ["timeout:1", "attempts:2"]
    else:
        options["network_mode"] = "none"
    if spec.image_command:  # an image built from the submission runs as its Dockerfile says (CMD, WORKDIR)
        del options["command"], options["working_dir"]
    return options


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Translate engine exceptions into InfrastructureError naming what was being done."""
    try:
        yield
    except ENGINE_ERRORS as exc:
        raise engine_failure(what, exc) from exc
