"""Serve the registered model with FastAPI and Prometheus metrics, as a 2024 capstone would."""

import os
import time

import mlflow.pyfunc
import pandas as pd
from fastapi import FastAPI, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field

FEATURES = ["temperature", "vibration", "pressure", "humidity", "rpm", "voltage"]
MODEL_URI = f"models:/{os.environ.get('MODEL_NAME', 'fault-classifier')}@{os.environ.get('MODEL_ALIAS', 'champion')}"

REQUESTS = Counter("prediction_requests_total", "Prediction requests.", ["status"])
LATENCY = Histogram("prediction_latency_seconds", "Prediction latency.")

model = mlflow.pyfunc.load_model(MODEL_URI)
app = FastAPI()


class Request(BaseModel):
    features: list[float] = Field(min_length=len(FEATURES), max_length=len(FEATURES))


@app.post("/predict")
def predict(body: Request) -> dict:
    started = time.perf_counter()
    try:
        prediction = model.predict(pd.DataFrame([body.features], columns=FEATURES))
    except Exception as error:
        REQUESTS.labels(status="500").inc()
        raise HTTPException(status_code=500, detail=str(error)) from error
    REQUESTS.labels(status="200").inc()
    LATENCY.observe(time.perf_counter() - started)
    return {"prediction": str(prediction[0])}


@app.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
