"""MLflow stores a step left in the work area (``sqlite:///mlflow.db``, ``./mlruns``), as the grader read them.

Real capstones often log to a store of their own instead of ``MLFLOW_TRACKING_URI``: the run's tracking server
then sees nothing. After each step the grader reads such stores (``grader.evidence.local_store_reader``) with its
own code in a container of its own; what it finds is kept here, beside the server's snapshot, marked with where it
was found. The check types decide what a run found only there is worth (``mlflow``'s ``local_store``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from grader.evidence.mlflow_snapshot import CLOCK_SLACK_MS, MlflowSnapshot

MAX_SKIPPED_NOTES = 10


@dataclass(frozen=True)
class LocalStore:
    """One store as read after one step: ``uri`` as the candidate's code names it (relative to the work area)."""

    uri: str
    kind: str  # "sqlite" or "file"
    step: str
    snapshot: MlflowSnapshot

    @property
    def source(self) -> str:
        """Where the evidence comes from, as reports say it."""
        return f"local store {self.uri}"

    @property
    def readable(self) -> bool:
        return self.snapshot.error is None


@dataclass(frozen=True)
class LocalStores:
    """Every store found after the steps, the newest reading of each first; ``notes`` say what was passed over
    (symlinks, unreadable stores, a reader that failed)."""

    stores: tuple[LocalStore, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def readable(self) -> list[LocalStore]:
        return [store for store in self.stores if store.readable]

    def with_runs_since(self, started_ms: int) -> list[LocalStore]:
        """Stores holding a run started during this grading (the same clock rule as the server's runs)."""
        return [s for s in self.readable() if s.snapshot.runs_since(started_ms)]

    def with_versions_since(self, name: str | None, started_ms: int) -> list[LocalStore]:
        """Stores holding a model version created during this grading (of ``name``, or of any model)."""
        found = []
        for store in self.readable():
            versions = [v for v in store.snapshot.versions if v.created_ms >= started_ms - CLOCK_SLACK_MS]
            if any(name is None or v.name == name for v in versions):
                found.append(store)
        return found

    def merged(self, later: LocalStores) -> LocalStores:
        """This reading updated by a later one: a store read again keeps only its newest reading."""
        newest = {store.uri: store for store in (*self.stores, *later.stores)}
        notes = tuple(dict.fromkeys((*self.notes, *later.notes)))[:MAX_SKIPPED_NOTES]
        return LocalStores(stores=tuple(newest.values()), notes=notes)


def parse_reading(raw: dict[str, Any], step: str) -> LocalStores:
    """The reader's answer (see ``grader.probe.read_local_store``) as typed evidence."""
    stores: list[LocalStore] = []
    notes = [str(note) for note in _list(raw.get("skipped"))]
    for entry in _list(raw.get("stores")):
        if not isinstance(entry, dict) or not isinstance(entry.get("uri"), str):
            continue
        kind = str(entry.get("kind", ""))
        snapshot = _snapshot(entry)
        if snapshot.error is not None:
            notes.append(f"{entry['uri']} could not be read: {snapshot.error}")
        stores.append(LocalStore(uri=entry["uri"], kind=kind, step=step, snapshot=snapshot))
    return LocalStores(stores=tuple(stores), notes=tuple(notes[:MAX_SKIPPED_NOTES]))


def _snapshot(entry: dict[str, Any]) -> MlflowSnapshot:
    """The store's snapshot; a store whose values do not have MLflow's types (a hand-made database) is unreadable."""
    if not isinstance(entry.get("snapshot"), dict):
        return MlflowSnapshot(error=str(entry.get("error") or "unreadable"))
    try:
        return MlflowSnapshot.from_probe(entry["snapshot"])
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return MlflowSnapshot(error=f"not MLflow's data: {type(exc).__name__}: {str(exc)[:200]}")


def _list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else []


def failed_reading(step: str, reason: str) -> LocalStores:
    """A reading that did not happen, with the reason (the checks then see no local store)."""
    return LocalStores(notes=(f"the work area after step {step!r} could not be searched for MLflow stores: "
                              f"{reason}",))
