"""Check types, found by name: the built-in modules plus any registered by other packages.

Other packages add check types through the ``capstone_grader.checks`` entry-point group; each entry
point names a ``CheckType`` object. A plug-in that does not match the interface is refused with a
message naming the plug-in. The registry is cached per ``sys.path``, so a plug-in that becomes
importable later in the process (a path added at run time) is still found.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.errors import BadInputError, LabError
from grader.evidence.request import EvidenceRequest, merge_all

if TYPE_CHECKING:
    from grader.labs.loading import LoadedLab

ENTRY_POINT_GROUP = "capstone_grader.checks"

BUILTIN_CHECKS = {
    "alert-rules": "grader.checks.alert_rules_check:CHECK",
    "client-consistency": "grader.checks.client_consistency_check:CHECK",
    "command": "grader.checks.command_check:CHECK",
    "dashboard": "grader.checks.dashboard_check:CHECK",
    "dependencies": "grader.checks.dependencies_check:CHECK",
    "ci": "grader.checks.ci_check:CHECK",
    "dockerfile": "grader.checks.dockerfile_check:CHECK",
    "dockerfile-found": "grader.checks.dockerfile_found_check:CHECK",
    "drift": "grader.checks.drift_check:CHECK",
    "file": "grader.checks.file_check:CHECK",
    "http": "grader.checks.http_check:CHECK",
    "kubernetes": "grader.checks.kubernetes_check:CHECK",
    "lint": "grader.checks.lint_check:CHECK",
    "manual": "grader.checks.manual_check:CHECK",
    "mlflow": "grader.checks.mlflow_check:CHECK",
    "model-quality": "grader.checks.model_quality_check:CHECK",
    "prometheus": "grader.checks.prometheus_check:CHECK",
    "problem-statement": "grader.checks.readme_check:CHECK",
    "promotion": "grader.checks.promotion_check:CHECK",
    "pytest": "grader.checks.pytest_check:CHECK",
    "regex": "grader.checks.regex_check:CHECK",
    "retrain": "grader.checks.retrain_check:CHECK",
    "structured": "grader.checks.structured_check:CHECK",
    "sweep": "grader.checks.sweep_check:CHECK",
}

__all__ = ["CheckContext", "CheckParams", "CheckType", "all_check_types", "check_type_origins", "get_check_type",
           "rubric_evidence_request"]
BUILTIN = "built-in"


def _load(target: str) -> CheckType:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def all_check_types() -> dict[str, CheckType]:
    """Every known check type by name: built-ins first, then plug-ins (which may not shadow built-ins)."""
    return dict(_registry(tuple(sys.path))[0])


def check_type_origins() -> dict[str, str]:
    """Where each check type comes from: ``built-in``, or the plug-in's distribution and version."""
    return dict(_registry(tuple(sys.path))[1])


@cache
def _registry(search_path: tuple[str, ...]) -> tuple[dict[str, CheckType], dict[str, str]]:
    registry = {name: _load(target) for name, target in BUILTIN_CHECKS.items()}
    origins = dict.fromkeys(registry, BUILTIN)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            check = entry.load()
        except Exception as exc:
            raise BadInputError(f"check plug-in {entry.value!r} ({entry.name}) failed to load: {exc}") from exc
        if not isinstance(check, CheckType):
            raise BadInputError(
                f"check plug-in {entry.value!r} ({entry.name}) is not a grader.checks.base.CheckType"
            )
        if check.name in registry:
            raise BadInputError(f"check plug-in {entry.value!r} redefines check type {check.name!r}")
        registry[check.name] = check
        origins[check.name] = f"{entry.dist.name} {entry.dist.version}" if entry.dist else entry.value
    return registry, origins


def get_check_type(name: str, location: str | None = None) -> CheckType:
    """The check type called ``name``; an unknown name lists the valid ones."""
    registry = all_check_types()
    if name not in registry:
        raise LabError(f"unknown check type {name!r}; known types: {', '.join(sorted(registry))}", location)
    return registry[name]


def rubric_evidence_request(lab: LoadedLab) -> EvidenceRequest:
    """The evidence every check of the lab's rubric asks for, merged (each check type's ``plan``)."""
    rubric = lab.rubric
    return merge_all([get_check_type(check.type).evidence_request(rubric.params[check.id])
                      for check in rubric.rubric.checks])
