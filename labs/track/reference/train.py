"""Sweep the regularisation of a logistic regression, track every run in MLflow and tag the best one.

Environment: MLFLOW_TRACKING_URI (the tracking server), MLFLOW_EXPERIMENT_NAME (the sweep's experiment),
BEST_TAG (the tag that marks the chosen run), MODEL_ARTIFACT (name of each run's logged model) and
DATA_DIR (train.csv and valid.csv, default ./data).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["temperature", "vibration", "pressure", "humidity", "rpm", "voltage"]
LABEL = "fault"
GRID: list[dict[str, Any]] = [{"C": c, "max_iter": 1000} for c in (1.0, 0.1, 0.01, 0.001)]


@dataclass(frozen=True)
class RunResult:
    run_id: str
    params: dict[str, Any]
    val_accuracy: float


def load_split(data_dir: str | Path, name: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(Path(data_dir) / f"{name}.csv")
    return frame[FEATURES].astype("float64"), frame[LABEL].astype(str)


def build_model(params: dict[str, Any]) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(**params))])


def pick_best(results: list[RunResult]) -> RunResult:
    """The run with the highest validation accuracy (the first of equals)."""
    return max(results, key=lambda result: result.val_accuracy)


def train_one(params: dict[str, Any], data: tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series],
              artifact: str) -> RunResult:
    x_train, y_train, x_valid, y_valid = data
    with mlflow.start_run(run_name=f"logreg-C{params['C']}") as run:
        mlflow.log_params(params)
        model = build_model(params).fit(x_train, y_train)
        val_accuracy = float(accuracy_score(y_valid, model.predict(x_valid)))
        mlflow.log_metric("val_accuracy", val_accuracy)
        mlflow.sklearn.log_model(model, name=artifact, signature=infer_signature(x_valid, model.predict(x_valid)))
    return RunResult(run.info.run_id, params, val_accuracy)


def main() -> None:
    data_dir = os.environ.get("DATA_DIR", "data")
    best_tag = os.environ.get("BEST_TAG", "best")
    artifact = os.environ.get("MODEL_ARTIFACT", "model")
    data = (*load_split(data_dir, "train"), *load_split(data_dir, "valid"))
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or "fault-sweep")
    results = [train_one(params, data, artifact) for params in GRID]
    best = pick_best(results)
    MlflowClient().set_tag(best.run_id, best_tag, "true")
    for result in results:
        print(f"run {result.run_id} {result.params}: val_accuracy={result.val_accuracy:.4f}")
    print(f"best: run {best.run_id} (C={best.params['C']})")


if __name__ == "__main__":
    main()
