"""Prometheus metrics of the server: requests, and the drift detector's state after every request."""

from __future__ import annotations

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from monitor.drift import DriftDetector
from monitor.features import FEATURES


class ServerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("prediction_requests_total", "Prediction requests answered.",
                                registry=self.registry)
        self.drift_detected = Gauge("feature_drift_detected",
                                    "1 while the recent requests drift away from the training data, else 0.",
                                    registry=self.registry)
        self.drift_score = Gauge("feature_drift_score", "Drift z-score of each feature over the recent requests.",
                                 ["feature"], registry=self.registry)

    def record(self, detector: DriftDetector) -> None:
        scores = detector.scores()
        for feature in FEATURES:
            self.drift_score.labels(feature=feature).set(scores.get(feature, 0.0))
        self.drift_detected.set(1 if detector.drifting() else 0)

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
