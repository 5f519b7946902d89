"""Text from a submission that every report format can hold: file names that are not UTF-8 shown escaped.

Python reads a file name that is not valid UTF-8 with its bad bytes as lone surrogates (``surrogateescape``);
no JSON or HTML encoder can write those. ``SafeStr`` and ``SafeData`` turn each such byte into ``\\xNN`` when a
result model is built, so a candidate's odd file name is shown as it is, escaped, and never stops a report.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if 0xDC80 <= code <= 0xDCFF:  # a byte surrogateescape could not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def escape_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys included) written as an escape, recursively."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub(_escape, value) if _LONE_SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {escape_surrogates(key): escape_surrogates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(escape_surrogates(item) for item in value)
    return value


SafeStr = Annotated[str, AfterValidator(escape_surrogates)]
SafeData = Annotated[dict[str, Any], AfterValidator(escape_surrogates)]
