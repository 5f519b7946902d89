"""The ``mlflow`` check's second look: a local MLflow store in the work area, when the tracking server saw nothing.

Real capstones log to ``sqlite:///mlflow.db`` or ``./mlruns`` as often as to a server. When the run's server holds
nothing of this grading for what a check asks, the same judgement is made on the stores the steps left in the work
area (read by the grader after each step, ``grader.evidence.local_store``), under the same clock rule; the
result says where it was found, and ``local_store`` decides what it is worth: ``full`` credit, ``partial``
(``LOCAL_STORE_PARTIAL`` of the points) or ``none`` (a lab about the tracking server: the message says to log there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from grader.evidence import Facts
from grader.evidence.local_store import LocalStore, LocalStores
from grader.evidence.mlflow_snapshot import CLOCK_SLACK_MS, MlflowSnapshot
from grader.models import CheckOutcome, Status

LocalCredit = Literal["full", "partial", "none"]
LOCAL_STORE_PARTIAL = 0.5
RUN_REQUIRES = ("run", "params", "metrics")
REGISTRY_REQUIRES = ("registered", "alias")
# These load the model from the tracking server's registry (the grader's evaluator): a local store cannot serve it.
SERVER_ONLY_REQUIRES = ("signature", "lineage", "metric-matches")

Handler = Callable[[MlflowSnapshot], CheckOutcome]


def server_saw_nothing(require: str, facts: Facts, snapshot: MlflowSnapshot) -> bool:
    """Whether the run's server holds nothing of this grading for what ``require`` looks at."""
    if require in REGISTRY_REQUIRES:
        return not [v for v in snapshot.versions if v.created_ms >= facts.started_at_ms - CLOCK_SLACK_MS]
    return not snapshot.runs_since(facts.started_at_ms)


def relevant_stores(require: str, facts: Facts, stores: LocalStores) -> list[LocalStore]:
    """Stores holding something of this grading for ``require``: runs, or model versions."""
    if require in REGISTRY_REQUIRES:
        return stores.with_versions_since(None, facts.started_at_ms)
    return stores.with_runs_since(facts.started_at_ms)


def judge_local(require: str, credit: LocalCredit, facts: Facts, server_outcome: CheckOutcome,
                handler: Handler) -> CheckOutcome:
    """``server_outcome`` (the server saw nothing), reconsidered with the stores the steps left in the work area."""
    stores = facts.local_stores()
    found = relevant_stores(require, facts, stores)
    if require in SERVER_ONLY_REQUIRES:
        return _server_only(server_outcome, found)
    if not found:
        return _nothing_local(server_outcome, stores)
    store = found[0]
    local = handler(store.snapshot)
    where = f"found in the repository's {store.source}, not on the tracking server"
    evidence = {**local.evidence, "source": store.source, "read_after_step": store.step}
    if local.status != Status.passed:
        return CheckOutcome.failed(f"{local.message} ({where})", **evidence)
    if credit == "full":
        return CheckOutcome.passed(f"{local.message} — {where}", **evidence)
    if credit == "partial":
        return CheckOutcome.partial(LOCAL_STORE_PARTIAL, f"{local.message} — {where}: partial credit, this lab "
                                    "asks for the tracking server (log to MLFLOW_TRACKING_URI)", **evidence)
    return CheckOutcome.failed(f"{local.message}, but {where}: this lab grades what reaches the tracking server; "
                               "log to the server in MLFLOW_TRACKING_URI instead of a hard-coded "
                               f"{store.uri}", **evidence)


def _nothing_local(server_outcome: CheckOutcome, stores: LocalStores) -> CheckOutcome:
    """The server's failure, saying what the local stores held instead (only older runs, or nothing readable)."""
    readable = stores.readable()
    if readable:
        named = ", ".join(store.uri for store in readable[:3])
        note = (f"; the repository's local store {named} holds nothing of this grading either (only what was "
                "there before it)")
    elif stores.notes:
        note = f"; {stores.notes[0]}"
    else:
        return server_outcome
    return server_outcome.model_copy(update={"message": server_outcome.message + note})


def _server_only(server_outcome: CheckOutcome, stores: list[LocalStore]) -> CheckOutcome:
    if not stores:
        return server_outcome
    note = (f" (the repository's local store {stores[0].uri} holds runs of this grading, but this check loads the "
            "model from the tracking server's registry: log and register it on the server in MLFLOW_TRACKING_URI)")
    return server_outcome.model_copy(update={"message": server_outcome.message + note})
