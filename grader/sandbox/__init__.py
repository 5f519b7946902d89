"""Sandbox backends behind one small interface, picked by name and imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

from grader.errors import BadInputError
from grader.sandbox.base import Mount, RunSpec, Sandbox

BACKENDS = {
    "docker": "grader.sandbox.docker:DockerSandbox",
}

__all__ = ["BACKENDS", "Mount", "RunSpec", "Sandbox", "backend_class"]


def backend_class(name: str) -> Any:
    """The Sandbox class registered under ``name``; an unknown name lists the valid ones."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise BadInputError(f"unknown sandbox backend {name!r}; choose one of: {', '.join(sorted(BACKENDS))}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
