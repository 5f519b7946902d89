"""Nothing a candidate sees carries a number computed on hidden data unless the rubric says so: a public
model-quality check says whether the model beats the baseline, the scores stay in the reviewer's evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from grader.evidence.model_evaluation import ModelEvaluation
from tests.unit.check_contract import make_context, run_check

HOLDOUT = ["ok", "ok", "fault", "ok", "fault", "ok", "ok", "fault", "ok", "ok"]


@dataclass
class QualityFacts:
    """The model's predictions on a hidden hold-out and a public validation set."""

    predictions: list[str]
    lab: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(lab=SimpleNamespace(hidden={"holdout": "x"})))

    def model_evaluation(self) -> ModelEvaluation:
        return ModelEvaluation(version=None, predictions={"holdout": self.predictions, "valid": self.predictions})

    def labels(self, dataset: str) -> list[str]:
        return ["ok"] * 6 + ["fault"] * 4 if dataset == "train" else HOLDOUT

    def classes(self) -> list[str]:
        return ["fault", "ok"]


@pytest.mark.parametrize(("predictions", "status"), [(HOLDOUT, "pass"), (["ok"] * 10, "fail")])
def test_a_public_baseline_check_shows_no_hidden_numbers(tmp_path, predictions, status):
    ctx = make_context(tmp_path, facts=QualityFacts(predictions))
    outcome = run_check("model-quality", {"baseline": "majority", "margin": 0.15}, ctx)
    assert outcome.status.value == status
    assert "baseline on hidden data" in outcome.message
    numbers = set(re.findall(r"\d+\.\d+", outcome.message))
    assert numbers <= {"0.15"}, outcome.message  # the rubric's margin only, never a score
    assert {"score", "baseline"} <= set(outcome.evidence)  # the reviewer still sees them


def test_the_rubric_may_show_hidden_scores_and_public_data_scores_are_shown(tmp_path):
    ctx = make_context(tmp_path, facts=QualityFacts(HOLDOUT))
    shown = run_check("model-quality", {"min": 0.8, "show_scores": True}, ctx)
    assert shown.message == "accuracy 1.000 on 10 hidden rows"
    public = run_check("model-quality", {"min": 0.8, "dataset": "valid"}, ctx)
    assert public.message == "accuracy 1.000 on 10 valid rows"
