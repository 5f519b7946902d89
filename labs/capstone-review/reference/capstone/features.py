"""The data contract: which sensor readings the model takes, in which order, and the label it predicts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

FEATURES: tuple[str, ...] = ("temperature", "vibration", "pressure", "humidity", "rpm", "voltage")
LABEL = "fault"
CLASSES: tuple[str, ...] = ("none", "bearing", "overheating")


def load_split(data_dir: str | Path, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features (as float64, in FEATURES order) and labels of ``<data_dir>/<name>.csv``."""
    path = Path(data_dir) / f"{name}.csv"
    frame = pd.read_csv(path)
    missing = [column for column in (*FEATURES, LABEL) if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}")
    return frame[list(FEATURES)].astype("float64"), frame[LABEL].astype(str)


def to_frame(rows: Sequence[Sequence[float]]) -> pd.DataFrame:
    """Rows of feature values (in FEATURES order) as the DataFrame the model was trained on."""
    frame = pd.DataFrame(list(rows), columns=list(FEATURES), dtype="float64")
    return frame
