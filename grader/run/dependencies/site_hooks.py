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
