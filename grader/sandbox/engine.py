"""What a backend offers the runner and the CLI: images, sandboxes, runtime checks, recovery and clean-up
(``Engine``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from grader.labs.loading import LoadedLab
from grader.sandbox.base import Sandbox


class Engine(Protocol):
    """Builds images and opens sandboxes for one backend."""

    name: str

    def prepare_image(self, image_name: str, log: Callable[[str], None]) -> tuple[str, str]:
        """Make the named sandbox image available; returns (tag to run, content digest for the report)."""

    def sandbox(self, run_id: str, image: str, lab: LoadedLab) -> Sandbox:
        """A new, not yet opened sandbox of run ``run_id`` on ``image``."""

    def check_runtime(self, lab: LoadedLab) -> None:
        """Raise (before anything runs) when the lab's required container runtime is not available."""

    def recover(self, run_id: str, log: Callable[[str], None]) -> None:
        """Before a retry: wait for the engine to answer again and remove what the failed try left."""

    def cleanup(self, run_id: str | None = None, only_dead_owners: bool = False) -> list[str]:
        """Remove what gradings left on this backend: one run's objects, or every run's, or only those of runs
        whose grader process is gone; returns one line per object removed."""
