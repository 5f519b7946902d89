"""Saves a random forest with MLflow's defaults (no serialization_format), as code written for MLflow 3.x with
the skops of its time does; then a linear model, and a forest with skops chosen explicitly."""

import os
import sys
import tempfile

import mlflow
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)
out = tempfile.mkdtemp()
print("mlflow", mlflow.__version__)
models = {
    "forest": (RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y), {}),
    "linear": (LogisticRegression(max_iter=300).fit(X, y), {}),
    "forest-skops-chosen": (RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y),
                            {"serialization_format": "skops"}),
}
for name, (model, options) in models.items():
    path = os.path.join(out, name)
    try:
        mlflow.sklearn.save_model(model, path, **options)
    except Exception as exc:
        print(name, "refused", type(exc).__name__, flush=True)
        continue
    saved = sorted(f for f in os.listdir(path) if f.startswith("model."))
    loaded = mlflow.sklearn.load_model(path)
    print(name, "saved", *saved, "loads", type(loaded).__name__, int((loaded.predict(X) == y).mean() * 100))
sys.exit(0)
