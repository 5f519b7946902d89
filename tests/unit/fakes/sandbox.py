"""A sandbox that runs nothing: containers answer from a script, and every call is recorded in order."""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader.models import Limits, StepResult
from grader.sandbox import RunSpec, Sandbox

# What a scripted container does: exit with this code, end with this result, raise this (an engine failure,
# an interrupt), or compute one of those from the spec it was started with.
Reply = int | StepResult | BaseException | Callable[[RunSpec], "int | StepResult"]


class CallLog:
    """Every call the run made on the engine and its sandboxes, as short strings such as ``run train``.
    Thread-safe: early checks and evidence run on helper threads."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self._changed = threading.Condition()

    def add(self, entry: str) -> None:
        """Record one call."""
        with self._changed:
            self.entries.append(entry)
            self._changed.notify_all()

    def wait_for(self, entry: str, timeout: float = 5.0) -> bool:
        """Block until ``entry`` was recorded (True) or ``timeout`` seconds passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: entry in self.entries, timeout)

    def index(self, entry: str) -> int:
        """Position of the first record of ``entry``."""
        return self.entries.index(entry)

    def matching(self, prefix: str) -> list[str]:
        """The recorded calls that start with ``prefix``, in order."""
        return [entry for entry in self.entries if entry.startswith(prefix)]


@dataclass
class Script:
    """How one sandbox answers. A container whose name has no reply exits 0 with no output, so services are
    ready (their readiness probe, ``client-<service>``, exits 0) unless a reply says otherwise."""

    replies: Mapping[str, Reply] = field(default_factory=dict)  # container name (step id, client-<service>, ...)
    files: Mapping[str, bytes] = field(default_factory=dict)  # glob of a work-area path → content copy_out finds
    close_error: BaseException | None = None  # what teardown raises


def witness_output(passed: int = 0, failed: int = 0, exit_code: int = 0, **fields: object) -> str:
    """The line the grader's pytest witness prints (grader/probe/pytest_witness.py) for a run with these counts."""
    from grader.probe.pytest_witness import WITNESS_MARKER

    line = {"exit_code": exit_code, "collected": passed + failed, "passed": passed, "failed": failed, "errors": 0,
            "skipped": 0, "finished": True, **fields}
    return WITNESS_MARKER + json.dumps(line) + "\n"


def exited(spec: RunSpec, exit_code: int = 0, stdout: str = "", stderr: str = "", duration_s: float = 1.0,
           **fields: object) -> StepResult:
    """The result of ``spec``'s container ending with ``exit_code`` and the given output."""
    return StepResult.model_validate({"id": spec.name, "command": spec.command, "exit_code": exit_code,
                                      "duration_s": duration_s, "stdout": stdout, "stderr": stderr,
                                      "time_limit_s": spec.limits.timeout, **fields})


class ScriptedSandbox(Sandbox):
    """A ``Sandbox`` whose containers answer from a ``Script``; the shared logic (readiness waiting, restarts)
    is the base class's own, so it is exercised as with a real backend."""

    backend_name = "fake"
    runtime = "fake-runc"

    def __init__(self, run_id: str, image: str, limits: Limits, script: Script, calls: CallLog) -> None:
        super().__init__(run_id, image, limits)
        self.script = script
        self.calls = calls
        self.specs: list[RunSpec] = []

    def open(self) -> None:
        self.calls.add("open")

    def copy_in(self, source_dir: Path) -> None:
        self.calls.add("copy_in")

    def copy_out(self, path: str, dest_dir: Path, max_bytes: int = 64 * 1024**2) -> Path | None:
        self.calls.add(f"copy_out {path}")
        content = next((data for pattern, data in self.script.files.items() if fnmatch.fnmatch(path, pattern)), None)
        if content is None:
            return None
        target = dest_dir / Path(path).name
        target.write_bytes(content)
        return target

    def run(self, spec: RunSpec) -> StepResult:
        self.calls.add(f"run {spec.name}")
        self.specs.append(spec)
        reply = self.script.replies.get(spec.name, 0)
        if callable(reply) and not isinstance(reply, BaseException):
            reply = reply(spec)
        if isinstance(reply, BaseException):
            raise reply
        return reply if isinstance(reply, StepResult) else exited(spec, reply)

    def start(self, spec: RunSpec) -> None:
        self.calls.add(f"start {spec.name}")
        self.specs.append(spec)

    def service_logs(self, name: str, max_bytes: int = 64 * 1024) -> str:
        self.calls.add(f"logs {name}")
        return f"log of {name}"

    def service_running(self, name: str) -> bool:
        return True

    def restart(self, name: str) -> None:
        self.calls.add(f"restart {name}")

    def close(self) -> None:
        self.calls.add("close")
        if self.script.close_error is not None:
            raise self.script.close_error
