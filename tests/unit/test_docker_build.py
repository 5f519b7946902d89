"""Image builds against a scripted engine: one build function for the sandbox images and the submission's
Dockerfile, and the same translation of what the engine says into step results or the grader's errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest
import requests.exceptions

from grader.errors import EngineLostError, InfrastructureError
from grader.models import Limits
from grader.paths import ProjectPaths
from grader.sandbox.docker.build import build_image, find_image
from grader.sandbox.docker.images import DEFAULT_BASE_IMAGE, ensure_image


class _Stream:
    """A build stream that records whether the client closed it (which cancels the engine's build)."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


class _ScriptedEngine:
    """A Docker client whose build yields ``chunks`` (or raises ``fails_with``) and then tags ``built`` when
    it printed no error; ``lookups_fail_with`` makes every image lookup raise."""

    def __init__(self, chunks: list[dict[str, Any]] | None = None, *, fails_with: Exception | None = None,
                 images: dict[str, str] | None = None, lookups_fail_with: Exception | None = None) -> None:
        self.chunks = chunks or []
        self.fails_with = fails_with
        self.known = dict(images or {})
        self.lookups_fail_with = lookups_fail_with
        self.build_arguments: dict[str, Any] = {}
        self.stream: _Stream | None = None
        self.pruned = False
        self.api = SimpleNamespace(build=self._build)
        self.images = SimpleNamespace(get=self._get, prune=self._prune)

    def info(self) -> dict[str, str]:
        return {"Architecture": "x86_64"}

    def _build(self, **arguments: Any) -> _Stream:
        self.build_arguments = arguments
        if self.fails_with is not None:
            raise self.fails_with
        if not any("error" in chunk for chunk in self.chunks):
            self.known[arguments["tag"]] = f"sha256:{arguments['tag']}"
        self.stream = _Stream(self.chunks)
        return self.stream

    def _get(self, tag: str) -> SimpleNamespace:
        if self.lookups_fail_with is not None:
            raise self.lookups_fail_with
        if tag not in self.known:
            raise docker.errors.ImageNotFound(f"no such image: {tag}")
        return SimpleNamespace(id=self.known[tag])

    def _prune(self, **_: Any) -> None:
        self.pruned = True


def _build_submission(engine: _ScriptedEngine, tmp_path: Path, limits: Limits | None = None) -> Any:
    return build_image(engine, context=tmp_path, dockerfile="Dockerfile", tag="grader-built-run1",  # type: ignore[arg-type]
                       labels={"capstone-grader.run": "run1"}, limits=limits or Limits(), step_id="build")


def test_submission_build_runs_without_network_in_the_lab_memory_and_returns_the_image(tmp_path: Path) -> None:
    engine = _ScriptedEngine([{"stream": "Step 1/2 : FROM base\n"}, {"stream": "Successfully built abc\n"}])

    result, image_id = _build_submission(engine, tmp_path, Limits(memory="512m", timeout=60))

    assert image_id == "sha256:grader-built-run1"
    assert result.exit_code == 0 and not result.timed_out
    assert "Successfully built abc" in result.stdout
    assert engine.build_arguments["network_mode"] == "none"
    assert engine.build_arguments["container_limits"] == {"memory": 512 * 1024**2, "memswap": 512 * 1024**2}
    assert engine.build_arguments["labels"] == {"capstone-grader.run": "run1"}
    assert engine.stream is not None and engine.stream.closed


def test_submission_build_that_prints_an_error_is_a_failed_step_with_the_engine_reason(tmp_path: Path) -> None:
    engine = _ScriptedEngine([{"stream": "Step 2/2 : RUN false\n"},
                              {"error": "The command '/bin/sh -c false' returned a non-zero code: 1"}])

    result, image_id = _build_submission(engine, tmp_path)

    assert image_id is None
    assert result.exit_code == 1
    assert result.stderr == "The command '/bin/sh -c false' returned a non-zero code: 1"
    assert "RUN false" in result.stdout


def test_submission_build_the_engine_refuses_is_a_failed_step_not_an_error(tmp_path: Path) -> None:
    refused = docker.errors.APIError("400 Client Error", explanation="pull access denied for nosuch/base")
    result, image_id = _build_submission(_ScriptedEngine(fails_with=refused), tmp_path)

    assert image_id is None
    assert result.exit_code == 1
    assert result.stderr == "pull access denied for nosuch/base"


def test_submission_build_silent_past_its_limit_is_timed_out(tmp_path: Path) -> None:
    silent = requests.exceptions.ReadTimeout("read timed out")
    result, image_id = _build_submission(_ScriptedEngine(fails_with=silent), tmp_path)

    assert image_id is None
    assert result.timed_out and result.exit_code is None


def test_submission_build_on_a_lost_engine_is_an_engine_error_never_the_candidate(tmp_path: Path) -> None:
    lost = requests.exceptions.ConnectionError("connection refused")
    with pytest.raises(EngineLostError, match="building the image grader-built-run1"):
        _build_submission(_ScriptedEngine(fails_with=lost), tmp_path)


def test_image_lookup_on_a_lost_engine_is_an_engine_error() -> None:
    engine = _ScriptedEngine(lookups_fail_with=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(EngineLostError, match="cannot look up the image x:1"):
        find_image(engine, "x:1")  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectPaths:
    """A project with one sandbox image definition, ``runtime``, and no requirements to download."""
    monkeypatch.delenv("GRADER_BASE_IMAGE", raising=False)
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    (tmp_path / "sandboxes" / "runtime").mkdir(parents=True)
    (tmp_path / "sandboxes" / "runtime" / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM $BASE_IMAGE\n")
    return ProjectPaths(tmp_path)


def test_sandbox_image_is_built_from_its_definition_on_the_base_image(project: ProjectPaths) -> None:
    engine = _ScriptedEngine([{"stream": "Successfully built abc\n"}], images={DEFAULT_BASE_IMAGE: "sha256:base"})
    logged: list[str] = []

    image = ensure_image(engine, "runtime", project, log=logged.append)  # type: ignore[arg-type]

    assert image.tag.startswith("capstone-grader/runtime:")
    assert image.id == f"sha256:{image.tag}"
    assert engine.build_arguments["buildargs"] == {"BASE_IMAGE": DEFAULT_BASE_IMAGE}
    assert "network_mode" not in engine.build_arguments
    assert "Successfully built abc" in logged
    assert engine.pruned


def test_sandbox_image_that_fails_to_build_is_the_grader_fault_with_the_last_lines(project: ProjectPaths) -> None:
    engine = _ScriptedEngine([{"stream": "Step 3/9 : RUN pip install\n"}, {"error": "No matching distribution"}],
                             images={DEFAULT_BASE_IMAGE: "sha256:base"})

    with pytest.raises(InfrastructureError, match=r"failed; last lines:\n.*RUN pip install\nNo matching") as raised:
        ensure_image(engine, "runtime", project)  # type: ignore[arg-type]
    assert not isinstance(raised.value, EngineLostError)


def test_sandbox_image_build_on_a_lost_engine_is_an_engine_lost_error(project: ProjectPaths) -> None:
    engine = _ScriptedEngine(fails_with=requests.exceptions.ConnectionError("connection reset"),
                             images={DEFAULT_BASE_IMAGE: "sha256:base"})

    with pytest.raises(EngineLostError, match="the Docker engine stopped answering"):
        ensure_image(engine, "runtime", project)  # type: ignore[arg-type]
