"""The model server: serves the registered fault classifier over HTTP, with Prometheus metrics.

Run with ``python -m uvicorn app:app --host 0.0.0.0 --port 8000``. At startup the model is loaded from
the MLflow registry (``models:/$MODEL_NAME@$MODEL_ALIAS``, or ``/$MODEL_STAGE``); when that fails the
application does not start and the process exits non-zero, so the port only opens with a model behind it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from capstone.features import FEATURES, to_frame
from capstone.monitoring import PredictionMetrics, instrument
from capstone.registry import ModelRef, load_model

log = logging.getLogger("uvicorn.error")  # shows in the server log next to uvicorn's own lines

PREDICT_PATH = "/predict"
# Numbers only: strict mode refuses "12.5" and true, allow_inf_nan refuses NaN and Infinity.
Reading = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[Reading] = Field(
        min_length=len(FEATURES),
        max_length=len(FEATURES),
        description=f"one reading per feature, in this order: {', '.join(FEATURES)}",
    )


class PredictResponse(BaseModel):
    prediction: str


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and why, without echoing the input back (it may hold NaN, which JSON cannot carry)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    return JSONResponse(status_code=422, content={"detail": detail})


def registry_loader() -> Any:
    ref = ModelRef.from_env()
    log.info("loading %s", ref.uri)
    model = load_model(ref)
    log.info("loaded %s", ref.uri)
    return model


def create_app(loader: Callable[[], Any] = registry_loader, metrics: PredictionMetrics | None = None) -> FastAPI:
    """The app; ``loader`` returns the model (anything with ``predict(DataFrame)``) at startup."""
    metrics = metrics or PredictionMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # An exception here aborts the startup: uvicorn logs it and exits with a non-zero status.
        app.state.model = loader()
        yield

    app = FastAPI(title="Fault classifier", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.state.metrics = metrics
    instrument(app, metrics, PREDICT_PATH)

    @app.post(PREDICT_PATH, response_model=PredictResponse)
    def predict(body: PredictRequest, request: Request) -> PredictResponse:
        prediction = request.app.state.model.predict(to_frame([body.features]))
        return PredictResponse(prediction=str(prediction[0]))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return metrics.exposition()

    return app


app = create_app()
