"""Regenerate this lab's data (instructor tool; the committed CSVs are what grading uses).

Synthetic sensor readings of rotating machines with a fault label, before and after a change of the
plant's sensors: the temperature probe is recalibrated (+12 °C), vibration is measured by a new
sensor with a higher gain (×1.6) and machines run slower (−200 rpm). The fault is a property of the
machine, not of the sensor, so a model trained before the change misreads the readings after it.

- ``data/train.csv``, ``data/valid.csv``: before the change, mounted for every candidate container;
- ``data/shifted/train.csv``, ``data/shifted/valid.csv``: after the change, mounted only into the
  retraining step;
- ``hidden/holdout.csv``: before the change, ``hidden/shifted.csv``: after it. Hidden sets stay on the
  host: the grader sends their features to the candidate's server and scores the registered versions.

Standard library only, seeded: the same files every time.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

FEATURES = ["temperature", "vibration", "pressure", "humidity", "rpm", "voltage"]
CLASSES = {"none": 0.5, "bearing": 0.3, "overheating": 0.2}
# (mean, standard deviation) of each feature per class, as the old sensors report them.
MEANS = {
    "none": [60.0, 2.0, 101.0, 45.0, 1500.0, 230.0],
    "bearing": [63.0, 3.2, 101.0, 45.0, 1380.0, 230.0],
    "overheating": [74.0, 2.3, 101.0, 45.0, 1640.0, 230.0],
}
SPREAD = [4.5, 0.35, 12.0, 10.0, 110.0, 5.0]
SPLITS = {  # file → (rows, after the sensor change?)
    "data/train.csv": (600, False),
    "data/valid.csv": (200, False),
    "hidden/holdout.csv": (300, False),
    "data/shifted/train.csv": (600, True),
    "data/shifted/valid.csv": (200, True),
    "hidden/shifted.csv": (300, True),
}


def after_sensor_change(row: list[float]) -> list[float]:
    temperature, vibration, pressure, humidity, rpm, voltage = row
    return [temperature + 12.0, vibration * 1.6, pressure, humidity, rpm - 200.0, voltage]


def sample(generator: random.Random, shifted: bool) -> tuple[list[float], str]:
    label = generator.choices(list(CLASSES), weights=list(CLASSES.values()))[0]
    row = [generator.gauss(mean, sd) for mean, sd in zip(MEANS[label], SPREAD, strict=True)]
    if shifted:
        row = after_sensor_change(row)
    return [round(value, 3) for value in row], label


def main() -> None:
    generator = random.Random(20261124)
    here = Path(__file__).parent
    for name, (rows, shifted) in SPLITS.items():
        path = here / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*FEATURES, "fault"])
            for _ in range(rows):
                features, label = sample(generator, shifted)
                writer.writerow([*features, label])


if __name__ == "__main__":
    main()
