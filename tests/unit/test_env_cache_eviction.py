"""The candidate-environment cache stays under its size bound: least recently used entries go first, and neither
the entry just built nor one a running grading may have mounted is ever removed."""

from __future__ import annotations

import os
from pathlib import Path

from grader.run.dependencies.cache import LOCK_FILE, evict, mark_used

HOUR = 3600.0


def _entry(cache: Path, name: str, size: int, last_used: float) -> Path:
    entry = cache / name
    (entry / "env" / "bin").mkdir(parents=True)
    (entry / "env" / "blob").write_bytes(os.urandom(size))
    (entry / LOCK_FILE).write_text("{}")
    os.utime(entry / LOCK_FILE, (last_used, last_used))
    return entry


def test_the_least_recently_used_entries_go_until_the_cache_fits(tmp_path: Path) -> None:
    now = 100 * HOUR
    oldest = _entry(tmp_path, "a", 200_000, now - 50 * HOUR)
    older = _entry(tmp_path, "b", 200_000, now - 40 * HOUR)
    recent = _entry(tmp_path, "c", 200_000, now - 30 * HOUR)
    removed = evict(tmp_path, keep=recent, max_bytes=450_000, now=now)
    assert removed == [oldest]
    assert not oldest.exists() and older.exists() and recent.exists()
    assert sum(f.stat().st_size for f in tmp_path.rglob("blob")) <= 450_000


def test_nothing_is_removed_under_the_bound(tmp_path: Path) -> None:
    now = 100 * HOUR
    entries = [_entry(tmp_path, name, 100_000, now - 10 * HOUR) for name in "abc"]
    assert evict(tmp_path, keep=entries[0], max_bytes=10**9, now=now) == []
    assert all(entry.exists() for entry in entries)


def test_the_new_entry_and_entries_in_use_stay_even_over_the_bound(tmp_path: Path) -> None:
    now = 100 * HOUR
    just_built = _entry(tmp_path, "new", 300_000, now - 50 * HOUR)
    in_use = _entry(tmp_path, "busy", 300_000, now - 0.5 * HOUR)  # a grading may have it mounted
    idle = _entry(tmp_path, "idle", 300_000, now - 20 * HOUR)
    building = tmp_path / ".scratch-build"  # a build in progress writes here
    building.mkdir()
    (building / "blob").write_bytes(os.urandom(300_000))
    assert evict(tmp_path, keep=just_built, max_bytes=1, now=now) == [idle]
    assert just_built.exists() and in_use.exists() and building.exists()


def test_a_cache_hit_counts_as_use(tmp_path: Path) -> None:
    now = 100 * HOUR
    first = _entry(tmp_path, "a", 200_000, now - 50 * HOUR)
    second = _entry(tmp_path, "b", 200_000, now - 40 * HOUR)
    mark_used(first)  # now (the real clock) is far later than the fake "now - 40 h"
    removed = evict(tmp_path, keep=tmp_path / "none", max_bytes=250_000, min_idle_s=0,
                    now=(first / LOCK_FILE).stat().st_mtime + HOUR)
    assert removed == [second] and first.exists()
