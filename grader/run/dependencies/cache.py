"""The cache of built environments: one folder per requirement set (``<digest>/env`` and its ``lock.json``,
written last), keyed by what decides an environment."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from grader.run.dependencies.build import BuildReport

# Bump when the way environments are built changes: older cache entries are then never used.
ENV_LAYOUT = "uv-venv-3"  # 3: the grader's site hooks (grader_mlflow_defaults) are in the environment
ENV_CACHE = "candidate-envs"
LOCK_FILE = "lock.json"
# Environments are 0.3 to 2.5 GB each: without a bound the cache filled a 250 GB disk in a day of corpus gradings.
MAX_CACHE_BYTES = int(float(os.environ.get("GRADER_ENV_CACHE_MAX_GB", "20")) * 1024**3)
# An entry used more recently than this may be mounted by a grading that is still running: never evicted.
MIN_IDLE_S = 2 * 3600


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
    mark_used(entry)
    return BuildReport(stage="done", lock=list(data.get("lock", [])), cutoff=data.get("cutoff"),
                       cutoff_dropped=data.get("cutoff_dropped"))


def lock_json(report: BuildReport) -> str:
    return json.dumps({"lock": report.lock, "cutoff": report.cutoff, "cutoff_dropped": report.cutoff_dropped},
                      indent=1)




def mark_used(entry: Path) -> None:
    """Record that ``entry`` was just used (its lock file's modification time): eviction takes the least
    recently used first."""
    with contextlib.suppress(OSError):
        os.utime(entry / LOCK_FILE)


def evict(cache: Path, *, keep: Path, max_bytes: int = MAX_CACHE_BYTES, min_idle_s: float = MIN_IDLE_S,
          now: float | None = None) -> list[Path]:
    """Remove the least recently used environments until the cache holds at most ``max_bytes``; ``keep`` and
    entries used in the last ``min_idle_s`` stay whatever the size. Returns what was removed."""
    now = time.time() if now is None else now
    entries = []
    for entry in cache.iterdir() if cache.is_dir() else ():
        if entry.name.startswith(".") or not entry.is_dir():
            continue  # a build in progress (its scratch folder)
        entries.append((_last_used(entry), entry, _size(entry)))
    total = sum(size for _, _, size in entries)
    removed = []
    for last_used, entry, size in sorted(entries, key=lambda item: item[0]):
        if total <= max_bytes:
            break
        if entry == keep or now - last_used < min_idle_s:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        total -= size
        removed.append(entry)
    return removed


def _last_used(entry: Path) -> float:
    try:
        return (entry / LOCK_FILE).stat().st_mtime
    except OSError:
        return entry.stat().st_mtime


def _size(entry: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(entry):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total
