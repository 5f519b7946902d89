"""Sandbox backends behind one small interface, picked by name from one table and imported lazily.

A backend is one package (``grader.sandbox.docker``) with an ``Engine`` (images, sandboxes, runtimes,
recovery) and its ``Sandbox``; adding one is a package and one line in ``ENGINES``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from grader.errors import BadInputError
from grader.sandbox.base import Mount, RunSpec, Sandbox

if TYPE_CHECKING:
    from grader.paths import ProjectPaths
    from grader.sandbox.engine import Engine

ENGINES = {
    "docker": "grader.sandbox.docker.engine:DockerEngine",
}

__all__ = ["ENGINES", "Mount", "RunSpec", "Sandbox", "make_engine"]


def make_engine(name: str, paths: ProjectPaths, runtime: str | None = None) -> Engine:
    """The engine registered under ``name``; ``runtime`` is the operator's choice of OCI runtime for every
    container (e.g. ``runsc``). An unknown name lists the valid ones."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise BadInputError(f"unknown sandbox backend {name!r}; choose one of: {', '.join(sorted(ENGINES))}") from None
    module_name, _, class_name = target.partition(":")
    engine: Engine = getattr(importlib.import_module(module_name), class_name)(paths, runtime=runtime)
    return engine
