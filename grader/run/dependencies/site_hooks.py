"""What the grader adds to a candidate's environment before caching it: small hooks that run inside the sandbox
in the candidate's Python (``site/``), each loaded by a ``.pth`` line at start-up and doing nothing until the
library it adjusts is imported. Each is said in the report (``adjustments``)."""

from __future__ import annotations

import shutil
from pathlib import Path

SITE_DIR = Path(__file__).parent / "site"
# hook module → what it changes, as the report says it
HOOKS = {
    "grader_mlflow_defaults": "mlflow.sklearn: a model saved without serialization_format or skops_trusted_types "
                              "that skops would refuse is saved with cloudpickle (MLflow's default before skops)",
}


def install_site_hooks(env_dir: Path) -> list[str]:
    """Copy every hook into the environment's site-packages; what they change (empty when there is no
    site-packages folder, e.g. an environment that failed to build)."""
    site_packages = sorted(env_dir.glob("lib/python3*/site-packages"))
    if not site_packages:
        return []
    for name in HOOKS:
        for suffix in (".py", ".pth"):
            target = site_packages[0] / f"{name}{suffix}"
            shutil.copyfile(SITE_DIR / f"{name}{suffix}", target)
            target.chmod(0o644)
    return list(HOOKS.values())


# package → (environment variables its code gets, what the report says). Each is a setting the library documents,
# given a value that suits a loaded sandbox; the candidate's own code or command may still set its own.
ENVIRONMENT_DEFAULTS: dict[str, tuple[dict[str, str], str]] = {
    # Prefect 2.x/3.x start a temporary API server (uvicorn + SQLite migrations) the first time a flow runs without
    # PREFECT_API_URL, and give up after 20 s: a 2-core sandbox with a read-only environment needs longer.
    "prefect": ({"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"},
                "prefect: its temporary API server may take up to 180 s to start "
                "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS; Prefect's default is 20 s)"),
}


def environment_defaults(packages: set[str]) -> tuple[dict[str, str], list[str]]:
    """The environment variables for the packages in the environment (canonical names), and what they change."""
    env: dict[str, str] = {}
    notes: list[str] = []
    for package, (variables, note) in ENVIRONMENT_DEFAULTS.items():
        if package in packages:
            env.update(variables)
            notes.append(note)
    return env, notes
