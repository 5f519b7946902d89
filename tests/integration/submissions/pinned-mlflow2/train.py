"""Train a random forest, log it the MLflow 2.x way (artifact path as the second argument), register it and
point the alias at the new version."""

import os

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score

FEATURES = ["temperature", "vibration", "pressure", "humidity", "rpm", "voltage"]
NAME = os.environ.get("MODEL_NAME", "fault-classifier")
ALIAS = os.environ.get("MODEL_ALIAS", "champion")
DATA = os.environ.get("DATA_DIR", "data")

train = pd.read_csv(f"{DATA}/train.csv")
valid = pd.read_csv(f"{DATA}/valid.csv")
params = {"n_estimators": 50, "max_depth": 8, "random_state": 42}

mlflow.set_experiment("fault-classifier")
with mlflow.start_run(run_name="random-forest"):
    mlflow.log_params(params)
    model = RandomForestClassifier(**params).fit(train[FEATURES], train["fault"])
    val_accuracy = accuracy_score(valid["fault"], model.predict(valid[FEATURES]))
    mlflow.log_metrics({"val_accuracy": val_accuracy, "train_accuracy": model.score(train[FEATURES], train["fault"])})
    info = mlflow.sklearn.log_model(model, "model", registered_model_name=NAME,
                                    signature=infer_signature(valid[FEATURES], model.predict(valid[FEATURES])))
version = info.registered_model_version
MlflowClient().set_registered_model_alias(NAME, ALIAS, version)
print(f"mlflow {mlflow.__version__}: registered {NAME} v{version} as @{ALIAS}, val_accuracy={val_accuracy:.3f}")
