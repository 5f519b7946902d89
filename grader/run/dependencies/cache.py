"""The cache of built environments: one folder per requirement set (``<digest>/env`` and its ``lock.json``,
written last), keyed by what decides an environment."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from grader.run.dependencies.build import BuildReport

# Bump when the way environments are built changes: older cache entries are then never used.
ENV_LAYOUT = "uv-venv-3"  # 3: the grader's site hooks (grader_mlflow_defaults) are in the environment
ENV_CACHE = "candidate-envs"
LOCK_FILE = "lock.json"


def environment_key(requirements: Sequence[str], constraints: Sequence[str], python_version: str,
                    cutoff: str | None) -> str:
    """sha256 of what decides an environment: the normalised requirements (in any order), the lock's pins, the
    Python version, the cut-off date and the way environments are built."""
    lines = [f"layout {ENV_LAYOUT}", f"python {python_version}", f"cutoff {cutoff or 'none'}"]
    lines += [f"requirement {line}" for line in sorted(set(requirements))]
    lines += [f"constraint {line}" for line in sorted(set(constraints))]
    return hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()


def publish(scratch: Path, entry: Path) -> None:
    """Move a complete environment into the cache; a concurrent run that got there first wins."""
    staged = scratch / "entry"
    staged.mkdir(mode=0o755)
    (scratch / "env-taken").rename(staged / "env")
    (scratch / LOCK_FILE).rename(staged / LOCK_FILE)
    if entry.exists() and not (entry / LOCK_FILE).is_file():
        shutil.rmtree(entry)
    try:
        staged.rename(entry)
    except OSError:
        if not (entry / LOCK_FILE).is_file():
            raise


def read_cached(entry: Path) -> BuildReport | None:
    """The report of a complete cache entry (its lock file is written last), or None."""
    try:
        data = json.loads((entry / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not (entry / "env" / "bin").is_dir():
        return None
    return BuildReport(stage="done", lock=list(data.get("lock", [])), cutoff=data.get("cutoff"),
                       cutoff_dropped=data.get("cutoff_dropped"))


def lock_json(report: BuildReport) -> str:
    return json.dumps({"lock": report.lock, "cutoff": report.cutoff, "cutoff_dropped": report.cutoff_dropped},
                      indent=1)


