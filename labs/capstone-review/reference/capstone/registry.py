"""Where the served model lives in the MLflow registry, and how a new version is promoted there.

The tracking server comes from MLFLOW_TRACKING_URI (read by MLflow itself). MODEL_NAME names the
registered model; MODEL_ALIAS (preferred) or MODEL_STAGE (legacy stages) marks the version to serve.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_MODEL_NAME = "fault-classifier"
DEFAULT_MODEL_ALIAS = "champion"


@dataclass(frozen=True)
class ModelRef:
    """A registered model and the alias (or stage) that marks its serving version."""

    name: str = DEFAULT_MODEL_NAME
    alias: str = ""
    stage: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ModelRef:
        name = env.get("MODEL_NAME", "").strip() or DEFAULT_MODEL_NAME
        alias = env.get("MODEL_ALIAS", "").strip()
        stage = env.get("MODEL_STAGE", "").strip()
        if not alias and not stage:
            alias = DEFAULT_MODEL_ALIAS
        return cls(name=name, alias=alias, stage=stage)

    @property
    def uri(self) -> str:
        """The ``models:/`` URI of the serving version: the alias wins over the stage."""
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        if self.stage:
            return f"models:/{self.name}/{self.stage}"
        return f"models:/{self.name}/latest"


class RegistryClient(Protocol):
    """The part of ``mlflow.MlflowClient`` that promotion uses (a fake in tests)."""

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> Any: ...

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool = False
    ) -> Any: ...


def promote(client: RegistryClient, ref: ModelRef, version: str | int) -> str:
    """Point the alias (or, without one, the stage) at ``version``; returns what was done."""
    version = str(version)
    if ref.alias:
        client.set_registered_model_alias(ref.name, ref.alias, version)
        return f"alias {ref.alias!r} -> {ref.name} v{version}"
    if ref.stage:
        client.transition_model_version_stage(ref.name, version, ref.stage, archive_existing_versions=True)
        return f"stage {ref.stage!r} -> {ref.name} v{version}"
    return f"{ref.name} v{version} registered (no alias or stage to move)"


def load_model(ref: ModelRef) -> Any:
    """The pyfunc model behind ``ref`` from the registry; raises when it cannot be loaded."""
    import mlflow.pyfunc  # imported here so that tests and tools need no MLflow server

    return mlflow.pyfunc.load_model(ref.uri)
