"""Shared fixtures: a fake model, so the tests need no training."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capstone.features import FEATURES  # noqa: E402


class FakeModel:
    """'overheating' above 80 degrees, else 'none'."""

    def predict(self, frame: pd.DataFrame) -> list[str]:
        return ["overheating" if t > 80 else "none" for t in frame["temperature"]]


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def reading() -> list[float]:
    return [60.0, 2.0, 101.0, 45.0, 1500.0, 230.0]


@pytest.fixture
def separable_frame() -> pd.DataFrame:
    rows = []
    for i in range(60):
        label = ("none", "bearing", "overheating")[i % 3]
        centre = {"none": 0.0, "bearing": 10.0, "overheating": 20.0}[label]
        rows.append({name: centre + (i % 5) * 0.1 + j for j, name in enumerate(FEATURES)} | {"fault": label})
    return pd.DataFrame(rows)
