"""Host tools that check types run inside sandboxes: found on the host, mounted read-only into a
container with no network, never executed on the host against candidate files.

A tool is a self-contained binary that needs nothing but the C library the runtime image already has
(promtool is a Go binary, ruff a Rust one). ``GRADER_<NAME>`` overrides where it is found, e.g.
``GRADER_PROMTOOL=/opt/prometheus/promtool``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from grader.errors import InfrastructureError

TOOLS_MOUNT = "/opt/grader-tools"
INPUT_MOUNT = "/grader-input"
INSTALL_HINTS = {
    "promtool": "run `bash scripts/ensure-tools.sh` (it takes promtool from Debian's prometheus package)",
    "ruff": "install the grader's dependencies (`pip install -e .`), which include ruff",
}


def find_tool(name: str) -> Path:
    """The host path of tool ``name``; InfrastructureError (the check becomes ``error``) when it is missing.

    The grader's own environment comes first (ruff installed with the grader), then PATH. Only a compiled
    executable will do: a wrapper script (a version manager's shim) would not run inside the sandbox.
    """
    override = os.environ.get(f"GRADER_{name.upper()}")
    candidates = [override] if override else [str(Path(sys.executable).parent / name), shutil.which(name)]
    for candidate in candidates:
        if candidate and _is_binary(Path(candidate).resolve()):
            return Path(candidate).resolve()
    hint = INSTALL_HINTS.get(name, f"install {name}")
    raise InfrastructureError(f"{name} is not installed on the grader's host: {hint}")


def tool_path(name: str) -> str:
    """Where tool ``name`` is inside the sandbox container."""
    return f"{TOOLS_MOUNT}/{name}"


def _is_binary(path: Path) -> bool:
    if not (path.is_file() and os.access(path, os.X_OK)):
        return False
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"
