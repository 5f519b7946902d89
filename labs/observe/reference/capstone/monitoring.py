"""Prometheus metrics of the prediction endpoint: one counter and one latency histogram.

Each app gets its own registry, so tests can build as many apps as they like and count from zero.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# No `*_created` series: the exposition carries only the counter and the histogram.
disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class PredictionMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "prediction_requests_total",
            "Prediction requests received, by HTTP status code of the answer.",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "prediction_latency_seconds",
            "Time spent answering a prediction request.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def instrument(app: FastAPI, metrics: PredictionMetrics, path: str) -> None:
    """Count and time every request to ``path`` (including the ones rejected as malformed)."""

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path != path:
            return await call_next(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            metrics.latency.observe(time.perf_counter() - started)
            metrics.requests.labels(status=str(status)).inc()
