"""Trains on a scikit-learn data set, logs to MLflow, and registers the model or saves it to a file."""

import os

import joblib
import mlflow
import mlflow.sklearn
from sklearn import datasets
from sklearn.linear_model import LinearRegression, LogisticRegression

DATASET = os.environ.get("DATASET", "iris")
frame = getattr(datasets, f"load_{DATASET}")(as_frame=True).frame
X, y = frame.drop(columns="target").to_numpy(), frame["target"]
model = LogisticRegression(max_iter=500) if DATASET == "iris" else LinearRegression()
model.fit(X, y)

os.makedirs("models", exist_ok=True)
joblib.dump(model, "models/model.joblib")
with mlflow.start_run() as run:
    mlflow.log_param("model", type(model).__name__)
    mlflow.log_metric("score", model.score(X, y))
    mlflow.sklearn.log_model(model, name="model")
    if os.environ.get("REGISTER") == "1":
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "served-model")
        mlflow.MlflowClient().set_registered_model_alias("served-model", "live", version.version)
