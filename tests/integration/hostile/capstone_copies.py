"""A copy of the mlops-capstone lab whose rubric holds one more check, and a copy of its reference solution
with one source file patched: how the hostile capstone cases state exactly what they change."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from grader.paths import project_paths

PATHS = project_paths()
LAB = PATHS.root / "labs" / "mlops-capstone"


def lab_with_check(folder: Path, check: dict[str, Any]) -> Path:
    """The lab, its rubric extended with ``check`` in the section of ``holdout-accuracy``."""
    shutil.copytree(LAB, folder, ignore=shutil.ignore_patterns("reference", "variants"))
    rubric = yaml.safe_load((PATHS.root / "rubrics" / "mlops-capstone.yaml").read_text())
    section = next(s for s in rubric["sections"] if any(c["id"] == "holdout-accuracy" for c in s["checks"]))
    section["checks"].append(check)
    (folder / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    lab = (folder / "lab.yaml").read_text()
    assert "rubric: mlops-capstone\n" in lab
    (folder / "lab.yaml").write_text(lab.replace("rubric: mlops-capstone\n", "rubric: rubric.yaml\n"))
    return folder


def patched_reference(folder: Path, file: str, replacements: list[tuple[str, str]]) -> Path:
    """The reference solution with each ``old`` in ``file`` replaced by ``new`` (each must be there)."""
    shutil.copytree(LAB / "reference", folder)
    source = (folder / file).read_text()
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    (folder / file).write_text(source)
    return folder
