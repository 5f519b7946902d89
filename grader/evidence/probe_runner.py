"""How the evidence layer runs the grader's own code in a sandbox container, and reads what it prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (script in grader/probe, its JSON plan or None, its arguments, a host folder mounted as its plan folder or
# None) → the JSON lines the script printed, in order.
ProbeRunner = Callable[[str, dict[str, Any] | None, list[str], Path | None], list[dict[str, Any]]]


def parse_probe_output(stdout: str, marker: str) -> list[dict[str, Any]]:
    """Every ``marker <json>`` line of a probe's output, in order; other lines are ignored."""
    found = []
    for line in stdout.splitlines():
        if line.startswith(marker):
            try:
                found.append(json.loads(line[len(marker):]))
            except ValueError:
                continue
    return found
