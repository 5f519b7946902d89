"""Where the grader finds its labs, rubrics and sandbox definitions, and where it caches and stores.

A checkout of this repository is the default home: ``labs/``, ``rubrics/`` and ``sandboxes/`` beside the
package. ``GRADER_HOME`` points elsewhere (a course's own repository with the same layout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProjectPaths:
    root: Path

    @property
    def labs(self) -> Path:
        return self.root / "labs"

    @property
    def rubrics(self) -> Path:
        return self.root / "rubrics"

    @property
    def sandboxes(self) -> Path:
        return self.root / "sandboxes"

    @property
    def cache(self) -> Path:
        """Wheelhouses and build contexts; outside the checkout so fresh clones reuse them."""
        default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "capstone-grader"
        return Path(os.environ.get("GRADER_CACHE", default))

    @property
    def results_db(self) -> Path:
        """The embedded results store (SQLite)."""
        default = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "capstone-grader"
        return Path(os.environ.get("GRADER_DB", default / "results.sqlite3"))


def project_paths(root: str | Path | None = None) -> ProjectPaths:
    """The project layout: an explicit root, else ``GRADER_HOME``, else the checkout holding this package."""
    if root is None:
        root = os.environ.get("GRADER_HOME") or Path(__file__).resolve().parent.parent
    return ProjectPaths(Path(root).resolve())
