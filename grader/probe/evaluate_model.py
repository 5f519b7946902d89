"""Loads a registered model from the run's MLflow server and prints its predictions.

This is the only place a candidate's model is deserialized, and it runs in a sandbox container: no
work area, no hidden labels (only feature files), nothing of the grader but this file. The model
metadata is read *before* the model is loaded, so a model that runs code when unpickled cannot
change what was already reported about it.

Usage: evaluate_model.py MODEL_URI NAME=FEATURES_CSV [NAME=FEATURES_CSV ...]
       evaluate_model.py --wait GO_FILE NAME=FEATURES_CSV ...

With ``--wait`` it starts early: it imports its libraries, then waits for the grader to write GO_FILE
(``{"models": {KEY: MODEL_URI, ...}}``, ``{"model_uri": ...}`` or ``{"cancel": true}``), so the slow
start-up overlaps the candidate's training. Several models (e.g. every run of a sweep) are loaded one
after the other; each result line carries its ``key`` (``model`` for a single URI).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

RESULT_MARKER = "GRADER-PROBE-RESULT "


def emit(result: dict[str, Any]) -> None:
    sys.stdout.write(RESULT_MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def plain(value: Any) -> Any:
    """numpy scalars and arrays to JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return value


WAIT_SECONDS = 900


def wait_for_orders(path: str) -> dict[str, str] | None:
    """The model URIs (by key) the grader asks for, or None when it cancels (or never answers)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                orders = json.load(handle)
            if orders.get("cancel"):
                return None
            if "models" in orders:
                return {str(key): str(uri) for key, uri in orders["models"].items()}
            return {"model": str(orders["model_uri"])}
        time.sleep(0.1)
    return None


def main() -> int:
    arguments = sys.argv[1:]
    import mlflow  # noqa: F401  (imported before the orders arrive: the slow part of starting)
    import pandas  # noqa: F401

    if arguments[0] == "--wait":
        models = wait_for_orders(arguments[1])
        if models is None:
            emit({"cancelled": True})
            return 0
        arguments = arguments[2:]
    else:
        models, arguments = {"model": arguments[0]}, arguments[1:]
    datasets = dict(arg.split("=", 1) for arg in arguments)
    for key, model_uri in models.items():
        evaluate(key, model_uri, datasets)
    return 0


def evaluate(key: str, model_uri: str, datasets: dict[str, str]) -> None:
    """Emit the model's metadata, then its predictions on every data set (or why it could not load)."""
    import mlflow
    import pandas as pd

    result: dict[str, Any] = {"key": key, "model_uri": model_uri}

    try:
        info = mlflow.models.get_model_info(model_uri)
        signature = info.signature
        result["signature"] = None if signature is None else signature.to_dict()
        result["flavors"] = sorted(info.flavors)
        result["run_id"] = info.run_id
    except Exception as exc:
        result["info_error"] = f"{type(exc).__name__}: {exc}"[:500]
    emit({"stage": "info", **result})
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:
        result["load_error"] = f"{type(exc).__name__}: {exc}"[:1000]
        emit(result)
        return
    predictions: dict[str, Any] = {}
    for name, path in datasets.items():
        frame = fit_to_schema(model, pd.read_csv(path))
        try:
            output = model.predict(frame)
            if hasattr(output, "iloc") and getattr(output, "ndim", 1) == 2:
                output = output.iloc[:, 0]
            predictions[name] = [plain(v) for v in plain(output)]
        except Exception as exc:
            predictions[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    result["predictions"] = predictions
    emit(result)


def fit_to_schema(model: Any, frame: Any) -> Any:
    """Whole-number columns as floats where the model's signature asks for floats: a CSV of 750, 800 reads as
    int64, which MLflow refuses to convert to a double column ("Can not safely convert int64 to float64")."""
    try:
        schema = model.metadata.get_input_schema()
        specs = list(schema.inputs) if schema is not None and schema.has_input_names() else []
    except Exception:
        return frame
    for spec in specs:
        name, kind = getattr(spec, "name", None), str(getattr(spec, "type", "")).lower()
        if name in frame.columns and ("double" in kind or "float" in kind) and frame[name].dtype.kind in "iu":
            frame[name] = frame[name].astype("float64")
    return frame


if __name__ == "__main__":
    sys.exit(main())
