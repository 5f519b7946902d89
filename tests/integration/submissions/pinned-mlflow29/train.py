"""An MLflow 2.9 client against the grader's tracking server: log a run, register the model, set the alias and move
the version to a stage (the registry API of its time), then read them back."""

import os

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score

FEATURES = ["temperature", "vibration", "pressure", "humidity", "rpm", "voltage"]
NAME = os.environ.get("MODEL_NAME", "fault-classifier")
ALIAS = os.environ.get("MODEL_ALIAS", "champion")
DATA = os.environ.get("DATA_DIR", "data")

train = pd.read_csv(f"{DATA}/train.csv")
valid = pd.read_csv(f"{DATA}/valid.csv")
params = {"n_estimators": 30, "max_depth": 6, "random_state": 0}
with mlflow.start_run():
    mlflow.log_params(params)
    model = RandomForestClassifier(**params).fit(train[FEATURES], train["fault"])
    mlflow.log_metric("val_accuracy", accuracy_score(valid["fault"], model.predict(valid[FEATURES])))
    info = mlflow.sklearn.log_model(model, "model", registered_model_name=NAME)
client = MlflowClient()
version = client.get_latest_versions(NAME, stages=["None"])[0].version
client.set_registered_model_alias(NAME, ALIAS, version)
client.transition_model_version_stage(NAME, version, "Production")
seen = client.get_model_version(NAME, version)
print(f"mlflow {mlflow.__version__}: {NAME} v{version} @{client.get_model_version_by_alias(NAME, ALIAS).version} "
      f"stage {seen.current_stage}")
