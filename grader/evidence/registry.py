"""The registry snapshot collector: one probe call reads everything the run's MLflow server holds."""

from __future__ import annotations

from grader.evidence.mlflow_snapshot import MlflowSnapshot
from grader.evidence.probe_runner import ProbeRunner
from grader.probe.labels import REGISTRY


def read_registry(run_probe: ProbeRunner, tracking_url: str) -> MlflowSnapshot:
    """Experiments, runs, registered versions and aliases as they are now."""
    plan = {"actions": [{"label": REGISTRY, "do": "mlflow", "url": tracking_url}], "timeout": 20}
    answer = run_probe("agent", plan, [], None)[-1]
    return MlflowSnapshot.from_probe(answer[REGISTRY])
