"""Fakes for unit-testing the orchestration of a grading run without a container engine.

``FakeEngine`` hands out ``ScriptedSandbox``es that run nothing: every container a run would start answers
from a ``Script`` (exit code, output, or an exception to raise), and every call the run makes on the engine
and its sandboxes is recorded, in order, in one ``CallLog``. ``write_lab`` writes a small lab whose rubric
uses only check types that need no run evidence (file, regex, command, pytest).
"""

from .engine import FakeEngine
from .grading import RUN_ID, RecordingObserver, grade_unit_lab, statuses, written_report
from .lab import CHECKS, STEPS, passing_script, write_lab
from .sandbox import CallLog, Reply, Script, ScriptedSandbox, exited, witness_output

__all__ = ["CHECKS", "RUN_ID", "STEPS", "CallLog", "FakeEngine", "RecordingObserver", "Reply", "Script",
           "ScriptedSandbox", "exited", "grade_unit_lab", "passing_script", "statuses", "witness_output", "write_lab",
           "written_report"]
