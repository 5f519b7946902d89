"""What every collector reads about one run: the lab (its task and data sets), the submission's manifest,
where the run's services answer, and how to run the grader's probes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import InfrastructureError
from grader.evidence.labels import read_table
from grader.evidence.probe_runner import ProbeRunner
from grader.labs.manifest import SubmissionManifest
from grader.models import ServiceResult
from grader.models.lab import Task

if TYPE_CHECKING:
    from grader.labs.loading import LoadedLab

MODEL_SERVER = "model-server"
TRACKING_SERVICE = "mlflow"


def tracking_url(lab: LoadedLab) -> str | None:
    """The run's MLflow server as the sandbox containers reach it, or None when the lab runs none."""
    service = next((s for s in lab.lab.services if s.id == TRACKING_SERVICE), None)
    return f"http://{TRACKING_SERVICE}:{service.port}" if service else None


@dataclass(frozen=True)
class RunData:
    """The run as the collectors see it."""

    lab: LoadedLab
    manifest: SubmissionManifest
    started_at_ms: int
    services: Mapping[str, ServiceResult]
    run_probe: ProbeRunner
    scratch: Path
    submission_root: Path | None = None  # the submission as it was taken in (never what its steps left)

    @property
    def model_name(self) -> str:
        """The registered model the submission serves."""
        return self.manifest.model.name

    @property
    def task(self) -> Task:
        """The lab's task (label and features); an infrastructure error in a lab without one."""
        if self.lab.lab.task is None:
            raise InfrastructureError(f"lab {self.lab.lab.id!r} declares no task (label and features)")
        return self.lab.lab.task

    @property
    def first_hidden(self) -> str:
        """The data set served traffic is drawn from: the lab's first hidden set, else ``valid``."""
        return next(iter(self.lab.lab.hidden), "valid")

    def tracking_url(self) -> str:
        """The run's MLflow server; an infrastructure error in a lab without one."""
        url = tracking_url(self.lab)
        if url is None:
            raise InfrastructureError(f"lab {self.lab.lab.id!r} has no {TRACKING_SERVICE!r} service")
        return url

    def predict_url(self) -> str:
        """The candidate's prediction endpoint on the run network."""
        serve = self.manifest.serve
        return f"http://{MODEL_SERVER}:{serve.port}{serve.predict_path}"

    def metrics_url(self) -> str:
        """The candidate's metrics endpoint on the run network."""
        return f"http://{MODEL_SERVER}:{self.manifest.metrics_port}{self.manifest.metrics.path}"

    def dataset(self, name: str) -> tuple[list[str], list[dict[str, str]]]:
        """A data set of the lab (columns, rows), by name."""
        source = self.lab.lab.dataset_path(name)
        if source is None:
            raise InfrastructureError(f"lab {self.lab.lab.id!r} has no data set {name!r}")
        return read_table(self.lab.data_path(source))

    def labels(self, name: str) -> list[str]:
        """The label column of a data set (kept on the host: never sent to a container)."""
        return [row[self.task.label] for row in self.dataset(name)[1]]

    def feature_rows(self, name: str) -> list[list[float]]:
        """The feature columns of a data set, as numbers."""
        features = self.task.features
        return [[float(row[f]) for f in features] for row in self.dataset(name)[1]]

    def classes(self) -> list[str]:
        """Every label of the training set, sorted."""
        return sorted(set(self.labels("train")))
