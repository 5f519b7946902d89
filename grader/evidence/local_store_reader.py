"""Reads the MLflow stores a step left in the work area, in a grader container (see ``grader.probe.read_local_store``).

The container is the grader's: the runtime image's Python and MLflow (never the candidate's environment, never the
candidate's code), the work area mounted read-only, no network, small limits. Whatever a store holds (a hostile
SQLite file, symlinks in ``mlruns``) meets only that container's files; the host sees the JSON it prints.
"""

from __future__ import annotations

import shlex

from grader import probe
from grader.errors import EngineLostError, InfrastructureError
from grader.evidence.local_store import LocalStores, failed_reading, parse_reading
from grader.evidence.probe_runner import parse_probe_output
from grader.models import Limits
from grader.sandbox import Mount, RunSpec, Sandbox
from grader.sandbox.base import WORK_DIR

READER = "read_local_store"
READER_LIMITS = Limits(memory="512m", cpus=1, timeout=60, output="8m")


def reader_spec(sandbox: Sandbox, step: str) -> RunSpec:
    """The reader's container: ``-I`` keeps the work area and any PYTHON* variable off its import path."""
    command = shlex.join(["python3", "-I", f"{probe.MOUNT_POINT}/{READER}.py", WORK_DIR])
    return RunSpec(name=f"local-stores-{step}", command=command, image=sandbox.image, limits=READER_LIMITS,
                   network=False, work_read_only=True, mounts=(Mount(probe.PROBE_DIR, probe.MOUNT_POINT),))


def read_local_stores(sandbox: Sandbox, step: str) -> LocalStores:
    """The stores in the work area as step ``step`` left them; a reader that fails is a note, never an error."""
    try:
        result = sandbox.run(reader_spec(sandbox, step))
    except EngineLostError:
        raise
    except InfrastructureError as exc:
        return failed_reading(step, str(exc))
    answers = parse_probe_output(result.stdout, probe.RESULT_MARKER)
    if not answers:
        why = result.failure_reason or "no answer"
        return failed_reading(step, f"{why}: {result.stderr.strip()[-300:]}")
    return parse_reading(answers[-1], step)
