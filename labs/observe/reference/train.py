"""Train the fault classifier on $DATA_DIR/train.csv and save it to $MODEL_PATH (default model/model.joblib).

Prints the accuracy on $DATA_DIR/valid.csv.
"""

from __future__ import annotations

import os
from pathlib import Path

import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from capstone.features import load_split

MODEL_PATH = Path(os.environ.get("MODEL_PATH", "model/model.joblib"))


def build_pipeline() -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000, random_state=42))])


def main() -> None:
    data_dir = os.environ.get("DATA_DIR", "data")
    x_train, y_train = load_split(data_dir, "train")
    x_valid, y_valid = load_split(data_dir, "valid")
    model = build_pipeline().fit(x_train, y_train)
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL_PATH)
    print(f"saved {MODEL_PATH}: val_accuracy={accuracy_score(y_valid, model.predict(x_valid)):.4f}")


if __name__ == "__main__":
    main()
