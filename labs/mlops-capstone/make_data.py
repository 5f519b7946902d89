"""Regenerate this lab's data (instructor tool; the committed CSVs are what grading uses).

Synthetic sensor readings with a fault label. The hidden hold-out split is written to hidden/, which
is never mounted where candidate code runs: only its features reach the sandbox at evaluation time.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

FEATURES = ["temperature", "vibration", "pressure", "humidity", "rpm", "voltage"]
LABELS = np.array(["none", "bearing", "overheating"])
SCALE = np.array([8.0, 0.6, 12.0, 10.0, 300.0, 5.0])
OFFSET = np.array([60.0, 2.0, 101.0, 45.0, 1500.0, 230.0])


def main() -> None:
    x, y = make_classification(n_samples=1400, n_features=6, n_informative=4, n_redundant=1, n_classes=3,
                               n_clusters_per_class=1, class_sep=1.6, weights=[0.5, 0.3, 0.2],
                               random_state=20261123)
    x = np.round(x * SCALE + OFFSET, 3)
    here = Path(__file__).parent
    splits = {"data/train.csv": slice(0, 800), "data/valid.csv": slice(800, 1000), "hidden/holdout.csv": slice(1000, 1400)}
    for name, rows in splits.items():
        path = here / name
        path.parent.mkdir(exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*FEATURES, "fault"])
            for features, label in zip(x[rows], LABELS[y[rows]], strict=True):
                writer.writerow([*features, label])


if __name__ == "__main__":
    main()
