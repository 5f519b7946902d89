"""The task the serving checks send and judge: the lab's own, or the one the submission's manifest describes.

With the lab's task, rows come from the lab's hidden hold-out set. With a manifest's task (in a lab that allows
it), rows come from the data the candidate declared — a file as submitted, a scikit-learn data set, or example
rows — so they are not hidden from the candidate, and the report says so.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import InfrastructureError
from grader.evidence.labels import read_table
from grader.evidence.probe_runner import ProbeRunner
from grader.evidence.request_body import BodyTemplate, template_from_example
from grader.labs.manifest_task import TaskSection
from grader.models.lab import Task

TASK_DATASET = "task"  # the evaluator's name for the rows of a manifest's task
SAMPLE_ROWS = 200
MAX_DATA_BYTES = 64 * 1024**2
NOT_DESCRIBED = "the manifest does not describe the task (add a task: section to capstone.yaml)"


class TaskUndescribed(InfrastructureError):
    """No task to send: the lab has none and the manifest describes none. Checks that need one are skipped."""


@dataclass(frozen=True)
class ServedTask:
    """Rows the grader sends (features in the model's order), what each should be, and how to send and read."""

    features: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    labels: tuple[str, ...] | None  # None: example rows without labels
    classes: tuple[str, ...]
    template: BodyTemplate
    dataset: str  # the name these rows have in the model evaluation
    source: str  # where the rows come from, in words
    kind: str = "classification"
    prediction_path: str | None = None
    tolerance: float = 1e-6
    declared: bool = False  # described by the submission's manifest

    def bodies(self) -> list[dict[str, str]]:
        """Every row as the probe sends it."""
        return [self.template.encode(self.features, row) for row in self.rows]

    def shown(self, index: int) -> Any:
        """Row ``index``'s body as a reader sees it (the filled template)."""
        return self.template.fill(self.features, self.rows[index])


def lab_task(task: Task, template: BodyTemplate, rows: list[list[float]], labels: list[str], classes: list[str],
             dataset: str) -> ServedTask:
    """The lab's own task, on its hidden rows."""
    return ServedTask(features=tuple(task.features), rows=tuple(tuple(r) for r in rows), labels=tuple(labels),
                      classes=tuple(classes), template=template, dataset=dataset,
                      source=f"the lab's {dataset} set (hidden from the candidate)")


def manifest_task(section: TaskSection, submission_root: Path | None, run_probe: ProbeRunner,
                  scratch: Path, default_template: BodyTemplate, seed: int | None = None) -> ServedTask:
    """The manifest's task: its data read (as submitted), rows picked at random, its request template built."""
    columns, table, source = _read_data(section, submission_root, run_probe, scratch)
    features = list(section.features or [c for c in columns if c != _label_of(section)])
    if section.loader and section.features:
        loader_features = [c for c in columns if c != "target"]
        if len(section.features) != len(loader_features):
            raise InfrastructureError(f"features names {len(section.features)} columns, but {section.loader} has "
                                      f"{len(loader_features)}: {loader_features}")
        table = [dict(zip([*section.features, "target"], [row[c] for c in [*loader_features, "target"]],
                          strict=True)) for row in table]
        columns = [*section.features, "target"]
    missing = [f for f in features if f not in columns]
    if missing:
        raise TaskUndescribed(f"the task's features {missing} are not columns of {source} (columns: {columns[:20]})")
    label = _label_of(section)
    if table and label is not None and label not in columns:
        raise TaskUndescribed(f"the task's label {label!r} is not a column of {source} (columns: {columns[:20]})")
    rng = random.Random(seed)
    picked = table if len(table) <= SAMPLE_ROWS else rng.sample(table, SAMPLE_ROWS)
    rows = tuple(tuple(_typed(row[f]) for f in features) for row in picked)
    labels = None if label is None else tuple(_label_text(row[label]) for row in picked)
    classes = tuple(sorted({_label_text(row[label]) for row in table})) if label and section.kind == "classification" \
        else ()
    return ServedTask(features=tuple(features), rows=rows, labels=labels, classes=classes,
                      template=_template(section, submission_root, features, default_template), dataset=TASK_DATASET,
                      source=f"{source} (declared in capstone.yaml, not hidden from the candidate)", kind=section.kind,
                      prediction_path=section.prediction, tolerance=section.tolerance, declared=True)


def _label_of(section: TaskSection) -> str | None:
    if section.loader:
        return "target"
    return section.label


def _read_data(section: TaskSection, root: Path | None, run_probe: ProbeRunner,
               scratch: Path) -> tuple[list[str], list[dict[str, Any]], str]:
    if section.examples:
        return list(section.features or []), [dict(row) for row in section.examples], "the manifest's example rows"
    if section.loader:
        return _probe_table(section.loader, None, run_probe, scratch, f"scikit-learn's {section.loader} data set")
    assert section.data is not None
    path = _inside(root, section.data)
    if section.data.lower().endswith(".parquet"):
        folder = scratch / "task-data"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data.parquet").write_bytes(path.read_bytes())
        return _probe_table("parquet:/grader/plan/data.parquet", folder, run_probe, scratch, section.data)
    try:
        columns, rows = read_table(path)
    except (UnicodeDecodeError, ValueError) as exc:
        raise TaskUndescribed(f"{section.data} could not be read as CSV: {exc}") from None
    return columns, rows, section.data


def _inside(root: Path | None, relative: str) -> Path:
    if root is None:
        raise TaskUndescribed(f"the task's data {relative} cannot be read: no submission folder")
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise TaskUndescribed(f"the task's data {relative} is not a file in the repository as submitted (data that "
                              "training downloads or generates cannot be used: commit it, use a loader, or give "
                              "examples)")
    if path.stat().st_size > MAX_DATA_BYTES:
        raise TaskUndescribed(f"the task's data {relative} is over {MAX_DATA_BYTES // 1024**2} MiB")
    return path


def _probe_table(source: str, folder: Path | None, run_probe: ProbeRunner, scratch: Path,
                 name: str) -> tuple[list[str], list[dict[str, Any]], str]:
    result = run_probe("task_data", None, [source], folder)[-1]
    if "error" in result:
        raise TaskUndescribed(f"{name} could not be read: {result['error']}")
    columns = [str(c) for c in result["columns"]]
    return columns, [dict(zip(columns, row, strict=True)) for row in result["rows"]], name


def _template(section: TaskSection, root: Path | None, features: list[str], default: BodyTemplate) -> BodyTemplate:
    request = section.request
    if request is None:
        return default
    if request.example is None:
        return BodyTemplate.from_request(request)
    path = _inside(root, request.example)
    try:
        example = json.loads(path.read_text(encoding="utf-8"))
        return BodyTemplate.from_request(request, template_from_example(example, features))
    except ValueError as exc:
        raise TaskUndescribed(f"the example request {request.example} is unusable: {exc}") from None


def _typed(value: Any) -> Any:
    """A CSV cell as the number it spells (strings stay strings: a categorical feature)."""
    if not isinstance(value, str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
