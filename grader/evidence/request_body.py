"""Request bodies from a template, broken variants of them, and the prediction found in an answer.

A template is a JSON value with placeholders (see ``grader.labs.manifest_task``); the lab's fixed request
formats (``serve.request_format``) are templates too. A body goes to the probe ready to send: its text and
content type, so JSON, form and multipart requests travel the same way.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.labs.manifest_task import PLACEHOLDER, RequestTemplate, prediction_path_steps

JSON = "application/json"

# serve.request_format as templates.
FORMAT_TEMPLATES: dict[str, Any] = {
    "flat": "{{ record }}",
    "features": {"features": "{{ row }}"},
    "data": {"data": "{{ rows }}"},
    "instances": {"instances": "{{ rows }}"},
    "inputs": {"inputs": "{{ rows }}"},
    "dataframe_split": {"dataframe_split": {"columns": "{{ columns }}", "data": "{{ rows }}"}},
    "dataframe_records": {"dataframe_records": "{{ records }}"},
}


@dataclass(frozen=True)
class BodyTemplate:
    """How one row becomes a request: a JSON template and the encoding it is sent with."""

    template: Any
    encoding: str = "json"
    files: tuple[str, ...] = ()

    @classmethod
    def from_format(cls, request_format: str) -> BodyTemplate:
        if request_format not in FORMAT_TEMPLATES:
            raise ValueError(f"unknown request format {request_format!r}")
        return cls(FORMAT_TEMPLATES[request_format])

    @classmethod
    def from_request(cls, request: RequestTemplate, example: Any = None) -> BodyTemplate:
        """The manifest's request; ``example`` is the parsed example file when the request names one."""
        template = request.body if request.example is None else example
        return cls(template, request.encoding, tuple(request.files))

    def fill(self, features: Sequence[str], row: Sequence[Any]) -> Any:
        """The template with one row in place of its placeholders."""
        return fill(self.template, list(features), list(row))

    def encode(self, features: Sequence[str], row: Sequence[Any]) -> dict[str, str]:
        """One row as the probe sends it: ``{"body": text, "content_type": type}``."""
        return encode_value(self.fill(features, row), self.encoding, self.files)


def fill(template: Any, features: list[str], row: list[Any]) -> Any:
    """``template`` with placeholders replaced by the row: a whole row, rows, record(s), the columns or one
    feature's value."""
    if isinstance(template, dict):
        return {key: fill(value, features, row) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, features, row) for value in template]
    if not isinstance(template, str):
        return template
    match = PLACEHOLDER.match(template)
    if match is None:
        return template
    name = match.group(1)
    record = dict(zip(features, row, strict=True))
    whole = {"row": row, "rows": [row], "record": record, "records": [record], "columns": list(features)}
    if name in whole:
        return whole[name]
    return record.get(name)  # a feature the row lacks (a malformed request) is sent as null


def encode_value(value: Any, encoding: str, files: Sequence[str] = ()) -> dict[str, str]:
    """A filled template as body text and content type."""
    if encoding == "json":
        return {"body": json.dumps(value), "content_type": JSON}
    fields = {key: item if isinstance(item, str) else json.dumps(item) for key, item in dict(value).items()}
    if encoding == "form":
        return {"body": urllib.parse.urlencode(fields), "content_type": "application/x-www-form-urlencoded"}
    boundary = "----formdata" + secrets.token_hex(8)
    parts = []
    for key, text in fields.items():
        disposition = f'form-data; name="{key}"'
        if key in files:
            disposition += f'; filename="{key}.json"\r\nContent-Type: {JSON}'
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{text}\r\n")
    return {"body": "".join(parts) + f"--{boundary}--\r\n", "content_type": f"multipart/form-data; boundary={boundary}"}


def template_from_example(example: Any, features: Sequence[str]) -> Any:
    """An example request turned into a template: a mapping holding every feature becomes ``{{ record }}``, a list
    of as many numbers as there are features ``{{ row }}``; one level of list around either becomes the plural.
    Raises ValueError when no place for the features is found."""
    names = set(features)
    if isinstance(example, dict) and names and names <= set(example) and len(example) == len(names):
        return "{{ record }}"
    if isinstance(example, list) and len(example) == len(features) and all(
            isinstance(v, int | float | str) and not isinstance(v, bool) for v in example):
        return "{{ row }}"
    if isinstance(example, list) and example:
        inner = template_from_example(example[0], features)
        if inner in ("{{ record }}", "{{ row }}"):
            return inner[:-3] + "s }}"
    if isinstance(example, dict):
        found = False
        result: dict[str, Any] = {}
        for key, value in example.items():
            try:
                result[key] = template_from_example(value, features)
                found = True
            except ValueError:
                result[key] = value
        if found:
            return result
    raise ValueError(f"the example request has no place that holds the features {list(features)}")


@dataclass(frozen=True)
class BrokenRequest:
    """A broken request a robust server must answer with 4xx, and what is wrong with it."""

    why: str
    body: str
    content_type: str = JSON


def broken_requests(template: BodyTemplate, features: Sequence[str], row: Sequence[Any]) -> list[BrokenRequest]:
    """Requests a robust server answers with 4xx, each naming what is wrong with it."""
    short = template.encode(features[:-1], row[:-1])
    as_text = template.encode(features, ["not-a-number"] * len(row))
    cases = [BrokenRequest("one feature missing", short["body"], short["content_type"]),
             BrokenRequest("strings instead of numbers", as_text["body"], as_text["content_type"])]
    if template.encoding == "json":
        cases = [BrokenRequest("body is not JSON", "{not json"), BrokenRequest("empty JSON object", "{}"), *cases]
    else:
        empty = encode_value({}, template.encoding)
        cases = [BrokenRequest("no form fields", empty["body"], empty["content_type"]), *cases]
    return cases


_SINGLE_KEYS = ("prediction", "predictions", "predicted_class", "label", "class", "result", "output", "outputs", "y")
MISSING = object()


def find_prediction(body: str, path: str | None = None) -> Any:
    """The prediction in an answer: at ``path`` when declared, else the first prediction-like value; None when
    there is none (not JSON, or nothing at the path)."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if path is not None:
        found = at_path(value, path)
        return None if found is MISSING else found
    for _ in range(4):
        if isinstance(value, dict):
            key = next((k for k in _SINGLE_KEYS if k in value), None)
            if key is None:
                return None
            value = value[key]
        elif isinstance(value, list):
            if not value:
                return None
            value = value[0]
        else:
            return value
    return value


def at_path(value: Any, path: str) -> Any:
    """The value at a dotted path with list indices, or MISSING."""
    for step in prediction_path_steps(path):
        in_list = isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value)
        in_mapping = isinstance(step, str) and isinstance(value, dict) and step in value
        if not (in_list or in_mapping):
            return MISSING
        value = value[step]
    return value
