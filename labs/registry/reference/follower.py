"""Serve the version a registry alias points to, and follow the alias when it moves.

``ModelHolder`` keeps the served model and its version. ``refresh`` asks the registry where the alias
points now and, when that changed, loads the new version *before* swapping it in, so requests never
meet a missing or half-loaded model; a version that fails to load leaves the current one serving.
``poll`` calls ``refresh`` every few seconds on a background thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

FEATURES: tuple[str, ...] = ("temperature", "vibration", "pressure", "humidity", "rpm", "voltage")

log = logging.getLogger("uvicorn.error")


class ModelHolder:
    def __init__(self, resolve: Callable[[], str], load: Callable[[str], Any]) -> None:
        self._resolve = resolve  # → the version the alias points to now
        self._load = load  # version → model with predict(DataFrame)
        self._swap = threading.Lock()
        self.version: str | None = None
        self.model: Any = None

    def refresh(self) -> bool:
        """Load and swap in the alias's version if it moved; returns whether it did."""
        version = self._resolve()
        if version == self.version:
            return False
        model = self._load(version)
        with self._swap:
            self.model, self.version = model, version
        log.info("now serving version %s", version)
        return True

    def current(self) -> tuple[Any, str | None]:
        with self._swap:
            return self.model, self.version


def poll(holder: ModelHolder, interval: float, stop: threading.Event) -> None:
    """Refresh every ``interval`` seconds until ``stop`` is set; a failed refresh keeps the current model."""
    while not stop.wait(interval):
        try:
            holder.refresh()
        except Exception:
            log.exception("could not follow the alias; still serving version %s", holder.version)


def registry_holder(name: str, alias: str) -> ModelHolder:
    """A holder following ``models:/<name>@<alias>`` in the MLflow registry of MLFLOW_TRACKING_URI."""
    import mlflow.pyfunc
    from mlflow import MlflowClient

    client = MlflowClient()

    def resolve() -> str:
        return str(client.get_model_version_by_alias(name, alias).version)

    def load(version: str) -> Any:
        return mlflow.pyfunc.load_model(f"models:/{name}/{version}")

    return ModelHolder(resolve, load)
