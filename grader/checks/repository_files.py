"""The files of a repository a reviewer would look at, found where real projects keep them.

Walks the submission once, skipping what is not the candidate's own (virtual environments, vendored
packages, ``node_modules``, caches), and names Dockerfiles, compose files and CI configurations by the
conventions their tools use.
"""

from __future__ import annotations

import os
from pathlib import Path

SKIPPED_FOLDERS = frozenset({
    ".git", ".hg", ".venv", "venv", "env", ".env", "virtualenv", "node_modules", "site-packages", "vendor",
    "third_party", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
})
MAX_FILES = 20_000
NOT_DOCKERFILE_SUFFIXES = (".py", ".md", ".txt", ".sh", ".yml", ".yaml", ".json", ".toml", ".j2", ".tpl",
                           ".template", ".bak", ".orig", ".dockerignore")


def repository_files(root: Path) -> list[str]:
    """'/'-separated paths of the regular files under ``root`` (not through links), sorted, capped at MAX_FILES."""
    found: list[str] = []
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not _skipped(Path(folder) / d, d))
        base = Path(folder).relative_to(root)
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append((base / name).as_posix())
            if len(found) >= MAX_FILES:
                return found
    return found


def _skipped(path: Path, name: str) -> bool:
    return name in SKIPPED_FOLDERS or name.endswith(".egg-info") or (path / "pyvenv.cfg").is_file()


def is_dockerfile(relative: str) -> bool:
    """``Dockerfile``, ``Dockerfile.api``, ``Dockerfile-dev``, ``api.Dockerfile``, any case."""
    name = relative.rsplit("/", 1)[-1].lower()
    if name.endswith(NOT_DOCKERFILE_SUFFIXES):
        return False
    return name == "dockerfile" or name.startswith(("dockerfile.", "dockerfile-", "dockerfile_")) \
        or name.endswith(".dockerfile")


def is_compose_file(relative: str) -> bool:
    """``docker-compose.yml``, ``docker-compose.prod.yaml``, ``compose.yaml``, ``compose.override.yml``."""
    name = relative.rsplit("/", 1)[-1].lower()
    return name.endswith((".yml", ".yaml")) and name.startswith(("docker-compose", "compose"))


def depth_then_name(relative: str) -> tuple[int, str]:
    """Sort key: files nearer the root first."""
    return relative.count("/"), relative
