"""Training shared by the first training and the retraining: fit, log, register."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from monitor.drift import ReferenceStats
from monitor.features import load_split

EXPERIMENT = os.environ.get("MLFLOW_EXPERIMENT_NAME", "fault-classifier")
PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 1000}
REFERENCE_ARTIFACT = "drift/reference.json"
MODEL_REQUIREMENTS = ["mlflow==3.17.2", "scikit-learn==1.9.1", "pandas==3.1.1", "numpy==2.4.6"]


@dataclass(frozen=True)
class Trained:
    run_id: str
    version: str
    val_accuracy: float


def model_name() -> str:
    return os.environ.get("MODEL_NAME", "fault-classifier")


def model_alias() -> str:
    return os.environ.get("MODEL_ALIAS", "champion")


def build_pipeline() -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(**PARAMS))])


def train_and_register(data_dir: str, run_name: str) -> Trained:
    """Fit on ``<data_dir>/train.csv``, log params, val accuracy and the drift reference, register."""
    x_train, y_train = load_split(data_dir, "train")
    x_valid, y_valid = load_split(data_dir, "valid")
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params({**PARAMS, "data_dir": data_dir, "n_train": len(x_train)})
        model = build_pipeline().fit(x_train, y_train)
        val_accuracy = float(model.score(x_valid, y_valid))
        mlflow.log_metric("val_accuracy", val_accuracy)
        mlflow.log_dict(ReferenceStats.of(x_train).to_dict(), REFERENCE_ARTIFACT)
        # Requirements spelled out: MLflow would otherwise infer them in a subprocess that imports the model.
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=MODEL_REQUIREMENTS,
                                        signature=infer_signature(x_valid, model.predict(x_valid)),
                                        registered_model_name=model_name())
    return Trained(run.info.run_id, str(info.registered_model_version), val_accuracy)


def promote(version: str) -> None:
    MlflowClient().set_registered_model_alias(model_name(), model_alias(), version)
