"""The model server: serves the fault classifier saved by train.py, with Prometheus metrics.

Run with ``python -m uvicorn app:app --host 0.0.0.0 --port 8000``; the model is read from $MODEL_PATH
(default model/model.joblib) at startup.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import joblib
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from capstone.features import FEATURES, to_frame
from capstone.monitoring import PredictionMetrics, instrument

PREDICT_PATH = "/predict"
Reading = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[Reading] = Field(min_length=len(FEATURES), max_length=len(FEATURES))


class PredictResponse(BaseModel):
    prediction: str


def file_loader() -> Any:
    return joblib.load(os.environ.get("MODEL_PATH", "model/model.joblib"))


def create_app(loader: Callable[[], Any] = file_loader, metrics: PredictionMetrics | None = None) -> FastAPI:
    """The app; ``loader`` returns the model (anything with ``predict(DataFrame)``) at startup."""
    metrics = metrics or PredictionMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.model = loader()
        yield

    app = FastAPI(title="Fault classifier", lifespan=lifespan)
    instrument(app, metrics, PREDICT_PATH)

    @app.post(PREDICT_PATH, response_model=PredictResponse)
    def predict(body: PredictRequest, request: Request) -> PredictResponse:
        prediction = request.app.state.model.predict(to_frame([body.features]))
        return PredictResponse(prediction=str(prediction[0]))

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return metrics.exposition()

    return app


app = create_app()
