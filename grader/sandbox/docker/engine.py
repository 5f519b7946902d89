"""The Docker engine: sandbox images built from ``sandboxes/``, sandboxes on the local engine, runtimes, recovery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.labs.loading import LoadedLab
from grader.paths import ProjectPaths
from grader.sandbox import Sandbox

# How long a run about to be retried waits for an engine that stopped answering to answer again.
ENGINE_RECOVERY_S = 60.0


class DockerEngine:
    """Local Docker: images built from ``sandboxes/`` and sandboxes on this engine."""

    name = "docker"

    def __init__(self, paths: ProjectPaths, client: Any = None, runtime: str | None = None) -> None:
        self.paths = paths
        self._client = client
        self.runtime = runtime  # the operator's choice of OCI runtime (--runtime); None: the lab's or the default
        self._runtimes: tuple[set[str], str] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from grader.sandbox.docker.containers import cleanup_leftovers, docker_client

            self._client = docker_client()
            # A grader killed mid-run could not tear down; whatever its dead process left goes now.
            cleanup_leftovers(self._client, only_dead_owners=True)
        return self._client

    def prepare_image(self, image_name: str, log: Callable[[str], None]) -> tuple[str, str]:
        from grader.sandbox.docker.images import ensure_image

        image = ensure_image(self.client, image_name, self.paths, log=log)
        return image.tag, image.id

    def sandbox(self, run_id: str, image: str, lab: LoadedLab) -> Sandbox:
        from grader.sandbox.docker.containers import DockerSandbox

        return DockerSandbox(run_id, image, lab.lab.limits, client=self.client, runtime=self.runtime_for(lab))

    def check_runtime(self, lab: LoadedLab) -> None:
        """Refuse, before anything runs, a lab whose required (or the operator's requested) runtime this engine
        does not offer. Asks the engine only when some runtime was asked for."""
        if self.runtime or lab.lab.sandbox.runtime:
            self.runtime_for(lab)

    def runtime_for(self, lab: LoadedLab) -> str:
        """The OCI runtime the lab's containers get on this engine (see grader.sandbox.runtimes)."""
        from grader.sandbox.docker.health import engine_runtimes
        from grader.sandbox.runtimes import choose_runtime

        if self._runtimes is None:
            self._runtimes = engine_runtimes(self.client)
        offered, default = self._runtimes
        return choose_runtime(self.runtime, lab.lab.sandbox, offered, default)

    def recover(self, run_id: str, log: Callable[[str], None]) -> None:
        """Before a retry: wait until the engine answers again, then remove what the failed attempt left."""
        from grader.sandbox.docker.containers import cleanup_leftovers
        from grader.sandbox.docker.health import wait_for_engine

        log(f"waiting up to {ENGINE_RECOVERY_S:g}s for the Docker engine to answer before the retry")
        wait_for_engine(lambda: self.client.ping(), ENGINE_RECOVERY_S)
        for line in cleanup_leftovers(self.client, run_id=run_id):
            log(f"removed what the failed attempt left: {line}")

    def cleanup(self, run_id: str | None = None, only_dead_owners: bool = False) -> list[str]:
        """Remove the grader's labelled containers, networks and volumes (see ``cleanup_leftovers``)."""
        from grader.sandbox.docker.containers import cleanup_leftovers, docker_client

        # Not ``self.client``: connecting that way first removes every dead grader's leftovers, more than asked.
        return cleanup_leftovers(self._client or docker_client(), run_id=run_id, only_dead_owners=only_dead_owners)
