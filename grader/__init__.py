"""Capstone Lab Grader: executes MLOps capstone submissions in sandboxes and grades them against a rubric."""

from __future__ import annotations

__version__ = "0.1.0"
