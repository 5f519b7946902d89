"""Train a logistic regression and track it in the repository's own file store (./mlruns), whatever the
environment says."""

import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

FEATURES = ["temperature", "vibration", "pressure", "humidity", "rpm", "voltage"]
DATA = os.environ.get("DATA_DIR", "data")

mlflow.set_tracking_uri("file:./mlruns")  # hard-coded: MLFLOW_TRACKING_URI is ignored
mlflow.set_experiment("fault-detection")

train = pd.read_csv(f"{DATA}/train.csv")
valid = pd.read_csv(f"{DATA}/valid.csv")
params = {"C": 0.5, "max_iter": 500}
with mlflow.start_run(run_name="logreg"):
    mlflow.log_params(params)
    model = LogisticRegression(**params).fit(train[FEATURES], train["fault"])
    mlflow.log_metric("val_accuracy", accuracy_score(valid["fault"], model.predict(valid[FEATURES])))
    mlflow.sklearn.log_model(model, name="model", registered_model_name="fault-classifier")
print("tracked in file:./mlruns")
