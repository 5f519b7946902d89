"""Judging a model server's answers to the grader's rows: read each prediction where the task says it is,
compare it with the registered model's (labels exactly, numbers within a tolerance), and tell a real model
(better than a baseline, the same answer to the same request) from dummy output."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.evidence.answers import HttpAnswer
from grader.evidence.labels import normalise
from grader.evidence.served_task import ServedTask
from grader.evidence.serving import decode_prediction


@dataclass(frozen=True)
class ServedPrediction:
    """One answer: its prediction (None when the answer held none) in the task's terms."""

    answer: HttpAnswer
    value: Any  # a class label (str) or a number; None: no prediction


def predictions(task: ServedTask, answers: Sequence[HttpAnswer]) -> list[ServedPrediction]:
    """The prediction each answer holds, normalised for the task."""
    found = []
    for answer in answers:
        raw = decode_prediction(answer.body, task.prediction_path) if answer.ok else None
        found.append(ServedPrediction(answer, None if raw is None else as_task_value(task, raw)))
    return found


def as_task_value(task: ServedTask, raw: Any) -> Any:
    """A class label for classification, a float for regression (None when it is not a number)."""
    if task.kind == "regression":
        while isinstance(raw, list | tuple) and len(raw) == 1:
            raw = raw[0]
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    return normalise(raw, list(task.classes))


def agrees(task: ServedTask, served: Any, expected: Any) -> bool:
    """Whether a served prediction equals the registered model's (regression: within the relative tolerance)."""
    if served is None:
        return False
    if task.kind == "regression":
        try:
            reference = float(expected)
        except (TypeError, ValueError):
            return False
        return abs(served - reference) <= task.tolerance * max(1.0, abs(reference))
    return bool(served == normalise(expected, list(task.classes)))


def invalid_value(task: ServedTask, values: Sequence[Any]) -> str | None:
    """Why the predictions cannot be predictions for this task, or None."""
    if task.kind == "classification" and task.classes:
        outside = [v for v in values if v not in task.classes]
        if outside:
            return f"{outside[0]!r} is not one of the task's classes {list(task.classes)[:10]}"
    return None


def quality(task: ServedTask, values: Sequence[Any]) -> tuple[float, float, str] | None:
    """(score, baseline score, metric name) of the served answers against the rows' labels; None without labels.
    Classification: accuracy vs the majority class; regression: R² vs 0 (always predicting the mean)."""
    if task.labels is None or not values:
        return None
    labels = task.labels[: len(values)]
    if task.kind == "classification":
        right = sum(v == label for v, label in zip(values, labels, strict=True))
        majority = Counter(labels).most_common(1)[0][1]
        return right / len(labels), majority / len(labels), "accuracy"
    truth = [float(label) for label in labels]
    mean = sum(truth) / len(truth)
    total = sum((t - mean) ** 2 for t in truth) or 1.0
    residual = sum(((v if v is not None else mean) - t) ** 2 for v, t in zip(values, truth, strict=True))
    return 1 - residual / total, 0.0, "R²"


def unstable(task: ServedTask, first: Sequence[ServedPrediction], again: Sequence[ServedPrediction]) -> int | None:
    """The first row that got two different answers to the same request (random output), or None."""
    for index, (one, two) in enumerate(zip(first, again, strict=False)):
        if one.value is None or two.value is None:
            continue
        same = agrees(task, one.value, two.value) if task.kind == "regression" else one.value == two.value
        if not same:
            return index
    return None
