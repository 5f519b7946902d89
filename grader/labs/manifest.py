"""The submission manifest: how a candidate tells the grader to run their capstone.

A capstone repository may carry ``capstone.yaml`` at its root. Every key is optional: what is left out
comes from the lab's defaults (the documented convention). The manifest is read on the host as plain
data only (no tags, no aliases, size-capped); its commands only ever run inside the sandbox.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from grader.errors import LabError
from grader.labs.manifest_task import TaskSection
from grader.labs.yamlio import load_yaml

MANIFEST_NAMES = ("capstone.yaml", "capstone.yml", "grader.yaml")
RequestFormat = Literal[
    "flat", "features", "data", "instances", "inputs", "dataframe_split", "dataframe_records"
]
_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrepareSection(_Section):
    command: str | None = Field(
        None, description="run before training, as your CI does before the tests (e.g. `python make_data.py && "
        "mkdir -p models`); unset: nothing is run",
    )


class TrainSection(_Section):
    command: str = Field("python train.py", description="trains, logs to MLflow and registers the model")


class ServeSection(_Section):
    command: str = Field("python -m uvicorn app:app --host 0.0.0.0 --port 8000",
                         description="starts the model server; it must listen on 0.0.0.0")
    port: int = Field(8000, ge=1, le=65535)
    predict_path: str = Field("/predict", description="path that takes prediction requests (POST)")
    request_format: RequestFormat = Field(
        "features",
        description=(
            "flat: {\"<feature>\": value, ...}; features: {\"features\": [...]}; data: {\"data\": [[...]]}; "
            "instances: {\"instances\": [[...]]}; inputs: {\"inputs\": [[...]]}; MLflow scoring: "
            "dataframe_split / dataframe_records"
        ),
    )
    ready_timeout: float = Field(60, gt=0, le=300, description="seconds the server may take to listen")
    reload: Literal["poll", "restart"] = Field(
        "poll",
        description=(
            "how the server follows the registry alias: poll (it watches the registry itself) or restart "
            "(it loads the alias at start; the grader restarts it after moving the alias)"
        ),
    )
    reload_within: float = Field(
        20, gt=0, le=60, description="seconds the server may take to serve the version the alias moved to"
    )

    @field_validator("predict_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PATH.match(value):
            raise ValueError("must be an absolute URL path such as /predict")
        return value


class MetricsSection(_Section):
    path: str = Field("/metrics", description="Prometheus exposition endpoint (GET)")
    port: int | None = Field(None, ge=1, le=65535, description="defaults to the serving port")
    request_counter: str | None = Field(None, description="counter of prediction requests (found when unset)")
    latency_histogram: str | None = Field(None, description="histogram of request latency (found when unset)")


class ModelSection(_Section):
    name: str = Field("model", description="registered model name (the lab sets its own default)")
    alias: str | None = Field(None, description="alias that marks the served version (MLflow 2.9+ / 3.x)")
    stage: str | None = Field(None, description="legacy stage instead of an alias (MLflow 2.x), e.g. Production")

    @property
    def uri(self) -> str:
        """The registry URI the server should load (given to candidates as MODEL_URI)."""
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.stage or 'latest'}"


class TestsSection(_Section):
    command: str | None = Field(
        None, description="a pytest command line (e.g. `pytest tests/unit -q`); default: the lab's test path"
    )
    after: Literal["submission", "pipeline"] = Field(
        "submission", description="submission: the tests run on the repository as submitted, while the pipeline "
        "starts; pipeline: after prepare and training, in the work area as they left it (data, models), as a CI "
        "that trains before pytest does",
    )


class RetrainSection(_Section):
    command: str = Field("python retrain.py",
                         description="retrains on the data in DATA_DIR and registers a new version (drift lab)")


class DriftSection(_Section):
    """Where the server's drift signal is read: a Prometheus metric on the metrics endpoint, or a JSON endpoint."""

    metric: str = Field("feature_drift_detected",
                        description="metric (e.g. a gauge) whose largest sample is the signal, unless endpoint is set")
    endpoint: str | None = Field(None, description="GET path answering JSON that carries the signal, e.g. /drift")
    key: str = Field("drift", description="endpoint: dotted key of the signal in the JSON (a boolean or a number)")
    threshold: float = Field(1.0, description="the signal is raised when its value is at least this (true counts 1)")

    @field_validator("endpoint")
    @classmethod
    def _endpoint_path(cls, value: str | None) -> str | None:
        if value is not None and not _PATH.match(value):
            raise ValueError("must be an absolute URL path such as /drift")
        return value


_LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_ALERT_NAME = r"^[A-Za-z_][A-Za-z0-9_:.-]{0,127}$"


class AlertsSection(_Section):
    error_rate: str | None = Field(None, pattern=_ALERT_NAME,
                                   description="alert that fires when the share of failed prediction requests spikes")
    latency: str | None = Field(None, pattern=_ALERT_NAME,
                                description="alert that fires when the latency of prediction requests spikes")


class MonitoringSection(_Section):
    rules: str | None = Field(None, description="Prometheus rules file (path or glob in the repository)")
    dashboard: str | None = Field(None, description="Grafana dashboard JSON (path in the repository)")
    alerts: AlertsSection = AlertsSection()
    status_label: str = Field("status", pattern=_LABEL_NAME,
                              description="label of metrics.request_counter that holds the HTTP status code")
    series_labels: dict[str, str] = Field(
        default_factory=dict, description="labels added to every series the grader generates (e.g. job: model)"
    )

    @field_validator("series_labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not re.match(_LABEL_NAME, name) or name == "__name__"]
        if bad:
            raise ValueError(f"not Prometheus label names: {bad}")
        return value


class TrackingSection(_Section):
    """Where a parameter sweep lives in MLflow and how the chosen run is marked (track lab)."""

    experiment: str | None = Field(
        None, description="experiment that holds the sweep; default: the one with most runs logging the metric"
    )
    best_tag: str = Field("best", min_length=1, description="run tag that marks the chosen run (value `true`)")
    model_artifact: str = Field("model", pattern=r"^[A-Za-z0-9._-]+$",
                                description="name of the model each sweep run logs (runs:/<run_id>/<name>)")


class DeploySection(_Section):
    dockerfile: str = Field("Dockerfile", description="the serving image's Dockerfile (deploy lab: linted and built)")
    kubernetes: str = Field("k8s/*.y*ml", description="glob of the Kubernetes manifests (deploy lab: checked offline)")


class DependenciesSection(_Section):
    """Which of the submission's files make its Python environment, when the grader's discovery would pick
    others (see docs/manifest.md): discovery reads lock files first, else the root requirement files and
    pyproject.toml together, plus requirement files beside the folders the commands run in."""

    files: list[str] = Field(
        default_factory=list, max_length=20,
        description="requirement sources to install, instead of discovery (requirements*.txt, pyproject.toml, "
        "Pipfile, Pipfile.lock; a uv.lock or poetry.lock beside pyproject.toml is read with it)")
    extra: list[str] = Field(
        default_factory=list, max_length=50,
        description="requirements (pip syntax) added to what the files declare, e.g. a server the code runs with")
    python: str | None = Field(
        None, pattern=r"^3\.[0-9]{1,2}$",
        description="the Python version the code was written for (the report says which one ran)")

    @field_validator("files")
    @classmethod
    def _relative_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path or path.startswith(("/", "~")) or ".." in Path(path).parts or "\\" in path:
                raise ValueError(f"{path!r}: give a path inside the repository, relative to its root")
        return value


class SubmissionManifest(_Section):
    """``capstone.yaml``: how to train, serve, observe and test this capstone."""

    prepare: PrepareSection = PrepareSection()
    train: TrainSection = TrainSection()
    serve: ServeSection = ServeSection()
    metrics: MetricsSection = MetricsSection()
    model: ModelSection = ModelSection()
    tests: TestsSection = TestsSection()
    tracking: TrackingSection = TrackingSection()
    monitoring: MonitoringSection = MonitoringSection()
    retrain: RetrainSection = RetrainSection()
    drift: DriftSection = DriftSection()
    deploy: DeploySection = DeploySection()
    task: TaskSection | None = None
    dependencies: DependenciesSection = DependenciesSection()

    @property
    def metrics_port(self) -> int:
        return self.metrics.port or self.serve.port


def _merge(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def find_manifest(root: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        candidate = root / name
        if candidate.is_file() and not candidate.is_symlink():
            return candidate
    return None


def default_manifest(lab_defaults: dict[str, Any] | None = None) -> SubmissionManifest:
    """The convention: what a submission without a manifest gets."""
    try:
        return SubmissionManifest.model_validate(lab_defaults or {})
    except ValueError as exc:
        raise LabError(f"the lab's manifest defaults are invalid: {exc}") from None


def load_manifest(root: Path, lab_defaults: dict[str, Any] | None = None) -> tuple[SubmissionManifest, Path | None]:
    """The submission's manifest merged over the lab's defaults. A broken manifest raises LabError naming
    the file and line; the runner then reports it and goes on with the defaults."""
    defaults = lab_defaults or {}
    path = find_manifest(root)
    if path is None:
        return default_manifest(defaults), None
    if path.stat().st_size == 0 or not path.read_bytes().strip():
        return default_manifest(defaults), path
    try:
        document = load_yaml(path)
        if not isinstance(document.data, dict):
            raise LabError("the manifest must be a mapping of sections (train, serve, metrics, model, tests)",
                           f"{path}:1")
        return document.validate(SubmissionManifest, _merge(defaults, document.data)), path
    except LabError as exc:
        # The candidate knows the file by its name in their repository, not by the grader's temporary path.
        raise LabError(str(exc).replace(str(path), path.name)) from None


def manifest_json_schema() -> dict[str, Any]:
    return SubmissionManifest.model_json_schema()
