"""Engines: a backend's image preparation and sandbox creation behind the runner's ``Engine`` protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.labs import LoadedLab
from grader.paths import ProjectPaths
from grader.sandbox import Sandbox, backend_class

ENGINES = ("docker",)


class DockerEngine:
    """Local Docker: images built from ``sandboxes/`` and sandboxes on this engine."""

    name = "docker"

    def __init__(self, paths: ProjectPaths, client: Any = None) -> None:
        self.paths = paths
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from grader.sandbox.docker import cleanup_leftovers, docker_client

            self._client = docker_client()
            # A grader killed mid-run could not tear down; whatever its dead process left goes now.
            cleanup_leftovers(self._client, only_dead_owners=True)
        return self._client

    def prepare_image(self, image_name: str, log: Callable[[str], None]) -> tuple[str, str]:
        from grader.images import ensure_image

        image = ensure_image(self.client, image_name, self.paths, log=log)
        return image.tag, image.id

    def sandbox(self, run_id: str, image: str, lab: LoadedLab) -> Sandbox:
        sandbox_class = backend_class(self.name)
        sandbox: Sandbox = sandbox_class(run_id, image, lab.lab.limits, client=self.client)
        return sandbox


def make_engine(name: str, paths: ProjectPaths) -> DockerEngine:
    """The engine for a backend name (validated by the sandbox registry)."""
    backend_class(name)
    return DockerEngine(paths)
