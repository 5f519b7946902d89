"""``structured``: a value in a YAML, JSON or TOML file, found by key path, meets a condition.

``key`` is a dotted path with list indexes, e.g. ``jobs.test.steps[0].run`` or ``model.name``;
``*`` matches every item of a list or mapping, and then every match must satisfy the condition.
With no condition the key must merely exist. Conditions: ``equals``, ``one_of``, ``pattern`` (regex
searched in the value's text), ``min``/``max`` (numbers), ``min_items`` (lists and mappings).

Example::

    - {id: ci-runs-tests, title: CI runs pytest, type: structured, points: 1,
       path: ".github/workflows/*.y*ml", key: "jobs.*.steps.*.run", pattern: "pytest", match: any}
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from grader.checks.base import CheckContext, CheckType, FileParams
from grader.models import CheckOutcome

_MISSING = object()
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


class Params(FileParams):
    format: Literal["auto", "yaml", "json", "toml"] = Field("auto", description="``auto`` picks by file extension")
    key: str = Field("", description="dotted key path; empty means the whole document")
    equals: Any = Field(None, description="the value must equal this")
    one_of: list[Any] | None = Field(None, description="the value must be one of these")
    pattern: str | None = Field(None, description="regex searched in the value's text")
    min: float | None = Field(None, description="smallest allowed number")
    max: float | None = Field(None, description="largest allowed number")
    min_items: int | None = Field(None, ge=0, description="fewest items in a list or mapping")
    match: Literal["all", "any"] = Field("all", description="with wildcards or several files: all or any value")


def parse_key(key: str) -> list[str | int]:
    """``a.b[0].*`` → ``['a', 'b', 0, '*']``."""
    parts: list[str | int] = []
    for name, index in _SEGMENT.findall(key):
        if index:
            parts.append("*" if index == "*" else int(index))
        else:
            parts.append(name)
    return parts


def lookup(document: Any, path: list[str | int]) -> list[Any]:
    """Every value reached by ``path`` (several when it has wildcards); empty when none exists."""
    values = [document]
    for part in path:
        reached: list[Any] = []
        for value in values:
            if part == "*":
                if isinstance(value, dict):
                    reached.extend(value.values())
                elif isinstance(value, list):
                    reached.extend(value)
            elif isinstance(value, dict) and part in value:
                reached.append(value[part])
            elif isinstance(value, dict) and str(part) in value:
                reached.append(value[str(part)])
            elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
                reached.append(value[part])
        values = reached
    return values


def parse_document(text: str, fmt: str, path: Path) -> Any:
    if fmt == "auto":
        suffix = path.suffix.lower()
        fmt = {".json": "json", ".toml": "toml"}.get(suffix, "yaml")
    if fmt == "json":
        return json.loads(text)
    if fmt == "toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def violation(params: Params, value: Any) -> str | None:
    """Why ``value`` fails the condition, or None when it meets it."""
    if params.equals is not None and value != params.equals:
        return f"is {value!r}, expected {params.equals!r}"
    if params.one_of is not None and value not in params.one_of:
        return f"is {value!r}, expected one of {params.one_of!r}"
    text = value if isinstance(value, str) else json.dumps(value)
    if params.pattern is not None and not re.search(params.pattern, text):
        return f"{str(value)[:80]!r} does not match {params.pattern!r}"
    if params.min is not None or params.max is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"is {value!r}, not a number"
        if params.min is not None and value < params.min:
            return f"is {value}, below the minimum {params.min}"
        if params.max is not None and value > params.max:
            return f"is {value}, above the maximum {params.max}"
    if params.min_items is not None:
        if not isinstance(value, list | dict):
            return f"is {type(value).__name__}, not a list or mapping"
        if len(value) < params.min_items:
            return f"has {len(value)} items, at least {params.min_items} expected"
    return None


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    files = ctx.find(params.path, params.where)
    if not files:
        return CheckOutcome.failed(f"no file matches {params.path}")
    values: list[tuple[str, Any]] = []
    for path in files:
        name = ctx.relative(path, params.where)
        try:
            document = parse_document(ctx.read_text(path), params.format, path)
        except (ValueError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
            return CheckOutcome.failed(f"{name} does not parse as {params.format}: {str(exc)[:200]}")
        values.extend((name, value) for value in lookup(document, parse_key(params.key)))
    evidence: dict[str, Any] = {"key": params.key, "files": [ctx.relative(p, params.where) for p in files][:10],
                                "values": [str(v)[:200] for _, v in values[:10]]}
    if not values:
        return CheckOutcome.failed(f"key {params.key!r} not found in {params.path}", **evidence)
    problems = [f"{name}: {params.key} {why}" for name, value in values if (why := violation(params, value))]
    if params.match == "any" and len(problems) < len(values):
        return CheckOutcome.passed(f"{params.key}: a value meets the condition", **evidence)
    if params.match == "all" and not problems:
        return CheckOutcome.passed(f"{params.key}: {len(values)} value(s) meet the condition", **evidence)
    return CheckOutcome.failed(problems[0], problems=problems[:10], **evidence)


CHECK = CheckType(name="structured", params=Params, evaluate=evaluate, summary=__doc__ or "")
