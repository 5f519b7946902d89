"""Building a submission's Dockerfile on the engine: its RUN commands are candidate code, so the build has no
network (``network_mode=none``), the memory of the lab's limits, a wall-time limit, and the run's labels
(``close`` finds and removes the image by them). The build log is capped like a step's output.

A build the candidate broke (a failing RUN, a missing file, an unknown base image) is a failed step; an
engine that stops answering is an infrastructure error.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from grader.models import Limits, StepResult, parse_memory
from grader.sandbox.base import OutputCap
from grader.sandbox.docker.health import engine_failure, read_timed_out


def build_image(client: docker.DockerClient, *, context: Path, dockerfile: str, tag: str, labels: dict[str, str],
                limits: Limits, step_id: str) -> tuple[StepResult, str | None]:
    """Build and tag the image; (the build as a step result, the image id or None when it failed)."""
    log = OutputCap(parse_memory(limits.output))
    memory = parse_memory(limits.memory)
    started = time.monotonic()
    deadline = started + limits.timeout
    error: str | None = None
    timed_out = False
    stream: Any = None
    try:
        stream = client.api.build(
            path=str(context), dockerfile=dockerfile, tag=tag, labels=labels, rm=True, forcerm=True, pull=False,
            decode=True, network_mode="none", container_limits={"memory": memory, "memswap": memory},
            timeout=limits.timeout, use_config_proxy=False,
        )
        for chunk in stream:
            if "error" in chunk:
                error = str(chunk["error"]).strip()
                log.feed(f"{error}\n".encode())
            elif chunk.get("stream"):
                log.feed(str(chunk["stream"]).encode())
            if time.monotonic() > deadline:
                timed_out = True
                break
    except docker.errors.APIError as exc:  # the engine refused this build (no such base image, bad Dockerfile)
        error = str(exc.explanation or exc)
        log.feed(f"{error}\n".encode())
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if not read_timed_out(exc):  # a silent build past its limit is the candidate's; anything else the engine's
            raise engine_failure(f"building the submission's image {tag}", exc) from exc
        timed_out = True
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()  # closing the connection makes the engine cancel a build still running
    duration = round(time.monotonic() - started, 3)
    image_id = None if (error or timed_out) else _image_id(client, tag)
    result = StepResult(id=step_id, command=f"docker build -f {dockerfile} (no network)", duration_s=duration,
                        exit_code=0 if image_id else (None if timed_out else 1), timed_out=timed_out,
                        stdout=log.text(), stdout_truncated=log.omitted, stderr=error or "")
    return result, image_id


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise engine_failure(f"cannot inspect the built image {tag}", exc) from exc
