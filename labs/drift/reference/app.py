"""The model server: predictions from the registered champion, with drift monitoring.

Run with ``python -m uvicorn app:app --host 0.0.0.0 --port 8000``. At startup it loads
``models:/$MODEL_NAME@$MODEL_ALIAS`` and the training statistics logged with it; every prediction
request feeds the drift detector, whose state ``/metrics`` exposes as ``feature_drift_detected``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from monitor.drift import DriftDetector, ReferenceStats
from monitor.features import FEATURES, to_frame
from monitor.metrics import ServerMetrics
from monitor.training import REFERENCE_ARTIFACT, model_alias, model_name

Reading = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[Reading] = Field(min_length=len(FEATURES), max_length=len(FEATURES))


class PredictResponse(BaseModel):
    prediction: str


def registry_loader() -> tuple[Any, ReferenceStats]:
    """The champion model and the statistics of the data it was trained on."""
    import mlflow.artifacts
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(f"models:/{model_name()}@{model_alias()}")
    stats = mlflow.artifacts.load_dict(f"runs:/{model.metadata.run_id}/{REFERENCE_ARTIFACT}")
    return model, ReferenceStats.from_dict(stats)


def create_app(loader: Callable[[], tuple[Any, ReferenceStats]] = registry_loader,
               metrics: ServerMetrics | None = None) -> FastAPI:
    metrics = metrics or ServerMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.model, reference = loader()
        app.state.detector = DriftDetector(reference)
        yield

    app = FastAPI(title="Fault classifier with drift monitoring", lifespan=lifespan)

    @app.post("/predict", response_model=PredictResponse)
    def predict(body: PredictRequest, request: Request) -> PredictResponse:
        prediction = request.app.state.model.predict(to_frame([body.features]))
        request.app.state.detector.observe(body.features)
        metrics.record(request.app.state.detector)
        metrics.requests.inc()
        return PredictResponse(prediction=str(prediction[0]))

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return metrics.exposition()

    return app


app = create_app()
