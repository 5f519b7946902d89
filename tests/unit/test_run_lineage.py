"""Every check about "the model" reads the run behind the served version, and that run must come from this
grading: a model imported from an old run and registered during grading does not pass the run checks."""

from __future__ import annotations

from dataclasses import dataclass

from grader.evidence.mlflow_snapshot import MlflowSnapshot, ModelVersion
from tests.unit.check_contract import make_context, run_check
from tests.unit.test_evidence import STARTED_MS, mlflow_run, model_version, probe_payload

OLD_RUN = "0ld0ld0ld0ld0ld0"


@dataclass
class RegistryFacts:
    """The registry part of the run evidence: a snapshot, the served version, when grading started."""

    snapshot: MlflowSnapshot
    started_at_ms: int = STARTED_MS
    model_name: str = "fault-classifier"

    def mlflow(self) -> MlflowSnapshot:
        return self.snapshot

    def served_version(self) -> ModelVersion | None:
        return next((v for v in self.snapshot.versions if v.version == self.snapshot.aliases[self.model_name]
                     .get("champion")), None)


def imported_model_snapshot() -> MlflowSnapshot:
    """An old run (a year before grading) behind the served version, and a throw-away run logged now."""
    payload = probe_payload(
        runs=[mlflow_run(OLD_RUN, STARTED_MS - 365 * 86_400_000), mlflow_run("b8e1f0a2c3d44e5f", STARTED_MS + 40_000)],
        versions=[model_version("1", OLD_RUN, STARTED_MS + 48_000, aliases=["champion"])])
    payload["registered_models"][0]["aliases"] = [{"alias": "champion", "version": "1"}]
    return MlflowSnapshot.from_probe(payload)


def test_params_and_metrics_of_an_imported_old_run_do_not_count(tmp_path):
    ctx = make_context(tmp_path, facts=RegistryFacts(imported_model_snapshot()))
    for require, extra in (("params", {"params": ["C"]}), ("metrics", {"metrics": ["val_accuracy"]})):
        outcome = run_check("mlflow", {"require": require, **extra}, ctx)
        assert outcome.status.value == "fail"
        assert outcome.message.startswith(f"the served version 1 of 'fault-classifier' comes from run {OLD_RUN}, "
                                          "created before this grading")


def test_the_run_behind_the_served_version_is_named_as_such(tmp_path):
    ctx = make_context(tmp_path, facts=RegistryFacts(MlflowSnapshot.from_probe(probe_payload())))
    outcome = run_check("mlflow", {"require": "params", "params": ["C"]}, ctx)
    assert outcome.message == "run b8e1f0a2c3d44e5f (behind the served version 2) logged 2 params"
    created = run_check("mlflow", {"require": "run"}, ctx)
    assert created.message == "1 finished run(s) during grading, newest b8e1f0a2c3d44e5f"
