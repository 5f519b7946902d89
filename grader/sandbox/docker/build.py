"""Building an image on the engine: one function, :func:`run_build`, for the sandbox images the grader
defines (``images``) and for a submission's own Dockerfile (:func:`build_image`).

Both read the engine's build stream the same way and translate its exceptions the same way: a build the
engine refused or that printed an error (a failing RUN, a missing file, an unknown base image) is a failed
build, returned with the engine's reason; a build silent past its time limit is a timed-out build; an engine
that stops answering or fails otherwise raises the grader's own error (``health.engine_failure``). What a
failed build *means* is the caller's: the candidate's fault for a submission, the grader's for its own images.

A submission's RUN commands are candidate code, so its build has no network (``network_mode=none``), the
memory of the lab's limits, a wall-time limit, and the run's labels (``close`` finds and removes the image by
them). Its build log is capped like a step's output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from grader.models import Limits, StepResult, parse_memory
from grader.sandbox.base import OutputCap
from grader.sandbox.docker.health import ENGINE_ERRORS, engine_failure, read_timed_out


@dataclass(frozen=True)
class BuildOutcome:
    """How one build ended: the built image's id, or the engine's reason it failed, or a timeout."""

    image_id: str | None
    error: str | None
    timed_out: bool
    duration_s: float


@dataclass(frozen=True)
class Isolation:
    """Limits for a build that runs untrusted RUN commands: no network, ``memory`` bytes (swap included)."""

    memory: int


def run_build(
    client: docker.DockerClient,
    *,
    context: Path,
    tag: str,
    labels: dict[str, str],
    timeout: float,
    on_output: Callable[[str], None],
    dockerfile: str | None = None,
    buildargs: dict[str, str] | None = None,
    isolation: Isolation | None = None,
) -> BuildOutcome:
    """Build ``context`` and tag it ``tag``, passing the build's output to ``on_output`` as it comes.

    Raises the grader's infrastructure error when the engine fails; a build that fails is an outcome."""
    started = time.monotonic()
    deadline = started + timeout
    error: str | None = None
    timed_out = False
    stream: Any = None
    isolated: dict[str, Any] = {}
    if isolation is not None:
        limits = {"memory": isolation.memory, "memswap": isolation.memory}
        isolated = {"network_mode": "none", "container_limits": limits, "use_config_proxy": False}
    try:
        stream = client.api.build(
            path=str(context), dockerfile=dockerfile, tag=tag, labels=labels, buildargs=buildargs, rm=True,
            forcerm=True, pull=False, decode=True, timeout=timeout, **isolated,
        )
        for chunk in stream:
            if "error" in chunk:
                error = str(chunk["error"]).strip()
                on_output(f"{error}\n")
            elif chunk.get("stream"):
                on_output(str(chunk["stream"]))
            if time.monotonic() > deadline:
                timed_out = True
                break
    except docker.errors.APIError as exc:  # the engine refused this build (no such base image, bad Dockerfile)
        error = str(exc.explanation or exc)
        on_output(f"{error}\n")
    except ENGINE_ERRORS as exc:
        if not read_timed_out(exc):  # a silent build past its limit is the build's; anything else the engine's
            raise engine_failure(f"building the image {tag}", exc) from exc
        timed_out = True
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()  # closing the connection makes the engine cancel a build still running
    image_id = None if (error or timed_out) else find_image(client, tag)
    return BuildOutcome(image_id=image_id, error=error, timed_out=timed_out,
                        duration_s=round(time.monotonic() - started, 3))


def find_image(client: docker.DockerClient, tag: str) -> str | None:
    """The id of the image tagged ``tag``, or None when there is none."""
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None
    except ENGINE_ERRORS as exc:
        raise engine_failure(f"cannot look up the image {tag}", exc) from exc


def build_image(client: docker.DockerClient, *, context: Path, dockerfile: str, tag: str, labels: dict[str, str],
                limits: Limits, step_id: str) -> tuple[StepResult, str | None]:
    """Build a submission's Dockerfile with no network; (the build as a step result, the image id or None)."""
    log = OutputCap(parse_memory(limits.output))
    outcome = run_build(client, context=context, tag=tag, labels=labels, timeout=limits.timeout,
                        on_output=lambda text: log.feed(text.encode()), dockerfile=dockerfile,
                        isolation=Isolation(memory=parse_memory(limits.memory)))
    exit_code = 0 if outcome.image_id else (None if outcome.timed_out else 1)
    result = StepResult(id=step_id, command=f"docker build -f {dockerfile} (no network)",
                        duration_s=outcome.duration_s, exit_code=exit_code, timed_out=outcome.timed_out,
                        stdout=log.text(), stdout_truncated=log.omitted, stderr=outcome.error or "")
    return result, outcome.image_id
