"""Retrain on the data collected after drift was detected (DATA_DIR), register the new version, and
promote it only when it beats the current champion on that same new validation data."""

from __future__ import annotations

import os

import mlflow.pyfunc

from monitor.features import load_split
from monitor.training import model_alias, model_name, promote, train_and_register


def champion_accuracy(data_dir: str) -> float:
    x_valid, y_valid = load_split(data_dir, "valid")
    champion = mlflow.pyfunc.load_model(f"models:/{model_name()}@{model_alias()}")
    return float((champion.predict(x_valid).astype(str) == y_valid.to_numpy()).mean())


def main() -> None:
    data_dir = os.environ.get("DATA_DIR", "data")
    before = champion_accuracy(data_dir)
    trained = train_and_register(data_dir, run_name="retrain-after-drift")
    print(f"champion on the new data: {before:.4f}; retrained v{trained.version}: {trained.val_accuracy:.4f}")
    if trained.val_accuracy > before:
        promote(trained.version)
        print(f"champion -> v{trained.version}")


if __name__ == "__main__":
    main()
