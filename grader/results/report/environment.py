"""The ``Environment`` section of report.md: which of the candidate's files made the Python environment their
code ran in, which versions ran, what was tried instead, and — when it failed — the resolver's own reason, so
an environment failure is never mistaken for a bug in the candidate's code (report.json: ``dependencies``)."""

from __future__ import annotations

from typing import Any

from grader.models import Report

# Packages whose versions decide most of a capstone's behaviour, shown when they are in the environment.
KEY_PACKAGES = ("mlflow", "scikit-learn", "pandas", "numpy", "xgboost", "lightgbm", "fastapi", "flask", "pydantic")
LABELS = {"installed": "installed", "failed": "**failed**", "none": "nothing to install"}


def environment_lines(report: Report, escape: Any) -> list[str]:
    """The section's lines (none when the lab installs no requirements). ``escape`` makes text Markdown-safe."""
    outcome = report.dependencies
    if not outcome:
        return []
    status = str(outcome.get("status", ""))
    lines = ["## Environment", "", f"- Your requirements: {LABELS.get(status, escape(status))}"]
    files = outcome.get("requirement_files") or []
    if files:
        chosen = "named in capstone.yaml" if outcome.get("origin") == "manifest" else "found in the repository"
        lines.append(f"- Read from: {escape(', '.join(files))} ({chosen})")
    python, requested = outcome.get("python"), outcome.get("python_requested")
    if python:
        asked = f" ({escape(requested)} was asked for; the sandbox images carry only {escape(python)})"
        lines.append(f"- Python {escape(python)}" + (asked if requested and requested != python else ""))
    versions = _key_versions(outcome.get("lock") or [])
    if versions:
        lines.append(f"- Versions that ran: {escape(versions)}")
    if outcome.get("cutoff"):
        lines.append(f"- Nothing newer than {escape(outcome['cutoff'])} (your last commit)")
    for fallback in outcome.get("fallbacks") or []:
        lines.append(f"- Instead: {escape(fallback)}")
    for adjustment in outcome.get("adjustments") or []:
        lines.append(f"- Adjusted by the grader: {escape(adjustment)}")
    if status == "failed":
        reason = outcome.get("reason") or outcome.get("message") or ""
        lines.append(f"- Why it failed (the resolver's words): {escape(reason)}")
        lines.append("- Your steps then ran on the lab's own packages: an import or version error in them comes "
                     "from this, not necessarily from your code. Fix the requirement named above.")
    return [*lines, ""]


def _key_versions(lock: list[str]) -> str:
    pins = dict(pin.partition("==")[::2] for pin in lock)
    return ", ".join(f"{name} {pins[name]}" for name in KEY_PACKAGES if name in pins)
