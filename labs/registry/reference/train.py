"""Train the fault classifier, register it and point the serving alias at the new version.

Environment: MLFLOW_TRACKING_URI, DATA_DIR (train.csv and valid.csv, default ./data), MODEL_NAME and
MODEL_ALIAS.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from follower import FEATURES

LABEL = "fault"
PARAMS = {"C": 1.0, "max_iter": 1000}


def load_split(data_dir: str | Path, name: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(Path(data_dir) / f"{name}.csv")
    return frame[list(FEATURES)].astype("float64"), frame[LABEL].astype(str)


def main() -> None:
    name = os.environ.get("MODEL_NAME", "fault-classifier")
    alias = os.environ.get("MODEL_ALIAS", "champion")
    data_dir = os.environ.get("DATA_DIR", "data")
    x_train, y_train = load_split(data_dir, "train")
    x_valid, y_valid = load_split(data_dir, "valid")
    mlflow.set_experiment("fault-classifier")
    with mlflow.start_run(run_name="logreg"):
        mlflow.log_params(PARAMS)
        model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(**PARAMS))]).fit(x_train, y_train)
        mlflow.log_metric("val_accuracy", float(accuracy_score(y_valid, model.predict(x_valid))))
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                        signature=infer_signature(x_valid, model.predict(x_valid)))
    version = info.registered_model_version
    MlflowClient().set_registered_model_alias(name, alias, str(version))
    print(f"{name} v{version} registered; alias {alias!r} -> v{version}")


if __name__ == "__main__":
    main()
