"""Train the fault classifier, track it in MLflow, register it and point the serving alias at it.

Environment: MLFLOW_TRACKING_URI (the tracking server), DATA_DIR (train.csv and valid.csv, default
./data), MODEL_NAME, MODEL_ALIAS (or MODEL_STAGE) and optionally MLFLOW_EXPERIMENT_NAME.
"""

from __future__ import annotations

import os
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

from capstone.features import load_split
from capstone.registry import ModelRef, promote

EXPERIMENT = os.environ.get("MLFLOW_EXPERIMENT_NAME", "fault-classifier")
PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 1000, "random_state": 42}


def build_pipeline(params: dict[str, Any] = PARAMS) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(**params))])


def accuracy(model: Any, features: pd.DataFrame, labels: pd.Series) -> float:
    return float(accuracy_score(labels, model.predict(features)))


def main() -> None:
    ref = ModelRef.from_env()
    data_dir = os.environ.get("DATA_DIR", "data")
    x_train, y_train = load_split(data_dir, "train")
    x_valid, y_valid = load_split(data_dir, "valid")

    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name="logreg") as run:
        mlflow.log_params(PARAMS)
        mlflow.log_param("n_train", len(x_train))
        model = build_pipeline().fit(x_train, y_train)
        metrics = {
            "train_accuracy": accuracy(model, x_train, y_train),
            "val_accuracy": accuracy(model, x_valid, y_valid),
        }
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x_valid, model.predict(x_valid)),
            input_example=x_valid.head(3),
            registered_model_name=ref.name,
        )
    version = info.registered_model_version
    done = promote(MlflowClient(), ref, version)
    print(f"run {run.info.run_id}: val_accuracy={metrics['val_accuracy']:.4f}; {done}")


if __name__ == "__main__":
    main()
