"""Feature drift: are the recent requests still drawn from the training distribution?

For every feature, the mean of the last ``window`` requests is compared with the training mean in
units of its standard error (a z-score). Drift is flagged while any feature's score exceeds
``threshold``; with fewer than ``min_samples`` requests nothing is flagged (too little evidence).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from monitor.features import FEATURES


@dataclass(frozen=True)
class ReferenceStats:
    """Per-feature mean and standard deviation of the training data (logged next to the model)."""

    mean: dict[str, float]
    std: dict[str, float]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> ReferenceStats:
        return cls(mean={f: float(frame[f].mean()) for f in FEATURES},
                   std={f: float(frame[f].std(ddof=0)) or 1.0 for f in FEATURES})

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Mapping[str, float]]) -> ReferenceStats:
        return cls(mean={f: float(raw["mean"][f]) for f in FEATURES}, std={f: float(raw["std"][f]) for f in FEATURES})


class DriftDetector:
    """Keeps the last ``window`` requests and scores them against the reference statistics."""

    def __init__(self, reference: ReferenceStats, window: int = 50, min_samples: int = 30,
                 threshold: float = 6.0) -> None:
        self.reference = reference
        self.threshold = threshold
        self.min_samples = min_samples
        self._rows: deque[Sequence[float]] = deque(maxlen=window)
        self._lock = threading.Lock()

    def observe(self, row: Sequence[float]) -> None:
        with self._lock:
            self._rows.append(tuple(row))

    def scores(self) -> dict[str, float]:
        """Each feature's |window mean − training mean| / standard error; empty below ``min_samples``."""
        with self._lock:
            rows = list(self._rows)
        if len(rows) < self.min_samples:
            return {}
        scores = {}
        for index, feature in enumerate(FEATURES):
            mean = sum(row[index] for row in rows) / len(rows)
            error = self.reference.std[feature] / math.sqrt(len(rows))
            scores[feature] = abs(mean - self.reference.mean[feature]) / error
        return scores

    def drifting(self) -> bool:
        return any(score > self.threshold for score in self.scores().values())
