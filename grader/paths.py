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
        return Path(os.environ.get("GRADER_CACHE", self.root / ".cache"))

    @property
    def results_db(self) -> Path:
        return Path(os.environ.get("GRADER_DB", self.cache / "results.sqlite3"))


def project_paths(root: str | Path | None = None) -> ProjectPaths:
    """The project layout: an explicit root, else ``GRADER_HOME``, else the checkout holding this package."""
    if root is None:
        root = os.environ.get("GRADER_HOME") or Path(__file__).resolve().parent.parent
    return ProjectPaths(Path(root).resolve())
