"""Registers the grader's sentinel model as a new version of the candidate's registered model.

Grader code in a sandbox container on the run network (the runtime image's MLflow and scikit-learn):
a ``DummyClassifier`` that always predicts the plan's ``label`` (a token made for this run only, so a
server can only answer it by really loading this version) is logged in the grader's own experiment,
without a signature (it takes any frame), and registered under the candidate's model name. It moves
no alias. Prints one line ``GRADER-PROBE-RESULT {"version": ..., "run_id": ...}`` (or ``{"error": ...}``).

Usage: register_sentinel.py PLAN_JSON
"""

from __future__ import annotations

import json
import sys
from typing import Any

RESULT_MARKER = "GRADER-PROBE-RESULT "


def register(plan: dict[str, Any]) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    features = list(plan["features"])
    frame = pd.DataFrame([[0.0] * len(features)], columns=features)
    model = DummyClassifier(strategy="constant", constant=plan["label"]).fit(frame, [plan["label"]])
    mlflow.set_experiment(plan.get("experiment", "grader-sentinel"))
    with mlflow.start_run(run_name="grader-sentinel") as run:
        mlflow.set_tag("grader.sentinel", "true")
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=plan["model"])
    return {"version": str(info.registered_model_version), "run_id": run.info.run_id}


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    try:
        result = register(plan)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
