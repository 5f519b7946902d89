"""Comparing predictions with labels: the normalisation and the metrics, in plain Python."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_features(source: Path, features: Sequence[str], dest: Path) -> None:
    """Copy only the feature columns (never the label) of a CSV file, so labels stay on the host."""
    _, rows = read_table(source)
    with dest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(features)
        for row in rows:
            writer.writerow([row[name] for name in features])


def write_rows(features: Sequence[str], rows: Sequence[Sequence[Any]], dest: Path) -> None:
    """Feature rows as a CSV file (the header is the features)."""
    with dest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(features)
        writer.writerows(rows)


def normalise(value: Any, classes: Sequence[str]) -> str:
    """A prediction as a class label: labels stay, class indices (``1``, ``1.0``, ``[1]``) map to labels."""
    while isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        for key in ("label", "class", "prediction", "predicted_class"):
            if key in value:
                return normalise(value[key], classes)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float) and classes and not any(_is_number(c) for c in classes):
        index = int(value)
        if float(value) == index and 0 <= index < len(classes):
            return classes[index]
    if isinstance(value, int | float) and not isinstance(value, bool):
        numeric = {float(c): c for c in classes if _is_number(c)}
        if float(value) in numeric:
            return numeric[float(value)]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def accuracy(predicted: Sequence[str], actual: Sequence[str]) -> float:
    if not actual:
        return 0.0
    return sum(p == a for p, a in zip(predicted, actual, strict=True)) / len(actual)


def f1_macro(predicted: Sequence[str], actual: Sequence[str]) -> float:
    scores = []
    # Like scikit-learn: a label only ever predicted counts too (with an F1 of 0).
    for label in sorted(set(actual) | set(predicted)):
        tp = sum(p == a == label for p, a in zip(predicted, actual, strict=True))
        fp = sum(p == label != a for p, a in zip(predicted, actual, strict=True))
        fn = sum(a == label != p for p, a in zip(predicted, actual, strict=True))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


METRICS = {"accuracy": accuracy, "f1_macro": f1_macro}


def majority_label(labels: Sequence[str]) -> str:
    return Counter(labels).most_common(1)[0][0]
