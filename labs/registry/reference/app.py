"""The model server: serves the version MODEL_ALIAS points to, and follows the alias when it moves.

Run with ``python -m uvicorn app:app --host 0.0.0.0 --port 8000``. At startup the alias's version is
loaded (the app does not start without it); then the registry is polled every POLL_SECONDS (default 2).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import pandas as pd
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from follower import FEATURES, ModelHolder, poll, registry_holder

Reading = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[Reading] = Field(min_length=len(FEATURES), max_length=len(FEATURES))


class PredictResponse(BaseModel):
    prediction: str
    version: str | None


def default_holder() -> ModelHolder:
    return registry_holder(os.environ.get("MODEL_NAME", "fault-classifier"),
                           os.environ.get("MODEL_ALIAS", "champion"))


def create_app(make_holder: Callable[[], ModelHolder] = default_holder, interval: float | None = None) -> FastAPI:
    interval = interval if interval is not None else float(os.environ.get("POLL_SECONDS", "2"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder = make_holder()
        holder.refresh()  # raises when the alias cannot be loaded: the server does not start
        stop = threading.Event()
        poller = threading.Thread(target=poll, args=(holder, interval, stop), daemon=True)
        poller.start()
        app.state.holder = holder
        yield
        stop.set()

    app = FastAPI(title="Fault classifier", lifespan=lifespan)

    @app.post("/predict", response_model=PredictResponse)
    def predict(body: PredictRequest, request: Request) -> PredictResponse:
        model, version = request.app.state.holder.current()
        frame = pd.DataFrame([body.features], columns=list(FEATURES), dtype="float64")
        return PredictResponse(prediction=str(model.predict(frame)[0]), version=version)

    @app.get("/health")
    def health(request: Request) -> dict[str, str | None]:
        return {"status": "ok", "version": request.app.state.holder.version}

    return app


app = create_app()
