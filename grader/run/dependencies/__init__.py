"""The candidate's own Python environment: its requirements read on the host as text, resolved with uv and
installed into a virtual environment of their own in a container that may reach the package index (and nothing
else of the run), cached by digest, then mounted read-only under every candidate container.

    submission root ──read as text──▶ requirement set (+ a lock file's pins as constraints, + what the grader
                                              │             injects: pip, setuptools, pytest when not named)
                                              ▼
    environment cache ◀── dependency step (egress only: the engine's default bridge; it sees the normalised
    (digest of the set,    requirements, the host's CA bundle and empty output folders — not the submission's
     Python, cut-off)      other files, the data, the grader or the run network): `uv pip compile` as of the
         │                 submission's last commit, `uv venv`, `uv pip install` of the lock (source-only
         │                 packages are built there, with the image's compiler, never on the host)
         ▼
    candidate containers and the model evaluator: the environment mounted read-only at /opt/candidate-env, its
    bin first on PATH; nothing of the runtime image's own Python stack is on their path.

A candidate's fault (a pin that does not exist, a conflict, a package that does not build) is a ``failed``
outcome with the resolver's reason. The engine's failures and an unreachable package index raise
InfrastructureError: they are nobody's answer to grade.

``discovery`` chooses the files (lock files first, else every root source together, plus the requirement files of
the folders the manifest's commands run in, or the manifest's ``dependencies.files``); ``reading``,
``requirements`` and ``lockfiles`` read them into one set; ``index`` says where packages come from; ``build`` runs
the container and takes its environment; ``cache`` keeps it; ``site_hooks`` adds the grader's small adjustments
(``site/``); ``resolver_output`` reads uv's reasons; ``outcome`` is what the report shows; ``step`` ties them
together.
"""

from grader.run.dependencies.build import ENV_DIR, REQ_MOUNT, RESULT_MARKER, UV_CACHE_MOUNT, take_environment
from grader.run.dependencies.cache import environment_key
from grader.run.dependencies.discovery import DependencySources, discover_sources
from grader.run.dependencies.index import CA_MOUNT, IndexSettings, parse_pip_config
from grader.run.dependencies.lockfiles import poetry_constraint
from grader.run.dependencies.outcome import DependencyOutcome
from grader.run.dependencies.reading import read_requirements
from grader.run.dependencies.resolver_output import explain_build_failure, resolver_reason
from grader.run.dependencies.step import (
    DEPENDENCY_LIMITS,
    INJECTED,
    DependencyWish,
    cutoff_text,
    prepare_dependencies,
    resolution_cutoff,
)

__all__ = [
    "CA_MOUNT",
    "DEPENDENCY_LIMITS",
    "ENV_DIR",
    "INJECTED",
    "REQ_MOUNT",
    "RESULT_MARKER",
    "UV_CACHE_MOUNT",
    "DependencyOutcome",
    "DependencySources",
    "DependencyWish",
    "IndexSettings",
    "cutoff_text",
    "discover_sources",
    "environment_key",
    "explain_build_failure",
    "parse_pip_config",
    "poetry_constraint",
    "prepare_dependencies",
    "read_requirements",
    "resolution_cutoff",
    "resolver_reason",
    "take_environment",
]
