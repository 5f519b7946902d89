"""Evidence about a capstone run, collected once on first use and shared by every check that needs it.

Check types say what they need (``CheckType.plan`` → ``EvidenceRequest``); the run merges the requests of
its rubric and hands the result to ``Facts``, which collects exactly that and nothing by check-type name.
Each collector is its own module returning a frozen value: the registry snapshot (``registry``), the model
evaluation (``model_evaluation``), the serving observations with the metrics scrapes
(``serving_observation``), drift (``drift_observation``), the promotion drill (``promotion``) and
retraining (``retraining``). Judging is left to the check types.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from grader.errors import InfrastructureError
from grader.evidence.drift_observation import DriftObservation, drift_plan, observe_drift
from grader.evidence.local_store import LocalStores
from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion
from grader.evidence.model_evaluation import (
    EVALUATOR,
    REGISTERED_KEY,
    RETRAINED_EVALUATOR,
    RUN_KEY_PREFIX,
    ModelEvaluation,
    ModelEvaluator,
    ModelToEvaluate,
    Submit,
)
from grader.evidence.probe_runner import ProbeRunner, parse_probe_output
from grader.evidence.promotion import (
    DrillResult,
    Sentinel,
    drill_plan,
    drill_problem,
    register_sentinel,
    run_drill,
)
from grader.evidence.registry import read_registry
from grader.evidence.request import DEFAULT_PROMOTION_ROWS, DriftRequest, EvidenceRequest
from grader.evidence.request_body import BodyTemplate
from grader.evidence.retraining import Retraining, collect_retraining
from grader.evidence.run_data import MODEL_SERVER, TRACKING_SERVICE, RunData, tracking_url
from grader.evidence.served_task import NOT_DESCRIBED, ServedTask, TaskUndescribed, lab_task, manifest_task
from grader.evidence.serving_observation import ServingObservation, observe_serving
from grader.evidence.sweep import sweep_runs
from grader.labs.manifest import SubmissionManifest
from grader.labs.manifest_task import TaskSection
from grader.models import ServiceResult

if TYPE_CHECKING:
    from grader.labs.loading import LoadedLab

__all__ = ["MODEL_SERVER", "TRACKING_SERVICE", "EvidenceRequest", "Facts", "ModelEvaluation", "ProbeRunner",
           "ServedTask", "ServingObservation", "TaskUndescribed", "parse_probe_output", "tracking_url"]
T = TypeVar("T")
DEFAULT_SWEEP_METRIC = "val_accuracy"


@dataclass
class Facts:
    """The run's evidence: each collector runs once, on first use, and its result (or error) is kept."""

    lab: LoadedLab
    manifest: SubmissionManifest
    started_at_ms: int
    services: Mapping[str, ServiceResult]
    run_probe: ProbeRunner
    scratch: Path
    request: EvidenceRequest = field(default_factory=EvidenceRequest)  # what the rubric's check types asked for
    restart_model_server: Callable[[], ServiceResult] | None = None  # for serve.reload: restart
    submission_root: Path | None = None  # the submission as taken in: a manifest task's data is read there
    local_stores: Callable[[], LocalStores] = LocalStores  # the MLflow stores the steps left in the work area
    data: RunData = field(init=False)  # what every collector reads about the run
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.data = RunData(lab=self.lab, manifest=self.manifest, started_at_ms=self.started_at_ms,
                            services=self.services, run_probe=self.run_probe, scratch=self.scratch,
                            submission_root=self.submission_root)
        self._evaluator = ModelEvaluator(self.data, EVALUATOR)
        self._retrained_evaluator = ModelEvaluator(self.data, RETRAINED_EVALUATOR)

    def _once(self, key: str, collect: Callable[[], T]) -> T:
        with self._lock:  # the prefetch thread and the checks may ask at the same time
            if key not in self._cache:
                try:
                    self._cache[key] = collect()
                except InfrastructureError as exc:
                    self._cache[key] = exc
            value = self._cache[key]
        if isinstance(value, InfrastructureError):
            raise value
        return value  # type: ignore[no-any-return]

    # --- the run's phases (called by grader.run.orchestrate) ------------------------------------

    def applies(self) -> bool:
        """Whether this lab runs a capstone pipeline these collectors can observe."""
        has_task = self.lab.lab.task is not None or self._manifest_task() is not None
        return has_task and tracking_url(self.lab) is not None

    def start_evaluator(self, submit: Submit) -> None:
        """Start the model evaluator ahead of time (e.g. while training runs) when a check needs a model
        scored: it imports its libraries, then waits until it is told which models to load."""
        if self.request.models:
            self._evaluator.declared_task = self._declared_task()
            self._evaluator.start(submit)

    def prefetch(self) -> None:
        """Gather the registry snapshot and the model evaluation ahead of the checks (errors stay cached)."""
        with contextlib.suppress(InfrastructureError):
            if self.request.models:
                self.model_evaluation()
            elif self.request.registry:
                self.mlflow()
        if self.request.promotion_rows:
            with contextlib.suppress(InfrastructureError):
                self.sentinel()

    def observe_before_late_steps(self, submit: Submit) -> None:
        """Observe what the late steps may change: the drift signal under the grader's traffic, the registry
        and the served version. A second model evaluator starts first (its imports overlap all this and the
        late steps), for the version they will register."""
        if self.request.retraining:
            self._retrained_evaluator.start(submit)
        with contextlib.suppress(InfrastructureError):
            if self.request.drift is not None:
                self.drift()
            if self.request.retraining:
                self.model_evaluation()

    def observe_after_late_steps(self) -> None:
        """Score what the late steps registered now, which also releases the waiting evaluator."""
        if self.request.retraining:
            with contextlib.suppress(InfrastructureError):
                self.retraining()

    # --- names and data ------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The registered model the submission serves."""
        return self.data.model_name

    def tracking_url(self) -> str:
        """The run's MLflow server as the sandbox containers reach it."""
        return self.data.tracking_url()

    def labels(self, name: str) -> list[str]:
        """The label column of a lab data set."""
        return self.data.labels(name)

    def classes(self) -> list[str]:
        """Every label of the training set, sorted."""
        return self.data.classes()

    def served_task(self) -> ServedTask:
        """The task served traffic is drawn from: the manifest's (in a lab that allows one), else the lab's.
        Raises TaskUndescribed when there is neither."""
        return self._once("task", self._resolve_task)

    def _manifest_task(self) -> TaskSection | None:
        return self.manifest.task if self.lab.lab.manifest_task else None

    def _resolve_task(self) -> ServedTask:
        template = BodyTemplate.from_format(self.manifest.serve.request_format)
        section = self._manifest_task()
        if section is not None:
            return manifest_task(section, self.submission_root, self.run_probe, self.scratch, template)
        task = self.lab.lab.task
        if task is None:
            raise TaskUndescribed(NOT_DESCRIBED)
        name = self.data.first_hidden
        return lab_task(task, template, self.data.feature_rows(name), self.data.labels(name), self.classes(), name)

    def _declared_task(self) -> ServedTask | None:
        """The manifest's task for the evaluator (it scores the lab's data sets itself), or None."""
        if self._manifest_task() is None:
            return None
        try:
            return self.served_task()
        except InfrastructureError:
            return None

    @property
    def served_dataset(self) -> str:
        """The hidden data set the grader's served traffic is drawn from."""
        return self.data.first_hidden

    # --- collectors ----------------------------------------------------------------------------

    def mlflow(self) -> MlflowSnapshot:
        """The registry as the checks see it (in a lab with late steps: as it was before them)."""
        return self._once("mlflow", lambda: read_registry(self.run_probe, self.tracking_url()))

    def served_version(self) -> ModelVersion | None:
        """The registered version the submission serves (alias, stage, else the newest of this run)."""
        model = self.manifest.model
        return self.mlflow().served_version(self.model_name, model.alias, model.stage, self.started_at_ms)

    def model_evaluation(self) -> ModelEvaluation:
        """The served registered version's predictions (or why there are none)."""
        def collect() -> ModelEvaluation:
            found = self._model_evaluations().get(REGISTERED_KEY)
            if found is not None:
                return found
            return ModelEvaluation(version=None,
                                   load_error=f"no version of {self.model_name!r} was registered during grading")

        return self._once("model", collect)

    def run_evaluations(self) -> dict[str, ModelEvaluation]:
        """Predictions of each sweep run's logged model, by run id (see ``grader.evidence.sweep``)."""
        return {key[len(RUN_KEY_PREFIX):]: value for key, value in self._model_evaluations().items()
                if key.startswith(RUN_KEY_PREFIX)}

    def _model_evaluations(self) -> dict[str, ModelEvaluation]:
        def collect() -> dict[str, ModelEvaluation]:
            if self._evaluator.declared_task is None:
                self._evaluator.declared_task = self._declared_task()
            return self._evaluator.evaluate(self._models_to_evaluate())

        return self._once("models", collect)

    def _models_to_evaluate(self) -> dict[str, ModelToEvaluate]:
        """The served registered version, and each sweep run's model when a check asked for the sweep.
        One evaluator container loads them all."""
        models: dict[str, ModelToEvaluate] = {}
        version = self.served_version()
        if version is not None:
            models[REGISTERED_KEY] = ModelToEvaluate(f"models:/{version.name}/{version.version}", version)
        if self.request.sweep_metric is not None:
            tracking = self.manifest.tracking
            for run in sweep_runs(self.mlflow(), self.started_at_ms, tracking.experiment, self.request.sweep_metric):
                models[RUN_KEY_PREFIX + run.run_id] = ModelToEvaluate(f"runs:/{run.run_id}/{tracking.model_artifact}")
        return models

    def serving(self) -> ServingObservation:
        """The model server's answers to the grader's traffic, and its metrics scraped around it."""
        def collect() -> ServingObservation:
            try:
                return observe_serving(self.data, self.request, self.served_task())
            except TaskUndescribed as exc:
                return observe_serving(self.data, self.request, None, str(exc))

        return self._once("serving", collect)

    def drift(self) -> DriftObservation:
        """The drift signal read before any traffic, after in-distribution rows and after shifted rows."""
        request = self.request.drift or DriftRequest()
        return self._once("drift", lambda: observe_drift(self.data, drift_plan(request, self.started_at_ms)))

    def sentinel(self) -> Sentinel:
        """The grader's sentinel version of the served model, registered once the registry snapshot is taken."""
        def collect() -> Sentinel:
            self.mlflow()  # the checks' view of the registry must not hold the sentinel
            token = f"grader-sentinel-{secrets.token_hex(4)}"
            return register_sentinel(self.run_probe, self.model_name, list(self.data.task.features), token)

        return self._once("sentinel", collect)

    def promotion_drill(self) -> DrillResult:
        """The grader moves the serving alias to its sentinel version and back (see ``grader.evidence.promotion``)."""
        def collect() -> DrillResult:
            self.model_evaluation()  # the candidate's version is measured before the alias moves
            problem = drill_problem(self.data, self.mlflow())
            if problem is not None:
                return DrillResult(plan=None, problem=problem)
            rows = self.request.promotion_rows or DEFAULT_PROMOTION_ROWS
            plan = drill_plan(self.data, self.mlflow(), self.sentinel(), rows)
            return run_drill(plan, self.run_probe, self.restart_model_server)

        return self._once("promotion", collect)

    def retraining(self) -> Retraining:
        """The served version before the late steps and the newest version they registered, both scored."""
        def collect() -> Retraining:
            try:
                before = self.mlflow()
                after = read_registry(self.run_probe, self.tracking_url())
                return collect_retraining(self.model_name, before, after, self.model_evaluation,
                                          self._retrained_evaluator)
            except InfrastructureError:
                self._retrained_evaluator.cancel()  # never leave it waiting
                raise

        return self._once("retraining", collect)
