"""One harness for check types: a context built the way the run builds it, a scripted probe, and run evidence.

Every unit test of a check type builds its ``CheckContext`` here (files written to a temporary submission,
the sandbox refusing to be touched unless a test says otherwise), and the contract test runs every
registered check type through the same steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.checks import get_check_type, rubric_evidence_request
from grader.checks.base import CheckContext, SandboxCopier, SandboxRunner, ToolRunner, no_tool_runner
from grader.evidence import Facts, ModelEvaluation, ServingObservation
from grader.evidence.answers import HttpAnswer
from grader.evidence.drift_observation import DriftObservation
from grader.evidence.request import EvidenceRequest
from grader.evidence.retraining import Retraining
from grader.labs.loading import LoadedLab
from grader.labs.manifest import SubmissionManifest
from grader.models import CheckOutcome, ServiceResult, StepResult

STARTED_MS = 1_735_000_000_000  # when the graded run started


def never(*args: Any) -> Any:
    """A sandbox a check must not touch."""
    raise AssertionError("this check must not touch the sandbox")


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """``files`` (relative path → text) under ``root``, which is created."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def make_context(tmp_path: Path, files: Mapping[str, str] | None = None, *,
                 steps: Mapping[str, StepResult] | None = None, services: Mapping[str, ServiceResult] | None = None,
                 facts: Any = None, manifest: SubmissionManifest | Mapping[str, Any] | None = None,
                 dependencies: Any = None, run_tool: ToolRunner | None = None,
                 run_in_sandbox: SandboxRunner | None = None,
                 copy_from_sandbox: SandboxCopier | None = None) -> CheckContext:
    """A context over a submission of ``files`` under ``tmp_path/submission``; artifacts and scratch folders
    beside it. ``facts`` may be a real ``Facts`` or a stand-in with the methods the check calls."""
    root = write_files(tmp_path / "submission", files or {})
    artifacts, scratch = tmp_path / "artifacts", tmp_path / "scratch"
    artifacts.mkdir(exist_ok=True)
    scratch.mkdir(exist_ok=True)
    if isinstance(manifest, Mapping):
        manifest = SubmissionManifest.model_validate(dict(manifest))
    return CheckContext(submission_dir=root, artifacts_dir=artifacts, scratch_dir=scratch, steps=steps or {},
                        services=services or {}, run_in_sandbox=run_in_sandbox or never,
                        copy_from_sandbox=copy_from_sandbox or never, facts=facts, manifest=manifest,
                        dependencies=dependencies, run_tool=run_tool or no_tool_runner)


def run_check(check_type: str, params: Mapping[str, Any], ctx: CheckContext) -> CheckOutcome:
    """A check type's parameters validated from rubric keys, then evaluated in ``ctx``."""
    check = get_check_type(check_type)
    return check.evaluate(check.params.model_validate(dict(params)), ctx)


ProbeScript = Callable[[str, dict[str, Any] | None, list[str], Path | None], list[dict[str, Any]]]


class ScriptedProbe:
    """A probe runner that answers from a script and records every call (script name and action labels)."""

    def __init__(self, answer: ProbeScript) -> None:
        self.answer = answer
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, script: str, plan: dict[str, Any] | None, arguments: list[str],
                 files: Path | None) -> list[dict[str, Any]]:
        labels = [action["label"] for action in (plan or {}).get("actions", [])]
        self.calls.append((script, labels))
        return self.answer(script, plan, arguments, files)

    def actions(self) -> list[str]:
        """Every action label the probe was asked to run, in order."""
        return [label for _, labels in self.calls for label in labels]


def make_facts(tmp_path: Path, lab: LoadedLab, run_probe: ProbeScript, *,
               manifest: SubmissionManifest | None = None, request: EvidenceRequest | None = None,
               services: Mapping[str, ServiceResult] | None = None,
               restart_model_server: Callable[[], ServiceResult] | None = None) -> Facts:
    """The run's evidence for ``lab`` as the run builds it: the rubric's merged request unless one is given."""
    return Facts(lab=lab, manifest=manifest or SubmissionManifest.model_validate(lab.lab.manifest),
                 started_at_ms=STARTED_MS, services=services or {}, run_probe=run_probe,
                 scratch=tmp_path / "evidence",
                 request=request if request is not None else rubric_evidence_request(lab),
                 restart_model_server=restart_model_server)


def serving_observation(scrape_after: str = "", *, scrape_before: str | None = None,
                        **fields: Any) -> ServingObservation:
    """What the probe saw of the model server: both scrapes answered 200 with the given texts."""
    before = scrape_after if scrape_before is None else scrape_before
    return ServingObservation(predict_url="http://model-server:8000/predict",
                              metrics_url="http://model-server:8000/metrics", bodies=(),
                              scrape_before=HttpAnswer(status=200, body=before),
                              scrape_after=HttpAnswer(status=200, body=scrape_after), **fields)


@dataclass
class FakeEvidence:
    """Stands in for ``Facts`` with recorded observations: each collector answers what it was given."""

    served: ServingObservation | None = None
    drifted: DriftObservation | None = None
    retrained: Retraining | None = None
    evaluation: ModelEvaluation | None = None
    manifest: SubmissionManifest = field(default_factory=SubmissionManifest)
    truth: list[str] = field(default_factory=list)  # the labels of every data set
    model_name: str = "fault-classifier"
    served_dataset: str = "holdout"

    def serving(self) -> ServingObservation:
        """The recorded serving observation."""
        assert self.served is not None, "this check was not expected to look at the model server"
        return self.served

    def drift(self) -> DriftObservation:
        """The recorded drift observation."""
        assert self.drifted is not None, "this check was not expected to look at drift"
        return self.drifted

    def retraining(self) -> Retraining:
        """The recorded retraining."""
        assert self.retrained is not None, "this check was not expected to look at retraining"
        return self.retrained

    def model_evaluation(self) -> ModelEvaluation:
        """The recorded model evaluation."""
        assert self.evaluation is not None, "this check was not expected to score the model"
        return self.evaluation

    def labels(self, name: str) -> list[str]:
        """The recorded labels, whatever the data set."""
        return self.truth

    def classes(self) -> list[str]:
        """The classes of the recorded labels."""
        return sorted(set(self.truth))
