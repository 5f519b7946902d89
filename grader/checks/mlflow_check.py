"""``mlflow``: what the run's fresh MLflow server holds after training — observed by the grader's probe.

The tracking server is started by the grader for this run only, so nothing in it predates grading.
``require`` picks the property:

- ``run``: a FINISHED run started during grading;
- ``params``: that run logged at least ``min_params`` parameters (and every name in ``params``);
- ``metrics``: it logged every metric in ``metrics``;
- ``registered``: a version of the model name (manifest ``model.name``) was created during grading;
- ``signature``: the served version's model has an input signature;
- ``lineage``: the served version links to a run of this grading;
- ``alias``: the manifest's alias (or legacy stage) points to the newest version of this run;
- ``metric-matches``: the logged ``metric`` agrees, within ``tolerance``, with the grader's own
  computation of it: the registered model predicts the lab's ``dataset`` in a sandbox and the grader
  scores those predictions against labels it keeps. The report shows claimed beside measured.

Local stores: code that logs to ``sqlite:///mlflow.db``, ``file:./mlruns`` or ``./mlruns`` never reaches the
server. After each step the grader reads such stores in the work area with its own MLflow (in a container, the
work area read-only); when the server holds nothing of this grading for ``run``, ``params``, ``metrics``,
``registered`` or ``alias``, the check judges the store instead, with the same clock rule, and says where it found
the run. ``local_store`` sets the credit: ``full``, ``partial`` (half the points) or ``none`` (the default: the
lab is about the tracking server). ``signature``, ``lineage`` and ``metric-matches`` load the model from the
server's registry and stay server-only.

Example::

    - {id: metric-honest, title: Logged accuracy is true, type: mlflow, points: 6,
       require: metric-matches, metric: val_accuracy, dataset: valid, tolerance: 0.02}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.checks.mlflow_local_store import LocalCredit, judge_local, server_saw_nothing
from grader.evidence import Facts
from grader.evidence.labels import METRICS, normalise
from grader.evidence.mlflow_snapshot import CLOCK_SLACK_MS, MlflowSnapshot, Run
from grader.evidence.request import EvidenceRequest
from grader.models import CheckOutcome, Status


class Params(CheckParams):
    require: Literal["run", "params", "metrics", "registered", "signature", "lineage", "alias", "metric-matches"]
    min_params: int = Field(1, ge=0, description="``params``: fewest parameters")
    params: list[str] = Field(default_factory=list, description="``params``: names that must be logged")
    metrics: list[str] = Field(default_factory=list, description="``metrics``: names that must be logged")
    metric: str = Field("val_accuracy", description="``metric-matches``: the logged metric to verify")
    score: Literal["accuracy", "f1_macro"] = Field("accuracy", description="``metric-matches``: what it measures")
    dataset: str = Field("valid", description="``metric-matches``: the lab data set it was computed on")
    tolerance: float = Field(0.02, ge=0, description="``metric-matches``: largest allowed difference")
    local_store: LocalCredit = Field("none", description="credit for what is found only in a local MLflow store "
                                     "of the work area (sqlite:///…db, ./mlruns): full, partial (half) or none")


def _runs(facts: Facts, snapshot: MlflowSnapshot) -> list[Run]:
    return snapshot.finished_runs_since(facts.started_at_ms)


def _training_run(facts: Facts, snapshot: MlflowSnapshot) -> tuple[Run | None, str]:
    """The run behind the served version, else the newest finished run of this grading; or why there is none.
    A served version whose run was created before this grading was not trained here (imported from elsewhere):
    its run does not count."""
    version = facts.served_version()
    if version is not None and (linked := snapshot.run(version.run_id)):
        if linked.start_time_ms < facts.started_at_ms - CLOCK_SLACK_MS:
            return None, (f"the served version {version.version} of {version.name!r} comes from run {linked.run_id}, "
                          "created before this grading: register the model your training logs during the run")
        return linked, ""
    runs = _runs(facts, snapshot)
    if not runs:
        return None, "no finished run of this grading to look at"
    return max(runs, key=lambda r: r.start_time_ms), ""


def _described(run: Run, facts: Facts) -> str:
    """``run ID``, saying when it is the one behind the served version (the run the checks read)."""
    version = facts.served_version()
    if version is not None and version.run_id == run.run_id:
        return f"run {run.run_id} (behind the served version {version.version})"
    return f"run {run.run_id}"


def plan(params: Params) -> EvidenceRequest:
    """The registry snapshot and the local stores the steps leave (a failure then says where the runs went);
    ``signature`` and ``metric-matches`` also the served version's evaluation."""
    return EvidenceRequest(registry=True, model_evaluation=params.require in ("signature", "metric-matches"),
                           local_stores=True)


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts: Facts = ctx.require_facts()
    snapshot = facts.mlflow()
    if snapshot.error:
        return CheckOutcome.errored(f"the MLflow server could not be read: {snapshot.error}")
    handler = HANDLERS[params.require]
    outcome = handler(params, facts, snapshot)
    if outcome.status == Status.passed or not server_saw_nothing(params.require, facts, snapshot):
        return outcome
    return judge_local(params.require, params.local_store, facts, outcome,
                       lambda local: handler(params, facts, local))


def _run(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    runs = _runs(facts, snapshot)
    evidence = {"runs": [{"run_id": r.run_id, "status": r.status} for r in snapshot.runs][:20]}
    if not runs:
        started = snapshot.runs_since(facts.started_at_ms)
        if started:
            return CheckOutcome.failed(f"{len(started)} run(s) started but none FINISHED", **evidence)
        return CheckOutcome.failed("no MLflow run was created during grading", **evidence)
    newest = max(runs, key=lambda r: r.start_time_ms)
    return CheckOutcome.passed(f"{len(runs)} finished run(s) during grading, newest {newest.run_id}", **evidence)


def _params(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    run, problem = _training_run(facts, snapshot)
    if run is None:
        return CheckOutcome.failed(problem)
    evidence = {"run_id": run.run_id, "params": dict(list(run.params.items())[:30])}
    named = _described(run, facts)
    missing = [name for name in params.params if name not in run.params]
    if missing:
        return CheckOutcome.failed(f"{named} lacks params {missing}", **evidence)
    if len(run.params) < params.min_params:
        return CheckOutcome.failed(f"{named} logged {len(run.params)} params, "
                                   f"{params.min_params} expected", **evidence)
    return CheckOutcome.passed(f"{named} logged {len(run.params)} params", **evidence)


def _metrics(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    run, problem = _training_run(facts, snapshot)
    if run is None:
        return CheckOutcome.failed(problem)
    evidence = {"run_id": run.run_id, "metrics": run.metrics}
    named = _described(run, facts)
    missing = [name for name in params.metrics if name not in run.metrics]
    if missing:
        logged = ", ".join(sorted(run.metrics)[:8]) or "none"
        return CheckOutcome.failed(f"{named} lacks metrics {missing} (it logged: {logged})", **evidence)
    return CheckOutcome.passed(f"{named} logged {', '.join(params.metrics) or 'its metrics'}", **evidence)


def _registered(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    versions = snapshot.versions_of(facts.model_name, facts.started_at_ms)
    names = sorted({v.name for v in snapshot.versions})
    if not versions:
        return CheckOutcome.failed(_nothing_registered(facts.model_name, names), registered_models=names)
    latest = versions[-1]
    return CheckOutcome.passed(f"{facts.model_name!r} version {latest.version} registered",
                               versions=[v.version for v in versions], run_id=latest.run_id, source=latest.source)


def _nothing_registered(model: str, registered: list[str]) -> str:
    """Why no version of ``model`` counts: nothing was registered at all, or under other names."""
    if not registered:
        return (f"no model was registered in the MLflow registry during grading (the grader looked for {model!r}): "
                "register the trained model, e.g. mlflow.register_model or log_model(registered_model_name=...)")
    shown = ", ".join(repr(name) for name in registered[:5])
    return (f"no version of {model!r} was registered; the registry holds {shown}: name the model you register in "
            "capstone.yaml (model.name)")


def _signature(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    evaluation = facts.model_evaluation()
    version = evaluation.version
    label = f"{facts.model_name!r} version {version.version if version else '?'}"
    if evaluation.signature and evaluation.signature.get("inputs"):
        return CheckOutcome.passed(f"{label} has an input signature", signature=evaluation.signature)
    if evaluation.signature is None and evaluation.load_error and version is None:
        return CheckOutcome.failed(evaluation.load_error)
    return CheckOutcome.failed(f"{label} was logged without a signature", signature=evaluation.signature)


def _lineage(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    version = facts.served_version()
    if version is None:
        return CheckOutcome.failed(f"no version of {facts.model_name!r} to trace")
    run = snapshot.run(version.run_id) if version.run_id else None
    evidence = {"version": version.version, "run_id": version.run_id, "source": version.source}
    if run is None:
        return CheckOutcome.failed(f"version {version.version} names no run of this server", **evidence)
    if run.start_time_ms < facts.started_at_ms - 5000:
        return CheckOutcome.failed(f"version {version.version} comes from a run older than this grading", **evidence)
    return CheckOutcome.passed(f"version {version.version} was trained by run {run.run_id}", **evidence)


def _alias(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    model = facts.manifest.model
    versions = snapshot.versions_of(facts.model_name, facts.started_at_ms)
    if not versions:
        return CheckOutcome.failed(f"no version of {facts.model_name!r} to point at")
    newest = versions[-1]
    aliases = snapshot.aliases.get(facts.model_name, {})
    evidence: dict[str, Any] = {"aliases": aliases, "stages": {v.version: v.stage for v in versions},
                                "newest_version": newest.version}
    if model.alias:
        target = aliases.get(model.alias)
        if target == newest.version:
            return CheckOutcome.passed(f"alias {model.alias!r} → version {target}", **evidence)
        if target is None and not model.stage:
            return CheckOutcome.failed(f"alias {model.alias!r} is not set on {facts.model_name!r}", **evidence)
        if target is not None:
            return CheckOutcome.failed(f"alias {model.alias!r} → version {target}, not the newest "
                                       f"({newest.version})", **evidence)
    if model.stage:
        if newest.stage.lower() == model.stage.lower():
            return CheckOutcome.passed(f"version {newest.version} is in stage {newest.stage}", **evidence)
        return CheckOutcome.failed(f"version {newest.version} is in stage {newest.stage}, "
                                   f"not {model.stage}", **evidence)
    return CheckOutcome.failed("the manifest names neither model.alias nor model.stage", **evidence)


def _metric_matches(params: Params, facts: Facts, snapshot: MlflowSnapshot) -> CheckOutcome:
    run, problem = _training_run(facts, snapshot)
    if run is None:
        return CheckOutcome.failed(problem)
    if params.metric not in run.metrics:
        return CheckOutcome.failed(f"{_described(run, facts)} logged no {params.metric!r} to verify")
    claimed = run.metrics[params.metric]
    evaluation = facts.model_evaluation()
    predictions = evaluation.predictions.get(params.dataset)
    if predictions is None:
        why = evaluation.errors.get(params.dataset) or evaluation.load_error or "no predictions"
        return CheckOutcome.failed(f"the registered model could not be evaluated: {why}", claimed=claimed)
    actual = facts.labels(params.dataset)
    if len(predictions) != len(actual):
        return CheckOutcome.failed(f"the model returned {len(predictions)} predictions for {len(actual)} rows",
                                   claimed=claimed)
    classes = facts.classes()
    measured = METRICS[params.score]([normalise(p, classes) for p in predictions], actual)
    evidence = {"metric": params.metric, "claimed": claimed, "measured": round(measured, 4),
                "dataset": params.dataset, "run_id": run.run_id,
                "model_version": evaluation.version.version if evaluation.version else None}
    if abs(claimed - measured) <= params.tolerance:
        return CheckOutcome.passed(f"{params.metric}: claimed {claimed:.4f}, measured {measured:.4f}", **evidence)
    return CheckOutcome.failed(f"{params.metric}: claimed {claimed:.4f} but the registered model scores "
                               f"{measured:.4f} on {params.dataset} (tolerance {params.tolerance})", **evidence)


HANDLERS = {
    "run": _run, "params": _params, "metrics": _metrics, "registered": _registered, "signature": _signature,
    "lineage": _lineage, "alias": _alias, "metric-matches": _metric_matches,
}

CHECK = CheckType(name="mlflow", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
