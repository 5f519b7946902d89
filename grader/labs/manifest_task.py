"""The ``task:`` section of a submission manifest: what the candidate's model takes and returns.

A lab that allows it (``manifest_task: true``) grades any capstone's own task with it: the data the grader
samples rows from, the features in the order the model takes them, the label, the kind of task, the body a
prediction request carries and where the prediction is in the answer. Without it, the lab's own task is used.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# scikit-learn's bundled data sets (they ship with the library: no download). fetch_* data sets
# (california_housing, covtype, ...) are downloaded on first use, and grading has no internet.
LOADERS = ("iris", "breast_cancer", "wine", "diabetes", "digits")
PLACEHOLDER = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_. -]*?)\s*\}\}$")
# Placeholders that stand for the whole row (or rows); any other name is one feature's value.
ROW_PLACEHOLDERS = ("row", "rows", "record", "records", "columns")
_PATH_STEP = re.compile(r"[^.\[\]]+|\[-?\d+\]")
_PREDICTION_PATH = re.compile(r"^([^.\[\]]+|\[-?\d+\])((\.[^.\[\]]+)|(\[-?\d+\]))*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def placeholders_in(template: Any) -> list[str]:
    """Every placeholder name in a JSON template, in document order."""
    if isinstance(template, str):
        match = PLACEHOLDER.match(template)
        return [match.group(1)] if match else []
    if isinstance(template, dict):
        return [name for value in template.values() for name in placeholders_in(value)]
    if isinstance(template, list):
        return [name for value in template for name in placeholders_in(value)]
    return []


def prediction_path_steps(path: str) -> list[str | int]:
    """``predictions[0].label`` → ``["predictions", 0, "label"]``; a step that is a whole number indexes a list."""
    steps: list[str | int] = []
    for token in _PATH_STEP.findall(path):
        steps.append(int(token[1:-1]) if token.startswith("[") else token)
    return steps


class RequestTemplate(_Section):
    """Where the features go in a prediction request."""

    body: Any = Field(
        None,
        description="JSON template of the body. Placeholders (strings): {{ row }} one row's values in feature "
        "order, {{ rows }} a list of one row, {{ record }} {feature: value}, {{ records }} a list of one record, "
        "{{ columns }} the feature names, {{ <feature> }} one feature's value. E.g. {inputs: \"{{ records }}\"}",
    )
    example: str | None = Field(
        None, description="path in the repository of an example request body (JSON); its values are replaced by the "
        "grader's rows: a mapping whose keys are the features is a record, a list as long as the features is a row",
    )
    encoding: Literal["json", "form", "multipart"] = Field(
        "json", description="json: a JSON body; form: application/x-www-form-urlencoded; multipart: "
        "multipart/form-data (body must then map field names to values; lists and mappings are sent as JSON text)",
    )
    files: list[str] = Field(
        default_factory=list, description="multipart: fields sent as file parts (a JSON file named <field>.json)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> RequestTemplate:
        if (self.body is None) == (self.example is None):
            raise ValueError("give exactly one of body (a JSON template) or example (a file in the repository)")
        if self.encoding != "json" and self.body is not None and not isinstance(self.body, dict):
            raise ValueError(f"encoding {self.encoding} needs body to map form fields to values")
        if self.files and self.encoding != "multipart":
            raise ValueError("files are sent only with encoding: multipart")
        if self.body is not None and not placeholders_in(self.body):
            raise ValueError("body has no placeholder: use {{ row }}, {{ rows }}, {{ record }}, {{ records }} or "
                             "{{ <feature> }} where the features go")
        return self


class TaskSection(_Section):
    """The candidate's prediction task (labs with ``manifest_task: true``; otherwise the lab's own task)."""

    kind: Literal["classification", "regression"] = Field(
        "classification", description="classification: answers are compared as labels; regression: within tolerance"
    )
    data: str | None = Field(
        None, description="data file in the repository the grader picks rows from: CSV (any name, e.g. a DVC cache "
        "file), or .parquet; as submitted, not as training left it",
    )
    loader: str | None = Field(
        None, description=f"a data set the grader's image provides instead of a file: sklearn:<name>, name one of "
        f"{', '.join(LOADERS)} (its label column is `target`)",
    )
    examples: list[dict[str, Any]] = Field(
        default_factory=list, description="rows (feature → value) to send when the data is not in the repository "
        "(downloaded by training, say); without labels the grader can compare answers but not score them",
    )
    features: list[str] | None = Field(
        None, description="feature names in the order the model takes them; default: every column but the label. "
        "With a loader: the loader's columns renamed, in order",
    )
    label: str | None = Field(None, description="label column of data (with a loader: target)")
    tolerance: float = Field(
        1e-6, ge=0, description="regression: served and registered predictions agree within this relative tolerance"
    )
    request: RequestTemplate | None = Field(
        None, description="the request body; default: serve.request_format"
    )
    prediction: str | None = Field(
        None, description="where the prediction is in the answer, a dotted path with list indices: "
        "predictions[0], result.label, [0]; default: the first of prediction, predictions, label, class, result, ...",
    )

    @field_validator("loader")
    @classmethod
    def _known_loader(cls, value: str | None) -> str | None:
        if value is None:
            return value
        name = value.removeprefix("sklearn:")
        if not value.startswith("sklearn:") or name not in LOADERS:
            raise ValueError(f"{value!r} is not a loader the grader provides: use sklearn:<name> with one of "
                             f"{', '.join(LOADERS)} (fetch_* data sets such as california_housing need the internet, "
                             "which grading does not have: commit the data and name it in data)")
        return value

    @field_validator("data")
    @classmethod
    def _data_file(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("must be a path inside the repository, such as data/train.csv")
        return value

    @field_validator("prediction")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not _PREDICTION_PATH.match(value):
            raise ValueError("must be a dotted path with list indices, such as predictions[0] or result.label")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TaskSection:
        sources = [name for name in ("data", "loader") if getattr(self, name)] + (["examples"] if self.examples else [])
        if len(sources) != 1:
            raise ValueError("give exactly one of data (a file in the repository), loader (e.g. sklearn:iris) or "
                             f"examples (rows to send); got {', '.join(sources) or 'none'}")
        if self.data and not self.label:
            raise ValueError("data needs label: the column the model predicts")
        if self.examples and not self.features:
            names = list(self.examples[0])
            object.__setattr__(self, "features", names)
        if self.features is not None and len(set(self.features)) != len(self.features):
            raise ValueError("features has a name twice")
        missing = [i for i, row in enumerate(self.examples) if set(row) != set(self.features or [])]
        if missing:
            raise ValueError(f"example {missing[0] + 1} does not have exactly the features {self.features}")
        self._check_feature_placeholders()
        return self

    def _check_feature_placeholders(self) -> None:
        if self.request is None or self.request.body is None or self.features is None:
            return
        unknown = [n for n in placeholders_in(self.request.body)
                   if n not in ROW_PLACEHOLDERS and n not in self.features]
        if unknown:
            raise ValueError(f"request.body names {unknown[0]!r}, which is neither a feature ({self.features}) nor one "
                             f"of {', '.join(ROW_PLACEHOLDERS)}")
