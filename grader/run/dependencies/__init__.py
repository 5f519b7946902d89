"""The candidate's own Python requirements: read on the host, resolved and built into wheels in a container
that may reach the package index (and nothing else of the run), cached by digest, installed with no network.

    submission root ──read as text──▶ requirement set ──runtime pins meet it?── yes ──▶ "satisfied"
                                              │ no
                                              ▼
    wheel cache  ◀── dependency step (egress only: the engine's default bridge; it sees the normalised
    (digest)          requirements, the host's CA bundle and an empty output folder — not the submission's
         │            other files, the data, the grader or the run network): `pip install --dry-run` against
         │            the runtime image's stack, then `pip wheel` of what the image lacks or has at another
         ▼            version (source-only packages are built there too, never on the host)
    install step (no network): the wheels → /work/.grader-deps, first on PYTHONPATH of candidate containers

A candidate's fault (a pin that does not exist, a conflict, a package that does not build) is a ``failed``
outcome naming the requirement and pip's reason. The engine's failures and an unreachable package index
raise InfrastructureError: they are nobody's answer to grade.

``requirements`` reads and normalises the requirement files, ``pip_output`` reads pip's output and configuration,
``step`` runs the containers and caches the wheels.
"""

from grader.run.dependencies.pip_output import CA_MOUNT, IndexSettings, explain_pip_failure, parse_pip_config
from grader.run.dependencies.requirements import read_requirements, requirement_digest, runtime_pins, unmet
from grader.run.dependencies.step import (
    DEPENDENCY_LIMITS,
    DEPS_DIR,
    OUT_MOUNT,
    REQ_MOUNT,
    RESULT_MARKER,
    SELECTED_MARKER,
    WHEELS_MOUNT,
    DependencyOutcome,
    prepare_dependencies,
)

__all__ = [
    "CA_MOUNT",
    "DEPENDENCY_LIMITS",
    "DEPS_DIR",
    "OUT_MOUNT",
    "REQ_MOUNT",
    "RESULT_MARKER",
    "SELECTED_MARKER",
    "WHEELS_MOUNT",
    "DependencyOutcome",
    "IndexSettings",
    "explain_pip_failure",
    "parse_pip_config",
    "prepare_dependencies",
    "read_requirements",
    "requirement_digest",
    "runtime_pins",
    "unmet",
]
