"""Evidence about a capstone run, gathered once on first use and shared by every check that needs it.

Three collectors, each one sandbox container: the MLflow snapshot (trusted probe), the model
evaluation (the registered model loaded in an untrusted container that sees features only), and
the serving observations (trusted probe: parity, malformed input, load, and metrics scraped around
a window of known requests). Judging is left to the check types.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.errors import InfrastructureError
from grader.evidence.drift import DriftPlan, drift_actions
from grader.evidence.labels import read_table, write_features
from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion
from grader.evidence.promotion import DrillPlan, DrillResult, Sentinel, register_sentinel, run_drill
from grader.evidence.retraining import RETRAINED_EVALUATOR, Retraining, registered_between
from grader.evidence.serving import ServingPlan, encode_row, malformed_bodies, probe_actions
from grader.evidence.sweep import sweep_runs
from grader.labs.loading import LoadedLab
from grader.labs.manifest import SubmissionManifest
from grader.models import ServiceResult
from grader.probe import PLAN_MOUNT

ProbeRunner = Callable[[str, dict[str, Any] | None, list[str], Path | None], list[dict[str, Any]]]
MODEL_SERVER = "model-server"
GO_FILE = "go.json"
EVALUATOR = "evaluator"
TRACKING_SERVICE = "mlflow"
REGISTERED_KEY = "registered"
RUN_KEY_PREFIX = "run:"
SWEEP_CHECK_TYPE = "sweep"
PROMOTION_CHECK_TYPE = "promotion"
DRIFT_CHECK_TYPE = "drift"
RETRAIN_CHECK_TYPE = "retrain"


@dataclass
class ModelEvaluation:
    """Predictions of the served registered version on each named data set (features only were sent)."""

    version: ModelVersion | None
    signature: dict[str, Any] | None = None
    run_id: str | None = None
    predictions: dict[str, list[Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    load_error: str | None = None


@dataclass
class Facts:
    """Lazily collected, cached evidence for one run."""

    lab: LoadedLab
    manifest: SubmissionManifest
    started_at_ms: int
    services: Mapping[str, ServiceResult]
    run_probe: ProbeRunner
    scratch: Path
    restart_model_server: Callable[[], ServiceResult] | None = None  # for serve.reload: restart
    _cache: dict[str, Any] = field(default_factory=dict)

    _lock: threading.RLock = field(default_factory=threading.RLock)
    _evaluator: Future[Any] | None = None
    _retrained_evaluator: Future[Any] | None = None

    def _once(self, key: str, collect: Callable[[], Any]) -> Any:
        with self._lock:  # the prefetch thread and the checks may ask at the same time
            if key not in self._cache:
                try:
                    self._cache[key] = collect()
                except InfrastructureError as exc:
                    self._cache[key] = exc
            value = self._cache[key]
        if isinstance(value, InfrastructureError):
            raise value
        return value

    def applies(self) -> bool:
        """Whether this lab runs a capstone pipeline these collectors can observe."""
        return self.lab.lab.task is not None and any(s.id == TRACKING_SERVICE for s in self.lab.lab.services)

    def prefetch(self) -> None:
        """Gather the registry snapshot and the model evaluation ahead of the checks (errors stay cached)."""
        with contextlib.suppress(InfrastructureError):
            self.model_evaluation()
        if self._rubric_uses(PROMOTION_CHECK_TYPE):
            with contextlib.suppress(InfrastructureError):
                self.sentinel()

    # --- names and data ------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self.manifest.model.name

    def tracking_url(self) -> str:
        service = next((s for s in self.lab.lab.services if s.id == TRACKING_SERVICE), None)
        if service is None:
            raise InfrastructureError(f"lab {self.lab.lab.id!r} has no {TRACKING_SERVICE!r} service")
        return f"http://{TRACKING_SERVICE}:{service.port}"

    def dataset(self, name: str) -> tuple[list[str], list[dict[str, str]]]:
        source = self.lab.lab.dataset_path(name)
        if source is None:
            raise InfrastructureError(f"lab {self.lab.lab.id!r} has no data set {name!r}")
        return read_table(self.lab.data_path(source))

    def labels(self, name: str) -> list[str]:
        task = self._task()
        return [row[task.label] for row in self.dataset(name)[1]]

    def feature_rows(self, name: str) -> list[list[float]]:
        task = self._task()
        return [[float(row[f]) for f in task.features] for row in self.dataset(name)[1]]

    def classes(self) -> list[str]:
        return sorted(set(self.labels("train")))

    def _task(self) -> Any:
        if self.lab.lab.task is None:
            raise InfrastructureError(f"lab {self.lab.lab.id!r} declares no task (label and features)")
        return self.lab.lab.task

    # --- collectors ----------------------------------------------------------------------------

    def mlflow(self) -> MlflowSnapshot:
        """The registry as the checks see it (in a lab with late steps: as it was before them)."""
        return self._once("mlflow", self._read_registry)

    def _read_registry(self) -> MlflowSnapshot:
        plan = {"actions": [{"label": "mlflow", "do": "mlflow", "url": self.tracking_url()}], "timeout": 20}
        result = self.run_probe("agent", plan, [], None)[-1]
        return MlflowSnapshot.from_probe(result["mlflow"])

    def served_version(self) -> ModelVersion | None:
        model = self.manifest.model
        return self.mlflow().served_version(self.model_name, model.alias, model.stage, self.started_at_ms)

    def model_evaluation(self) -> ModelEvaluation:
        """The served registered version's predictions (or why there are none)."""
        def collect() -> ModelEvaluation:
            found = self._model_evaluations().get(REGISTERED_KEY)
            if found is not None:
                return found
            return ModelEvaluation(version=None,
                                   load_error=f"no version of {self.model_name!r} was registered during grading")

        return self._once("model", collect)

    def run_evaluations(self) -> dict[str, ModelEvaluation]:
        """Predictions of each sweep run's logged model, by run id (see ``grader.evidence.sweep``)."""
        evaluations = self._model_evaluations()
        return {key[len(RUN_KEY_PREFIX):]: value for key, value in evaluations.items()
                if key.startswith(RUN_KEY_PREFIX)}

    def _model_evaluations(self) -> dict[str, ModelEvaluation]:
        return self._once("models", self._evaluate_models)

    def start_evaluator(self, submit: Callable[[Callable[[], Any]], Future[Any]]) -> None:
        """Start the model evaluator ahead of time (e.g. while training runs): it imports its libraries,
        then waits until ``_evaluate_model`` tells it which registered version to load."""
        with self._lock:
            if self._evaluator is None:
                self._evaluator = submit(self._run_evaluator)

    def _run_evaluator(self, folder_name: str = EVALUATOR) -> list[dict[str, Any]]:
        folder = self._evaluator_folder(folder_name)
        arguments = ["--wait", f"{PLAN_MOUNT}/{GO_FILE}"]
        task = self._task()
        for name in ("valid", *self.lab.lab.hidden):
            source = self.lab.lab.dataset_path(name)
            if source is None:
                continue
            write_features(self.lab.data_path(source), task.features, folder / f"{name}.csv")
            arguments.append(f"{name}={PLAN_MOUNT}/{name}.csv")
        return self.run_probe("evaluate_model", None, arguments, folder)

    def _evaluator_folder(self, folder_name: str = EVALUATOR) -> Path:
        folder = self.scratch / folder_name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _tell_evaluator(self, order: dict[str, Any], folder_name: str = EVALUATOR) -> None:
        folder = self._evaluator_folder(folder_name)
        staging = folder / f".{GO_FILE}.tmp"
        staging.write_text(json.dumps(order))
        staging.replace(folder / GO_FILE)  # atomic: the evaluator never reads half a file

    def _models_to_evaluate(self) -> dict[str, tuple[str, ModelVersion | None]]:
        """Every model the rubric scores, by key: the served registered version, and each sweep run's model
        when the rubric has ``sweep`` checks. One evaluator container loads them all."""
        models: dict[str, tuple[str, ModelVersion | None]] = {}
        version = self.served_version()
        if version is not None:
            models[REGISTERED_KEY] = (f"models:/{version.name}/{version.version}", version)
        if self._rubric_uses(SWEEP_CHECK_TYPE):
            tracking = self.manifest.tracking
            for run in sweep_runs(self.mlflow(), self.started_at_ms, tracking.experiment, self._sweep_metric()):
                models[RUN_KEY_PREFIX + run.run_id] = (f"runs:/{run.run_id}/{tracking.model_artifact}", None)
        return models

    def _sweep_metric(self) -> str:
        metrics = {getattr(self.lab.rubric.params[c.id], "metric", None)
                   for c in self.lab.rubric.rubric.checks if c.type == SWEEP_CHECK_TYPE}
        return next((m for m in sorted(m for m in metrics if m)), "val_accuracy")

    def _evaluate_models(self) -> dict[str, ModelEvaluation]:
        models = self._models_to_evaluate()
        if not models:
            self._tell_evaluator({"cancel": True})
            return {}
        self._tell_evaluator({"models": {key: uri for key, (uri, _) in models.items()}})
        with self._lock:
            pending = self._evaluator
        lines = pending.result() if pending is not None else self._run_evaluator()
        return {key: _evaluation_from_lines(version, [line for line in lines if line.get("key") == key])
                for key, (_, version) in models.items()}

    def serving_plan(self) -> ServingPlan:
        plan = ServingPlan()
        for check in self.lab.rubric.rubric.checks:
            params: Any = self.lab.rubric.params[check.id]
            require = getattr(params, "require", None)
            if check.type == "http" and require in ("parity", "accuracy"):
                plan = replace(plan, parity_rows=max(plan.parity_rows, params.rows))
            elif check.type == "http" and require == "malformed":
                plan = replace(plan, malformed=True)
            elif check.type == "http" and require == "load":
                plan = replace(plan, load_requests=params.requests, load_concurrency=params.concurrency)
            elif check.type == "prometheus" and require in ("counter", "histogram"):
                plan = replace(plan, counter_requests=max(plan.counter_requests, params.requests))
        return plan

    def serving(self) -> dict[str, Any]:
        def collect() -> dict[str, Any]:
            serve, metrics = self.manifest.serve, self.manifest.metrics
            predict_url = f"http://{MODEL_SERVER}:{serve.port}{serve.predict_path}"
            metrics_url = f"http://{MODEL_SERVER}:{self.manifest.metrics_port}{metrics.path}"
            rows = self.feature_rows(next(iter(self.lab.lab.hidden), "valid"))
            features = self._task().features
            bodies = [encode_row(serve.request_format, features, row) for row in rows]
            malformed = malformed_bodies(serve.request_format, features, rows[0])
            actions = probe_actions(self.serving_plan(), predict_url, metrics_url, bodies, malformed)
            result = self.run_probe("agent", {"actions": actions, "timeout": 10}, [], None)[-1]
            return {"results": result, "bodies": bodies, "malformed": malformed, "predict_url": predict_url,
                    "metrics_url": metrics_url}

        return self._once("serving", collect)

    def promotion_drill(self) -> DrillResult:
        """The grader moves the serving alias to its sentinel version and back (see ``grader.evidence.promotion``)."""
        return self._once("promotion", self._run_promotion_drill)

    def sentinel(self) -> Sentinel:
        """The grader's sentinel version of the served model, registered once the registry snapshot is taken."""
        def collect() -> Sentinel:
            self.mlflow()  # the checks' view of the registry must not hold the sentinel
            token = f"grader-sentinel-{secrets.token_hex(4)}"
            return register_sentinel(self.run_probe, self.model_name, list(self._task().features), token)

        return self._once("sentinel", collect)

    def _run_promotion_drill(self) -> DrillResult:
        self.model_evaluation()  # the candidate's version is measured before the alias moves
        model, serve = self.manifest.model, self.manifest.serve
        if not model.alias:
            return DrillResult(plan=None, problem="the manifest names no model.alias: the drill moves an alias")
        current = self.mlflow().aliases.get(model.name, {}).get(model.alias)
        if not current:
            return DrillResult(plan=None, problem=f"alias {model.alias!r} is not set on {model.name!r}: "
                                                  "there is no serving version to promote from")
        rows = max((getattr(self.lab.rubric.params[c.id], "rows", 0) for c in self.lab.rubric.rubric.checks
                    if c.type == PROMOTION_CHECK_TYPE), default=10)
        features = list(self._task().features)
        bodies = [encode_row(serve.request_format, features, row)
                  for row in self.feature_rows(next(iter(self.lab.lab.hidden), "valid"))[:rows]]
        sentinel = self.sentinel()
        plan = DrillPlan(tracking_url=self.tracking_url(),
                         predict_url=f"http://{MODEL_SERVER}:{serve.port}{serve.predict_path}", model=model.name,
                         alias=model.alias, original_version=current, features=features, bodies=bodies,
                         policy=serve.reload, reload_within=serve.reload_within,
                         token=sentinel.token, sentinel_version=sentinel.version)
        return run_drill(plan, self.run_probe, self.restart_model_server)

    # --- late steps (e.g. retraining): what is observed before they run, and after -------------

    def _rubric_uses(self, check_type: str) -> bool:
        return any(check.type == check_type for check in self.lab.rubric.rubric.checks)

    def observe_before_late_steps(self, submit: Callable[[Callable[[], Any]], Future[Any]]) -> None:
        """Observe what the late steps may change: the drift signal under the grader's traffic, the registry
        and the served version. A second model evaluator starts first (its imports overlap all this and the
        late steps), for the version they will register."""
        if self._rubric_uses(RETRAIN_CHECK_TYPE):
            with self._lock:
                if self._retrained_evaluator is None:
                    self._retrained_evaluator = submit(lambda: self._run_evaluator(RETRAINED_EVALUATOR))
        with contextlib.suppress(InfrastructureError):
            if self._rubric_uses(DRIFT_CHECK_TYPE):
                self.drift()
            if self._rubric_uses(RETRAIN_CHECK_TYPE):
                self.model_evaluation()

    def observe_after_late_steps(self) -> None:
        """Score what the late steps registered now, which also releases the waiting evaluator."""
        if self._rubric_uses(RETRAIN_CHECK_TYPE):
            with contextlib.suppress(InfrastructureError):
                self.retraining()

    def drift_plan(self) -> DriftPlan:
        """One observation serves every ``drift`` check: the most requests any asks for, the first's data sets."""
        params = [self.lab.rubric.params[c.id] for c in self.lab.rubric.rubric.checks if c.type == DRIFT_CHECK_TYPE]
        first: Any = params[0] if params else None
        return DriftPlan.varied(requests=max((getattr(p, "requests", 0) for p in params), default=100),
                                baseline=getattr(first, "baseline", "holdout"),
                                shifted=getattr(first, "shifted", "shifted"), seed=self.started_at_ms)

    def drift(self) -> dict[str, Any]:
        """The drift signal read before any traffic, after in-distribution rows and after shifted rows."""
        def collect() -> dict[str, Any]:
            server = self.services.get(MODEL_SERVER)
            if server is None or not server.ready:
                return {"results": {}, "not_serving": f"{MODEL_SERVER} is not serving"}
            serve, signal, plan = self.manifest.serve, self.manifest.drift, self.drift_plan()
            predict_url = f"http://{MODEL_SERVER}:{serve.port}{serve.predict_path}"
            signal_url = (f"http://{MODEL_SERVER}:{serve.port}{signal.endpoint}" if signal.endpoint
                          else f"http://{MODEL_SERVER}:{self.manifest.metrics_port}{self.manifest.metrics.path}")
            features = self._task().features
            bodies = {name: [encode_row(serve.request_format, features, row) for row in self.feature_rows(name)]
                      for name in (plan.baseline, plan.shifted)}
            actions = drift_actions(plan, predict_url, signal_url, bodies[plan.baseline], bodies[plan.shifted])
            result = self.run_probe("agent", {"actions": actions, "timeout": 10}, [], None)[-1]
            return {"results": result, "signal_url": signal_url, "plan": plan}

        return self._once("drift", collect)

    def retraining(self) -> Retraining:
        """The served version before the late steps and the newest version they registered, both scored."""
        def collect() -> Retraining:
            try:
                return self._collect_retraining()
            except InfrastructureError:
                self._tell_evaluator({"cancel": True}, RETRAINED_EVALUATOR)  # never leave it waiting
                raise

        return self._once("retraining", collect)

    def _collect_retraining(self) -> Retraining:
        before, after = self.mlflow(), self._read_registry()
        for moment, snapshot in (("before", before), ("after", after)):
            if snapshot.error:
                raise InfrastructureError(f"the registry could not be read {moment} the late steps: {snapshot.error}")
        previous = self.model_evaluation()
        registered = registered_between(before, after, self.model_name)
        newest = registered[-1] if registered else None
        if newest is None:
            self._tell_evaluator({"cancel": True}, RETRAINED_EVALUATOR)
            retrained = ModelEvaluation(version=None, load_error=f"no new version of {self.model_name!r} was "
                                        "registered by the late steps")
        else:
            self._tell_evaluator({"models": {REGISTERED_KEY: f"models:/{newest.name}/{newest.version}"}},
                                 RETRAINED_EVALUATOR)
            with self._lock:
                pending = self._retrained_evaluator
            lines = pending.result() if pending is not None else self._run_evaluator(RETRAINED_EVALUATOR)
            retrained = _evaluation_from_lines(newest, [line for line in lines if line.get("key") == REGISTERED_KEY])
        return Retraining(previous=previous, retrained=retrained, registered=registered,
                          aliases_after=after.aliases.get(self.model_name, {}))


def _evaluation_from_lines(version: ModelVersion | None, lines: list[dict[str, Any]]) -> ModelEvaluation:
    """One model's evaluation from the evaluator's lines about it (its info line, then its result line)."""
    evaluation = ModelEvaluation(version=version)
    info = next((line for line in lines if line.get("stage") == "info"), {})
    final: dict[str, Any] = next(
        (line for line in reversed(lines) if "predictions" in line or "load_error" in line), {}
    )
    evaluation.signature = info.get("signature")
    evaluation.run_id = info.get("run_id")
    evaluation.load_error = final.get("load_error") or (None if final else "the evaluator reported nothing")
    for name, output in (final.get("predictions") or {}).items():
        if isinstance(output, dict):
            evaluation.errors[name] = str(output.get("error"))
        else:
            evaluation.predictions[name] = output
    return evaluation


def parse_probe_output(stdout: str, marker: str) -> list[dict[str, Any]]:
    """Every ``marker <json>`` line of a probe's output, in order; other lines are ignored."""
    found = []
    for line in stdout.splitlines():
        if line.startswith(marker):
            try:
                found.append(json.loads(line[len(marker):]))
            except ValueError:
                continue
    return found
