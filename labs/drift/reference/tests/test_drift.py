"""The drift detector and the server, offline (a fake model, no MLflow server)."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app import create_app
from monitor.drift import DriftDetector, ReferenceStats
from monitor.features import FEATURES
from monitor.metrics import ServerMetrics

MEANS = [60.0, 2.0, 101.0, 45.0, 1500.0, 230.0]
SPREAD = [5.0, 0.4, 12.0, 10.0, 120.0, 5.0]


def readings(count: int, shift: float = 0.0, seed: int = 1) -> list[list[float]]:
    generator = random.Random(seed)
    return [[generator.gauss(m + shift * s, s) for m, s in zip(MEANS, SPREAD, strict=True)] for _ in range(count)]


@pytest.fixture
def reference() -> ReferenceStats:
    return ReferenceStats.of(pd.DataFrame(readings(2000, seed=7), columns=list(FEATURES)))


def test_no_drift_on_readings_like_the_training_data(reference):
    detector = DriftDetector(reference)
    for row in readings(100):
        detector.observe(row)
    assert not detector.drifting()


def test_drift_after_a_shifted_batch(reference):
    detector = DriftDetector(reference)
    for row in readings(100) + readings(60, shift=1.5, seed=2):
        detector.observe(row)
    assert detector.drifting()
    assert max(detector.scores().values()) > 6


def test_too_few_requests_flag_nothing(reference):
    detector = DriftDetector(reference, min_samples=30)
    for row in readings(29, shift=3):
        detector.observe(row)
    assert detector.scores() == {} and not detector.drifting()


class ConstantModel:
    def predict(self, frame: pd.DataFrame) -> list[str]:
        return ["none"] * len(frame)


def test_server_exposes_the_drift_gauge(reference):
    app = create_app(loader=lambda: (ConstantModel(), reference), metrics=ServerMetrics())
    with TestClient(app) as client:
        for row in readings(60, shift=2):
            assert client.post("/predict", json={"features": row}).json() == {"prediction": "none"}
        assert client.post("/predict", json={"features": [1, 2]}).status_code == 422
        text = client.get("/metrics").text
    assert "feature_drift_detected 1.0" in text
