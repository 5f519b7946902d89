"""``{{ section.key }}`` templates in lab files, filled from the submission manifest."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from grader.errors import LabError

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)*)\s*\}\}")


def lookup(values: BaseModel, dotted: str) -> Any:
    current: Any = values
    for part in dotted.split("."):
        if not hasattr(current, part):
            raise LabError(f"template {{{{ {dotted} }}}} names no manifest value (no {part!r})")
        current = getattr(current, part)
    return current


def render(text: str, values: BaseModel) -> str:
    """Replace every placeholder; a value that is unset becomes the empty string."""
    def fill(match: re.Match[str]) -> str:
        value = lookup(values, match.group(1))
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(fill, text)


def render_number(value: int | float | str, values: BaseModel) -> float:
    if isinstance(value, int | float):
        return value
    rendered = render(value, values)
    try:
        return float(rendered)
    except ValueError:
        raise LabError(f"{value!r} must render to a number, got {rendered!r}") from None
