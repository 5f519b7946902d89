"""A model fitted on the validation rows: its logged validation score is confirmed there, but sits above the
hidden-data score by more than sampling noise explains. The bound, and the model-quality check that uses it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from grader.evidence.model_evaluation import ModelEvaluation
from grader.evidence.score_gap import score_gap
from tests.unit.check_contract import make_context, run_check

VALID = ["ok"] * 120 + ["fault"] * 80
HOLDOUT = ["ok"] * 240 + ["fault"] * 160


def predictions_with_accuracy(truth: list[str], accuracy: float) -> list[str]:
    wrong = round(len(truth) * (1 - accuracy))
    return [("fault" if label == "ok" else "ok") if i < wrong else label for i, label in enumerate(truth)]


@dataclass
class TunedFacts:
    """A served version whose run logged ``metrics``, and its predictions on the hold-out."""

    holdout_accuracy: float
    metrics: dict[str, float] = field(default_factory=dict)
    lab: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(lab=SimpleNamespace(hidden={"holdout": "x"})))

    def model_evaluation(self) -> ModelEvaluation:
        return ModelEvaluation(version=None, predictions={
            "holdout": predictions_with_accuracy(HOLDOUT, self.holdout_accuracy), "valid": list(VALID)})

    def labels(self, dataset: str) -> list[str]:
        return VALID if dataset == "valid" else HOLDOUT

    def classes(self) -> list[str]:
        return ["fault", "ok"]

    def served_version(self) -> SimpleNamespace:
        return SimpleNamespace(version="3", run_id="run-1")

    def mlflow(self) -> SimpleNamespace:
        return SimpleNamespace(run=lambda run_id: SimpleNamespace(run_id=run_id, metrics=self.metrics))


@pytest.mark.parametrize(("validation", "n_valid", "hidden", "n_hidden", "flagged"), [
    (1.0, 200, 0.90, 400, True),  # fitted on the validation rows
    (0.95, 200, 0.93, 400, False),  # an honest model selected on validation
    (1.0, 10, 0.80, 10, False),  # tiny sets: chance explains a lot
    (1.0, 200, 1.0, 400, False),  # perfect everywhere
    (0.90, 200, 0.97, 400, False),  # better on hidden data is never a flag
])
def test_only_a_gap_beyond_sampling_noise_is_flagged(validation, n_valid, hidden, n_hidden, flagged):
    assert score_gap(validation, n_valid, hidden, n_hidden).beyond_chance is flagged


def test_the_z_of_a_gap_is_the_two_proportion_statistic():
    gap = score_gap(1.0, 200, 0.90, 400)
    assert round(gap.z, 2) == 4.63 and round(gap.gap, 2) == 0.10


def test_a_validation_tuned_model_fails_without_revealing_hidden_scores(tmp_path):
    ctx = make_context(tmp_path, facts=TunedFacts(0.90, {"val_accuracy": 1.0}))
    outcome = run_check("model-quality", {"claimed_metric": "val_accuracy"}, ctx)
    assert outcome.status.value == "fail"
    assert outcome.message.startswith("the logged val_accuracy is higher than the model scores on hidden data by "
                                      "more than chance explains: ")
    assert re.findall(r"\d\.\d", outcome.message) == []
    assert (outcome.evidence["claimed"], outcome.evidence["gap"], outcome.evidence["gap_z"]) == (1.0, 0.1, 4.63)
    assert outcome.evidence["validation_rows"] == 200 and outcome.evidence["rows"] == 400


def test_the_rubric_may_show_the_numbers(tmp_path):
    ctx = make_context(tmp_path, facts=TunedFacts(0.90, {"val_accuracy": 1.0}))
    outcome = run_check("model-quality", {"claimed_metric": "val_accuracy", "show_scores": True}, ctx)
    assert "(claimed 1.000, accuracy 0.900 on 400 rows, 4.6 standard errors apart, at most 3.0 expected)" \
        in outcome.message


def test_an_honest_claim_passes_and_a_missing_one_is_named(tmp_path):
    honest = run_check("model-quality", {"claimed_metric": "val_accuracy", "min": 0.8},
                       make_context(tmp_path, facts=TunedFacts(0.93, {"val_accuracy": 0.945})))
    assert honest.status.value == "pass" and honest.evidence["gap_z"] < 3
    missing = run_check("model-quality", {"claimed_metric": "val_f1"},
                        make_context(tmp_path, facts=TunedFacts(0.93, {"val_accuracy": 0.945})))
    assert missing.status.value == "fail"
    assert missing.message == ("run run-1 (behind the served version) logged no 'val_f1': log the validation score "
                               "the model was selected on")


def test_every_hold_out_score_shows_the_grader_measured_validation_gap_to_the_reviewer(tmp_path):
    outcome = run_check("model-quality", {"min": 0.5}, make_context(tmp_path, facts=TunedFacts(0.90)))
    assert outcome.status.value == "pass"
    assert outcome.evidence["valid_score"] == 1.0 and outcome.evidence["valid_gap_z"] == 4.63
