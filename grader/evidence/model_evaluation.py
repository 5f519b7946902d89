"""The model evaluation collector: registered models loaded in an untrusted container that sees features only.

The evaluator container starts early (its imports are slow) and waits for an order file naming the models
to load; the grader writes the order once it knows them. One container scores every model of one order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.evidence.labels import write_features, write_rows
from grader.evidence.mlflow_snapshot import ModelVersion
from grader.evidence.run_data import RunData
from grader.evidence.served_task import ServedTask
from grader.probe import PLAN_MOUNT

GO_FILE = "go.json"
EVALUATOR = "evaluator"
RETRAINED_EVALUATOR = "evaluator-retrained"
REGISTERED_KEY = "registered"
RUN_KEY_PREFIX = "run:"
Submit = Callable[[Callable[[], Any]], "Future[Any]"]


@dataclass(frozen=True)
class ModelEvaluation:
    """Predictions of one model on each named data set (features only were sent), or why there are none."""

    version: ModelVersion | None
    signature: dict[str, Any] | None = None
    run_id: str | None = None
    predictions: Mapping[str, list[Any]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    load_error: str | None = None


@dataclass(frozen=True)
class ModelToEvaluate:
    """A model the evaluator should load: its MLflow URI, and its registered version when it has one."""

    uri: str
    version: ModelVersion | None = None


class ModelEvaluator:
    """One evaluator container: started ahead of time, then told which models to load (or to stop waiting)."""

    def __init__(self, data: RunData, folder_name: str = EVALUATOR) -> None:
        self.data = data
        self.folder_name = folder_name
        # The manifest's task, whose rows the evaluator scores too. Set before the container starts: the
        # evaluator's thread must not wait on the evidence lock another thread holds while it waits for it.
        self.declared_task: ServedTask | None = None
        self._lock = threading.Lock()
        self._pending: Future[Any] | None = None

    def start(self, submit: Submit) -> None:
        """Start the container now; it imports its libraries, then waits for its order."""
        with self._lock:
            if self._pending is None:
                self._pending = submit(self.run)

    def run(self) -> list[dict[str, Any]]:
        """Run the container and return its lines (it waits for the order file)."""
        folder = self._folder()
        arguments = ["--wait", f"{PLAN_MOUNT}/{GO_FILE}"]
        lab = self.data.lab
        for name in ("valid", *lab.lab.hidden):
            source = lab.lab.dataset_path(name)
            if source is None or lab.lab.task is None:
                continue
            write_features(lab.data_path(source), self.data.task.features, folder / f"{name}.csv")
            arguments.append(f"{name}={PLAN_MOUNT}/{name}.csv")
        task = self.declared_task
        if task is not None:
            write_rows(task.features, task.rows, folder / f"{task.dataset}.csv")
            arguments.append(f"{task.dataset}={PLAN_MOUNT}/{task.dataset}.csv")
        return self.data.run_probe("evaluate_model", None, arguments, folder)

    def cancel(self) -> None:
        """Release a waiting container with nothing to load."""
        self._tell({"cancel": True})

    def evaluate(self, models: Mapping[str, ModelToEvaluate]) -> dict[str, ModelEvaluation]:
        """Each model's evaluation, by key; the container is started here when it was not started early."""
        if not models:
            self.cancel()
            return {}
        self._tell({"models": {key: model.uri for key, model in models.items()}})
        with self._lock:
            pending = self._pending
        lines = pending.result() if pending is not None else self.run()
        return {key: evaluation_from_lines(model.version, [line for line in lines if line.get("key") == key])
                for key, model in models.items()}

    def _folder(self) -> Path:
        folder = self.data.scratch / self.folder_name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _tell(self, order: dict[str, Any]) -> None:
        folder = self._folder()
        staging = folder / f".{GO_FILE}.tmp"
        staging.write_text(json.dumps(order))
        staging.replace(folder / GO_FILE)  # atomic: the evaluator never reads half a file


def evaluation_from_lines(version: ModelVersion | None, lines: list[dict[str, Any]]) -> ModelEvaluation:
    """One model's evaluation from the evaluator's lines about it (its info line, then its result line)."""
    info = next((line for line in lines if line.get("stage") == "info"), {})
    final: dict[str, Any] = next(
        (line for line in reversed(lines) if "predictions" in line or "load_error" in line), {}
    )
    predictions: dict[str, list[Any]] = {}
    errors: dict[str, str] = {}
    for name, output in (final.get("predictions") or {}).items():
        if isinstance(output, dict):
            errors[name] = str(output.get("error"))
        else:
            predictions[name] = output
    return ModelEvaluation(version=version, signature=info.get("signature"), run_id=info.get("run_id"),
                           predictions=predictions, errors=errors,
                           load_error=final.get("load_error") or (None if final else "the evaluator reported nothing"))
