"""The follower and the app with a fake registry: no MLflow, no network."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from follower import ModelHolder  # noqa: E402


class Constant:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    def predict(self, frame):
        return [self.answer] * len(frame)


class FakeRegistry:
    def __init__(self) -> None:
        self.alias = "1"
        self.broken: set[str] = set()

    def resolve(self) -> str:
        return self.alias

    def load(self, version: str) -> Constant:
        if version in self.broken:
            raise RuntimeError(f"version {version} cannot be loaded")
        return Constant(f"v{version}")


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


def test_refresh_follows_the_alias_both_ways(registry):
    holder = ModelHolder(registry.resolve, registry.load)
    assert holder.refresh() and holder.version == "1"
    registry.alias = "2"
    assert holder.refresh() and holder.current()[0].answer == "v2"
    registry.alias = "1"
    assert holder.refresh() and holder.current()[1] == "1"
    assert not holder.refresh()


def test_a_version_that_fails_to_load_leaves_the_current_one_serving(registry):
    holder = ModelHolder(registry.resolve, registry.load)
    holder.refresh()
    registry.alias, registry.broken = "3", {"3"}
    with pytest.raises(RuntimeError):
        holder.refresh()
    assert holder.current()[0].answer == "v1"


def test_the_app_serves_the_alias_version_and_switches_when_it_moves(registry):
    moved = threading.Event()

    def load(version: str) -> Constant:
        if version == "2":
            moved.set()
        return registry.load(version)

    app = create_app(lambda: ModelHolder(registry.resolve, load), interval=0.05)
    with TestClient(app) as client:
        reading = {"features": [60.0, 2.0, 101.0, 45.0, 1500.0, 230.0]}
        assert client.post("/predict", json=reading).json() == {"prediction": "v1", "version": "1"}
        registry.alias = "2"
        assert moved.wait(5)
        for _ in range(100):
            if client.post("/predict", json=reading).json()["prediction"] == "v2":
                break
        assert client.post("/predict", json=reading).json() == {"prediction": "v2", "version": "2"}
        assert client.post("/predict", json={"features": [1.0]}).status_code == 422
