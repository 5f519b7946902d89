"""Finds MLflow stores a step left in the work area and reads them: the grader's own code, never the candidate's.

Runs in a grader container with the work area mounted read-only, no network and the grader's own MLflow (the
runtime image's, never the candidate's environment). It prints one line ``GRADER-PROBE-RESULT <json>``:
``{"stores": [{"uri", "kind", "snapshot" | "error"}], "skipped": [...]}``, where a snapshot has the shape of the
tracking server's REST answers (experiments, runs, registered_models, versions), so the host parses both alike.

- ``sqlite``: a regular file (never a symlink) that starts with SQLite's header, opened read-only and immutable
  with the standard library (MLflow's schema for runs and the registry is the same from 1.x to 3.x; MLflow's own
  store would refuse a database of another schema revision, or migrate it).
- ``file``: a folder named ``mlruns``, read with MLflow's file store. Symlinks in it lead nowhere but this
  container's own files: the host's are not mounted.

Usage: ``python3 -I read_local_store.py ROOT``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
from typing import Any

RESULT_MARKER = "GRADER-PROBE-RESULT "
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
FILE_STORE_NAME = "mlruns"
# Folders that hold libraries or history, never a candidate's store; walking them costs time for nothing.
SKIPPED_FOLDERS = {".git", "node_modules", ".venv", "venv", "env", "__pycache__", "site-packages", ".tox",
                   ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", "mlartifacts"}
MAX_DEPTH = 4
MAX_ENTRIES = 20000
MAX_STORES = 6
MAX_DB_BYTES = 512 * 1024 * 1024
MAX_RUNS = 1000


def store_uri(root: str, path: str, kind: str) -> str:
    """The store as the candidate's code would name it, relative to the work area."""
    relative = os.path.relpath(path, root)
    return f"sqlite:///{relative}" if kind == "sqlite" else f"./{relative}"


def is_regular_file(path: str) -> bool:
    """A regular file itself, not a link to one (nor a FIFO, which would hang a reader)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def is_sqlite_file(path: str) -> bool:
    """A regular file (not a symlink) of a sane size that starts with SQLite's header."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_DB_BYTES or info.st_size < len(SQLITE_HEADER):
            return False
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def holds_experiments(path: str) -> bool:
    """Whether an ``mlruns`` folder is a tracking store (experiment folders with their ``meta.yaml``), not only the
    artifacts of a database-backed store, which MLflow also writes to ``./mlruns``."""
    try:
        return any(is_regular_file(os.path.join(path, name, "meta.yaml")) for name in os.listdir(path)
                   if not os.path.islink(os.path.join(path, name)))
    except OSError:
        return False


def find_stores(root: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(kind, path) of every store under ``root`` (at most MAX_STORES, shallowest first), and what was passed
    over and why. Symlinked folders are never entered; ``mlruns`` folders are not walked inside."""
    found: list[tuple[str, str]] = []
    skipped: list[str] = []
    seen = 0
    base_depth = root.rstrip("/").count("/")
    for folder, dirs, files in os.walk(root, followlinks=False):
        depth = folder.rstrip("/").count("/") - base_depth
        seen += len(dirs) + len(files)
        if seen > MAX_ENTRIES:
            skipped.append(f"stopped looking after {MAX_ENTRIES} entries")
            break
        for name in sorted(dirs):
            path = os.path.join(folder, name)
            if name == FILE_STORE_NAME and not os.path.islink(path) and holds_experiments(path):
                found.append(("file", path))
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS and d != FILE_STORE_NAME
                         and not os.path.islink(os.path.join(folder, d))) if depth < MAX_DEPTH else []
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(SQLITE_SUFFIXES):
                if is_sqlite_file(path):
                    found.append(("sqlite", path))
                elif os.path.islink(path):
                    skipped.append(f"{store_uri(root, path, 'sqlite')}: a symlink, not read")
    found.sort(key=lambda item: (item[1].count("/"), item[1]))
    if len(found) > MAX_STORES:
        skipped.extend(f"{store_uri(root, p, k)}: more than {MAX_STORES} stores" for k, p in found[MAX_STORES:])
    return found[:MAX_STORES], skipped


# --- sqlite, with the standard library ------------------------------------------------------------

def _rows(db: sqlite3.Connection, query: str, *args: Any) -> list[sqlite3.Row]:
    return list(db.execute(query, args))


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def read_sqlite(path: str) -> dict[str, Any]:
    """The MLflow tables of an SQLite file, opened read-only and immutable (nothing is ever written)."""
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=2)
    try:
        db.row_factory = sqlite3.Row
        tables = _tables(db)
        if not {"runs", "experiments"} <= tables:
            raise ValueError("not an MLflow store (no runs and experiments tables)")
        experiments = [{"experiment_id": str(r["experiment_id"]), "name": r["name"]}
                       for r in _rows(db, "SELECT experiment_id, name FROM experiments")]
        runs = [_sqlite_run(db, r, tables) for r in _rows(
            db, "SELECT run_uuid, experiment_id, status, start_time, lifecycle_stage FROM runs "
                "ORDER BY start_time DESC LIMIT ?", MAX_RUNS)]
        models, versions = _sqlite_registry(db, tables)
        return {"experiments": experiments, "runs": runs, "registered_models": models, "versions": versions}
    finally:
        db.close()


def _sqlite_run(db: sqlite3.Connection, row: sqlite3.Row, tables: set[str]) -> dict[str, Any]:
    run_id = row["run_uuid"]
    params = [{"key": r["key"], "value": r["value"]}
              for r in _rows(db, "SELECT key, value FROM params WHERE run_uuid = ?", run_id)] \
        if "params" in tables else []
    metrics_table = "latest_metrics" if "latest_metrics" in tables else "metrics"
    metrics = [{"key": r["key"], "value": r["value"]} for r in _rows(
        db, f"SELECT key, value FROM {metrics_table} WHERE run_uuid = ? ORDER BY step, timestamp", run_id)] \
        if metrics_table in tables else []
    tags = [{"key": r["key"], "value": r["value"]}
            for r in _rows(db, "SELECT key, value FROM tags WHERE run_uuid = ?", run_id)] if "tags" in tables else []
    info = {"run_id": run_id, "experiment_id": str(row["experiment_id"]), "status": row["status"],
            "start_time": row["start_time"], "lifecycle_stage": row["lifecycle_stage"]}
    return {"info": info, "data": {"params": params, "metrics": metrics, "tags": tags}}


def _sqlite_registry(db: sqlite3.Connection, tables: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not {"registered_models", "model_versions"} <= tables:
        return [], []
    aliases: dict[str, list[dict[str, Any]]] = {}
    if "registered_model_aliases" in tables:
        for r in _rows(db, "SELECT name, alias, version FROM registered_model_aliases"):
            aliases.setdefault(r["name"], []).append({"alias": r["alias"], "version": str(r["version"])})
    models = [{"name": r["name"], "aliases": aliases.get(r["name"], [])}
              for r in _rows(db, "SELECT name FROM registered_models")]
    versions = [{"name": r["name"], "version": str(r["version"]), "run_id": r["run_id"] or "",
                 "source": r["source"] or "", "current_stage": r["current_stage"] or "None",
                 "creation_timestamp": r["creation_time"]}
                for r in _rows(db, "SELECT name, version, run_id, source, current_stage, creation_time "
                                   "FROM model_versions")]
    return models, versions


# --- file stores, with the grader's MLflow --------------------------------------------------------

def read_file_store(path: str) -> dict[str, Any]:
    """An ``mlruns`` folder, read with MLflow's own file stores (tracking and registry)."""
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3.x keeps the file store behind this switch
    from mlflow.entities import ViewType
    from mlflow.store.model_registry.file_store import FileStore as RegistryStore
    from mlflow.store.tracking.file_store import FileStore

    store = FileStore(path)
    experiments = store.search_experiments(view_type=ViewType.ALL, max_results=1000)
    runs = store.search_runs([e.experiment_id for e in experiments], "", ViewType.ALL, max_results=MAX_RUNS)
    registry = RegistryStore(path) if os.path.isdir(os.path.join(path, "models")) else None
    models = registry.search_registered_models(max_results=1000) if registry else []
    versions = [v for m in models for v in _file_store_versions(registry, m.name)] if registry else []
    return {
        "experiments": [{"experiment_id": e.experiment_id, "name": e.name} for e in experiments],
        "runs": [{"info": {"run_id": r.info.run_id, "experiment_id": r.info.experiment_id, "status": r.info.status,
                           "start_time": r.info.start_time, "lifecycle_stage": r.info.lifecycle_stage},
                  "data": {"params": [{"key": k, "value": v} for k, v in r.data.params.items()],
                           "metrics": [{"key": k, "value": v} for k, v in r.data.metrics.items()],
                           "tags": [{"key": k, "value": v} for k, v in r.data.tags.items()]}} for r in runs],
        "registered_models": [{"name": m.name, "aliases": [{"alias": a, "version": str(v)}
                                                           for a, v in (getattr(m, "aliases", None) or {}).items()]}
                              for m in models],
        "versions": [{"name": v.name, "version": str(v.version), "run_id": v.run_id or "", "source": v.source or "",
                      "current_stage": v.current_stage or "None", "creation_timestamp": v.creation_timestamp}
                     for v in versions],
    }


def _file_store_versions(registry: Any, name: str) -> list[Any]:
    """A registered model's versions; a name the filter syntax cannot quote gives none."""
    if "'" in name:
        return []
    return list(registry.search_model_versions(f"name='{name}'", max_results=1000))


def read_store(root: str, kind: str, path: str) -> dict[str, Any]:
    """One store's snapshot, or why it could not be read."""
    entry: dict[str, Any] = {"uri": store_uri(root, path, kind), "kind": kind}
    try:
        entry["snapshot"] = read_sqlite(path) if kind == "sqlite" else read_file_store(path)
    except Exception as error:  # a broken or hostile store is reported, never the end of the reading
        entry["error"] = f"{type(error).__name__}: {str(error)[:300]}"
    return entry


def main() -> int:
    root = sys.argv[1] if len(sys.argv) > 1 else "/work"
    stores, skipped = find_stores(root)
    result = {"stores": [read_store(root, kind, path) for kind, path in stores], "skipped": skipped}
    print(RESULT_MARKER + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
