"""Typed models of everything that crosses a stage boundary, one module per stage: sandbox limits, the lab,
the rubric, run results and the report. Import them from here."""

from grader.models.lab import (
    TEMPLATE,
    BuildSpec,
    DataMount,
    DependencyPolicy,
    Lab,
    SandboxPolicy,
    ServiceSpec,
    StepSpec,
    Task,
)
from grader.models.limits import IDENTIFIER, MANUAL_CHECK_TYPE, LimitOverrides, Limits, StrictModel, parse_memory
from grader.models.report import Attempt, Report, SubmissionInfo
from grader.models.results import (
    CheckOutcome,
    CheckResult,
    ServiceResult,
    Status,
    StepResult,
    describe_exit_code,
)
from grader.models.rubric import CheckSpec, Rubric, Section, Visibility

__all__ = [
    "IDENTIFIER", "MANUAL_CHECK_TYPE", "TEMPLATE", "Attempt", "BuildSpec", "CheckOutcome", "CheckResult", "CheckSpec",
    "DataMount", "DependencyPolicy", "Lab", "LimitOverrides", "Limits", "Report", "Rubric", "SandboxPolicy", "Section",
    "ServiceResult", "ServiceSpec", "Status", "StepResult", "StepSpec", "StrictModel", "SubmissionInfo", "Task",
    "Visibility",
    "describe_exit_code", "parse_memory",
]
