"""Evidence about a capstone run, gathered once on first use and shared by every check that needs it.

Three collectors, each one sandbox container: the MLflow snapshot (trusted probe), the model
evaluation (the registered model loaded in an untrusted container that sees features only), and
the serving observations (trusted probe: parity, malformed input, load, and metrics scraped around
a window of known requests). Judging is left to the check types.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.errors import InfrastructureError
from grader.evidence.labels import read_table, write_features
from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion
from grader.evidence.serving import ServingPlan, encode_row, malformed_bodies, probe_actions
from grader.labs import LoadedLab
from grader.manifest import SubmissionManifest
from grader.models import ServiceResult
from grader.probe import PLAN_MOUNT

ProbeRunner = Callable[[str, dict[str, Any] | None, list[str], Path | None], list[dict[str, Any]]]
MODEL_SERVER = "model-server"
GO_FILE = "go.json"
TRACKING_SERVICE = "mlflow"


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
    _cache: dict[str, Any] = field(default_factory=dict)

    _lock: threading.RLock = field(default_factory=threading.RLock)
    _evaluator: Future[Any] | None = None

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
        def collect() -> MlflowSnapshot:
            plan = {"actions": [{"label": "mlflow", "do": "mlflow", "url": self.tracking_url()}], "timeout": 20}
            result = self.run_probe("agent", plan, [], None)[-1]
            return MlflowSnapshot.from_probe(result["mlflow"])

        return self._once("mlflow", collect)

    def served_version(self) -> ModelVersion | None:
        model = self.manifest.model
        return self.mlflow().served_version(self.model_name, model.alias, model.stage, self.started_at_ms)

    def model_evaluation(self) -> ModelEvaluation:
        return self._once("model", self._evaluate_model)

    def start_evaluator(self, submit: Callable[[Callable[[], Any]], Future[Any]]) -> None:
        """Start the model evaluator ahead of time (e.g. while training runs): it imports its libraries,
        then waits until ``_evaluate_model`` tells it which registered version to load."""
        with self._lock:
            if self._evaluator is None:
                self._evaluator = submit(self._run_evaluator)

    def _run_evaluator(self) -> list[dict[str, Any]]:
        folder = self._evaluator_folder()
        arguments = ["--wait", f"{PLAN_MOUNT}/{GO_FILE}"]
        task = self._task()
        for name in ("valid", *self.lab.lab.hidden):
            source = self.lab.lab.dataset_path(name)
            if source is None:
                continue
            write_features(self.lab.data_path(source), task.features, folder / f"{name}.csv")
            arguments.append(f"{name}={PLAN_MOUNT}/{name}.csv")
        return self.run_probe("evaluate_model", None, arguments, folder)

    def _evaluator_folder(self) -> Path:
        folder = self.scratch / "evaluator"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _tell_evaluator(self, order: dict[str, Any]) -> None:
        folder = self._evaluator_folder()
        staging = folder / f".{GO_FILE}.tmp"
        staging.write_text(json.dumps(order))
        staging.replace(folder / GO_FILE)  # atomic: the evaluator never reads half a file

    def _evaluate_model(self) -> ModelEvaluation:
        version = self.served_version()
        evaluation = ModelEvaluation(version=version)
        if version is None:
            self._tell_evaluator({"cancel": True})
            evaluation.load_error = f"no version of {self.model_name!r} was registered during grading"
            return evaluation
        self._tell_evaluator({"model_uri": f"models:/{version.name}/{version.version}"})
        with self._lock:
            pending = self._evaluator
        lines = pending.result() if pending is not None else self._run_evaluator()
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

    def serving_plan(self) -> ServingPlan:
        plan = ServingPlan()
        for check in self.lab.rubric.rubric.checks:
            params: Any = self.lab.rubric.params[check.id]
            require = getattr(params, "require", None)
            if check.type == "http" and require == "parity":
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
