"""The model server: ``POST /predict`` with ``{"features": [...]}``, ``GET /health`` for the probes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from service import FEATURES

MODEL_PATH = Path(__file__).with_name("model.joblib")
Reading = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[Reading] = Field(min_length=len(FEATURES), max_length=len(FEATURES))


app = FastAPI(title="Fault classifier")
model = joblib.load(MODEL_PATH)


@app.post("/predict")
def predict(body: PredictRequest) -> dict[str, str]:
    frame = pd.DataFrame([body.features], columns=list(FEATURES), dtype="float64")
    return {"prediction": str(model.predict(frame)[0])}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
