"""Train an iris classifier, save it with its metrics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["sepal_width"]
TARGET = "species"


def build_model(seed: int = 42) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500, random_state=seed))])


def split(frame: pd.DataFrame, seed: int = 42):
    return train_test_split(frame[FEATURES], frame[TARGET], test_size=0.25, random_state=seed, stratify=frame[TARGET])


def evaluate(model: Pipeline, features: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    return {"accuracy": float(accuracy_score(labels, model.predict(features)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("artifacts"))
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    x_train, x_test, y_train, y_test = split(frame)
    model = build_model().fit(x_train, y_train)
    metrics = evaluate(model, x_test, y_test)

    args.out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.out / "model.joblib")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"accuracy: {metrics['accuracy']:.3f}")


if __name__ == "__main__":
    main()
