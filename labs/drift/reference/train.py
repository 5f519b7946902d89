"""Train the fault classifier on DATA_DIR (train.csv, valid.csv), register it and make it the champion."""

from __future__ import annotations

import os

from monitor.training import promote, train_and_register


def main() -> None:
    trained = train_and_register(os.environ.get("DATA_DIR", "data"), run_name="initial")
    promote(trained.version)
    print(f"run {trained.run_id}: val_accuracy={trained.val_accuracy:.4f}; champion -> v{trained.version}")


if __name__ == "__main__":
    main()
