"""An engine with no containers behind it: it hands out scripted sandboxes and records every call."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from grader.labs.loading import LoadedLab
from grader.sandbox import Sandbox

from .sandbox import CallLog, Script, ScriptedSandbox


class FakeEngine:
    """Meets ``grader.sandbox.engine.Engine``. The n-th sandbox (one per try at grading) answers from the
    n-th script, the last script serving any further try."""

    name = "fake"

    def __init__(self, *scripts: Script, calls: CallLog | None = None,
                 image_error: BaseException | None = None) -> None:
        self.scripts: Sequence[Script] = scripts or (Script(),)
        self.calls = calls or CallLog()
        self.image_error = image_error
        self.runtime: str | None = None
        self.sandboxes: list[ScriptedSandbox] = []

    def prepare_image(self, image_name: str, log: Callable[[str], None]) -> tuple[str, str]:
        self.calls.add(f"prepare_image {image_name}")
        if self.image_error is not None:
            raise self.image_error
        return f"fake/{image_name}:latest", f"sha256:{image_name}"

    def sandbox(self, run_id: str, image: str, lab: LoadedLab) -> Sandbox:
        self.calls.add(f"sandbox {run_id}")
        script = self.scripts[min(len(self.sandboxes), len(self.scripts) - 1)]
        sandbox = ScriptedSandbox(run_id, image, lab.lab.limits, script, self.calls)
        self.sandboxes.append(sandbox)
        return sandbox

    def check_runtime(self, lab: LoadedLab) -> None:
        self.calls.add("check_runtime")

    def recover(self, run_id: str, log: Callable[[str], None]) -> None:
        self.calls.add(f"recover {run_id}")

    def cleanup(self, run_id: str | None = None, only_dead_owners: bool = False) -> list[str]:
        self.calls.add(f"cleanup {run_id} dead-only={only_dead_owners}")
        return [f"network grader-{run_id} (run {run_id})"] if run_id else []


def engine_for(paths: object, runtime: str | None = None) -> FakeEngine:
    """How the engine table builds a backend (``make_engine``), for tests that register the fake in it."""
    engine = FakeEngine()
    engine.runtime = runtime
    return engine
