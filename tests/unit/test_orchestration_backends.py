"""One backend seam: backends are found by name in one table, lazily; an unknown name lists the valid ones."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.errors import BadInputError
from grader.paths import project_paths
from grader.sandbox import ENGINES, make_engine

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from fakes import FakeEngine  # noqa: E402

PATHS = project_paths()


def test_an_unknown_backend_is_refused_with_the_valid_names():
    with pytest.raises(BadInputError, match=r"^unknown sandbox backend 'podman'; choose one of: docker$"):
        make_engine("podman", PATHS)


def test_a_second_backend_is_one_line_in_the_engine_table(monkeypatch):
    monkeypatch.setitem(ENGINES, "fake", "fakes.engine:engine_for")
    engine = make_engine("fake", PATHS, runtime="runsc")
    assert isinstance(engine, FakeEngine) and engine.runtime == "runsc"
    with pytest.raises(BadInputError, match=r"choose one of: docker, fake$"):
        make_engine("nope", PATHS)


def test_the_docker_backend_is_found_by_name_without_contacting_the_engine(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # would fail, were it contacted
    engine = make_engine("docker", PATHS, runtime="runsc")
    assert (type(engine).__name__, engine.name, getattr(engine, "runtime", None)) == ("DockerEngine", "docker", "runsc")


def test_the_cli_refuses_an_unknown_backend_with_exit_code_2(capsys):
    assert main(["images", "--backend", "podman"]) == 2
    assert "unknown sandbox backend 'podman'; choose one of: docker" in " ".join(capsys.readouterr().err.split())


def test_cleanup_goes_through_the_engine_table(monkeypatch, capsys):
    engines: list[FakeEngine] = []

    def recorded_engine(paths: object, runtime: str | None = None) -> FakeEngine:
        engines.append(FakeEngine())
        return engines[-1]

    monkeypatch.setitem(ENGINES, "fake", "fakes.engine:engine_for")
    monkeypatch.setattr(importlib.import_module("fakes.engine"), "engine_for", recorded_engine)
    assert main(["cleanup", "--backend", "fake", "--run", "abc", "--dead-only"]) == 0
    assert engines[0].calls.entries == ["cleanup abc dead-only=True"]
    assert "removed network grader-abc (run abc)" in capsys.readouterr().out
