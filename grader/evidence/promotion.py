"""The promotion drill: the grader moves the serving alias to a version of its own and back, and watches
whether the candidate's server follows.

1. A trusted container (``grader/probe/register_sentinel.py``) registers a *sentinel* version of the
   candidate's model: a constant classifier answering a token made for this run only, so a server can
   only answer it by really loading that version. It runs while the candidate's server starts, after the
   registry snapshot the other checks read.
2. The probe points the alias at the sentinel and sends the same rows round after round until the server
   answers the token to all of them in ``confirm`` rounds in a row, or the manifest's
   ``serve.reload_within`` runs out. With ``serve.reload: restart`` the grader restarts the server
   container after moving the alias (and waits for its port) before watching.
3. The probe points the alias back at the candidate's version and watches until no answer holds the token.

The probe only observes; the checks (``grader/checks/promotion_check.py``) judge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from grader.errors import InfrastructureError
from grader.evidence.answers import HttpAnswer, batch
from grader.evidence.mlflow_snapshot import MlflowSnapshot
from grader.evidence.probe_runner import ProbeRunner
from grader.evidence.run_data import RunData
from grader.evidence.serving import encode_row
from grader.models import ServiceResult
from grader.probe.labels import BEFORE_DRILL, MOVE_BACK, MOVE_TO_SENTINEL, PROMOTION, ROLLBACK

__all__ = ["MOVE_BACK", "MOVE_TO_SENTINEL", "PROMOTION", "ROLLBACK", "DrillPlan", "DrillResult", "Sentinel",
           "WatchPhase", "drill_plan", "drill_problem", "drill_steps", "register_sentinel", "run_drill"]
Restarter = Callable[[], ServiceResult]
CONFIRM_ROUNDS = 3


@dataclass(frozen=True)
class DrillPlan:
    """What the drill needs to know; built by ``drill_plan`` from the manifest, the lab and the registry snapshot."""

    tracking_url: str
    predict_url: str
    model: str
    alias: str
    original_version: str
    features: list[str]
    bodies: list[Any]
    policy: str
    reload_within: float
    token: str
    sentinel_version: str
    confirm: int = CONFIRM_ROUNDS
    interval_s: float = 0.02


@dataclass(frozen=True)
class WatchPhase:
    """The server's answers while the grader waited for it to follow one alias move."""

    name: str
    matched: bool
    elapsed_s: float
    deadline_s: float
    rounds: list[dict[str, Any]]
    last_bodies: list[list[str]]
    failures: list[dict[str, Any]]
    confirm: int = CONFIRM_ROUNDS
    note: str | None = None  # e.g. the restarted server never listened again

    @classmethod
    def from_probe(cls, name: str, raw: dict[str, Any], deadline_s: float, confirm: int) -> WatchPhase:
        """One watch as the probe reported it."""
        return cls(name=name, matched=bool(raw.get("matched")), elapsed_s=float(raw.get("elapsed_s") or 0),
                   deadline_s=deadline_s, rounds=list(raw.get("rounds") or []),
                   last_bodies=list(raw.get("last_bodies") or []), failures=list(raw.get("failures") or []),
                   confirm=confirm)

    @property
    def switched_after_s(self) -> float | None:
        """Seconds from the alias move to the first round of the confirming streak."""
        if not self.matched or len(self.rounds) < self.confirm:
            return None
        return float(self.rounds[-self.confirm]["t"])

    def status_counts(self) -> dict[str, int]:
        """How many answers got each status (``no answer`` for a dropped or refused connection)."""
        counts: Counter[str] = Counter()
        for entry in self.rounds:
            counts.update("no answer" if s is None else str(s) for s in entry.get("statuses", []))
        return dict(sorted(counts.items()))

    def errors(self) -> int:
        """How many answers were not 2xx."""
        return sum(n for status, n in self.status_counts().items() if not status.startswith("2"))

    def summary(self) -> dict[str, Any]:
        """The phase for the report."""
        return {"matched": self.matched, "switched_after_s": self.switched_after_s, "elapsed_s": self.elapsed_s,
                "deadline_s": self.deadline_s, "rounds": len(self.rounds), "statuses": self.status_counts(),
                "failures": self.failures[:5], "note": self.note}


@dataclass(frozen=True)
class DrillResult:
    """Everything the drill did and saw. ``problem`` is set when the submission gave it nothing to drill."""

    plan: DrillPlan | None
    problem: str | None = None
    before: tuple[HttpAnswer, ...] = ()
    phases: Mapping[str, WatchPhase] = field(default_factory=dict)
    restarts: tuple[dict[str, Any], ...] = ()

    def evidence(self) -> dict[str, Any]:
        """What the drill was, for the report."""
        plan = self.plan
        if plan is None:
            return {"problem": self.problem}
        return {"policy": plan.policy, "model": plan.model, "alias": plan.alias,
                "candidate_version": plan.original_version, "sentinel_version": plan.sentinel_version,
                "sentinel_answer": plan.token, "rows": len(plan.bodies), "reload_within_s": plan.reload_within,
                "restarts": list(self.restarts)}


def _watch(plan: DrillPlan, label: str, until: str) -> dict[str, Any]:
    return {"label": label, "do": "watch", "url": plan.predict_url, "bodies": plan.bodies, "token": plan.token,
            "until": until, "confirm": plan.confirm, "deadline_s": plan.reload_within, "interval_s": plan.interval_s}


def _set_alias(plan: DrillPlan, label: str, version: str) -> dict[str, Any]:
    return {"label": label, "do": "set-alias", "url": plan.tracking_url, "model": plan.model, "alias": plan.alias,
            "version": version}


def drill_steps(plan: DrillPlan) -> list[list[dict[str, Any]]]:
    """The probe's actions, in batches: one batch when the server polls, and with a restart of the server
    between batches when it follows by restarting."""
    before = {"label": BEFORE_DRILL, "do": "predict", "url": plan.predict_url, "bodies": plan.bodies}
    promote = _set_alias(plan, MOVE_TO_SENTINEL, plan.sentinel_version)
    rollback = _set_alias(plan, MOVE_BACK, plan.original_version)
    watch_in, watch_out = _watch(plan, PROMOTION, "all"), _watch(plan, ROLLBACK, "none")
    if plan.policy == "restart":
        return [[before, promote], [watch_in, rollback], [watch_out]]
    return [[before, promote, watch_in, rollback, watch_out]]


@dataclass(frozen=True)
class Sentinel:
    """The grader's version of the candidate's model: its version number and the one answer it gives."""

    version: str
    token: str


def register_sentinel(run_probe: ProbeRunner, model: str, features: list[str], token: str) -> Sentinel:
    """Register the constant model answering ``token`` as a new version of ``model`` (no alias moves).

    It has no signature, so it takes whatever frame the candidate's server passes to ``predict``."""
    registered = run_probe("register_sentinel", {"model": model, "label": token, "features": features}, [],
                           None)[-1]
    if "error" in registered or not registered.get("version"):
        raise InfrastructureError(f"the grader could not register its sentinel version: {registered.get('error')}")
    return Sentinel(version=str(registered["version"]), token=token)


def run_drill(plan: DrillPlan, run_probe: ProbeRunner, restart: Restarter | None) -> DrillResult:
    """Move the alias to the sentinel and back while the probe watches the server."""
    if plan.policy == "restart" and restart is None:
        raise InfrastructureError("this backend cannot restart a service (serve.reload: restart)")
    observed: dict[str, Any] = {}
    notes: dict[str, str] = {}
    restarts: list[dict[str, Any]] = []
    for index, actions in enumerate(drill_steps(plan)):
        if index > 0 and restart is not None:
            restarted = restart()
            restarts.append(restarted.model_dump(include={"ready", "message", "ready_after_s"}))
            if not restarted.ready:
                notes[actions[0]["label"]] = f"after the grader restarted it, the server {restarted.message}"
        answer = run_probe("agent", {"actions": actions, "timeout": 5}, [], None)[-1]
        observed.update(answer)
    for label in (MOVE_TO_SENTINEL, MOVE_BACK):
        moved = observed.get(label, {})
        if moved.get("status") != 200:
            raise InfrastructureError(f"the grader could not move alias {plan.alias!r} ({label}): "
                                      f"HTTP {moved.get('status')} {moved.get('body', moved.get('error', ''))[:200]}")
    phases = {name: replace(WatchPhase.from_probe(name, observed.get(name, {}), plan.reload_within, plan.confirm),
                            note=notes.get(name))
              for name in (PROMOTION, ROLLBACK)}
    return DrillResult(plan=plan, before=batch(observed.get(BEFORE_DRILL)), phases=phases, restarts=tuple(restarts))


def drill_problem(data: RunData, registry: MlflowSnapshot) -> str | None:
    """Why the submission gives the drill nothing to drill (no alias, or an alias not set), or None."""
    model = data.manifest.model
    if not model.alias:
        return "the manifest names no model.alias: the drill moves an alias"
    if not registry.aliases.get(model.name, {}).get(model.alias):
        return f"alias {model.alias!r} is not set on {model.name!r}: there is no serving version to promote from"
    return None


def drill_plan(data: RunData, registry: MlflowSnapshot, sentinel: Sentinel, rows: int) -> DrillPlan:
    """The drill for this submission (``drill_problem`` found nothing wrong): ``rows`` rows per round."""
    model, serve = data.manifest.model, data.manifest.serve
    alias = model.alias or ""
    current = registry.aliases.get(model.name, {}).get(alias, "")
    features = list(data.task.features)
    bodies = [encode_row(serve.request_format, features, row) for row in data.feature_rows(data.first_hidden)[:rows]]
    return DrillPlan(tracking_url=data.tracking_url(), predict_url=data.predict_url(), model=model.name,
                     alias=alias, original_version=current, features=features, bodies=bodies,
                     policy=serve.reload, reload_within=serve.reload_within, token=sentinel.token,
                     sentinel_version=sentinel.version)
