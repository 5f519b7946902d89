"""What a grade was computed from, so it can be reproduced: digests of the lab's and rubric's content
and the plug-ins whose check types the rubric uses. (Image digests are recorded by the runner when
it prepares the image; the grader's version is the package's.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

from grader.checks import BUILTIN, check_type_origins
from grader.labs.loading import LAB_FILE, LoadedLab

_CHUNK = 1024 * 1024


def lab_digest(lab: LoadedLab) -> str:
    """A content digest of what the lab grades with: ``lab.yaml``, its public data (the lab's and its
    steps') and its hidden data.

    The reference and variants are left out: they do not change how a submission is graded. Each file
    counts with its path relative to the lab folder, so a rename changes the digest too."""
    root = lab.directory
    mounts = [*lab.lab.data, *(mount for step in lab.lab.steps for mount in step.data)]
    sources = [root / LAB_FILE, *(root / m.source for m in mounts), *(root / p for p in lab.lab.hidden.values())]
    files: set[Path] = set()
    for source in sources:
        if source.is_dir():
            files.update(p for p in source.rglob("*") if p.is_file())
        else:
            files.add(source)
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update((_file_sha256(path) if path.is_file() else "missing").encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def plugin_check_types(lab: LoadedLab) -> dict[str, str]:
    """Check types of the rubric that come from plug-ins → the distribution and version providing them."""
    origins = check_type_origins()
    used = sorted({check.type for check in lab.rubric.rubric.checks})
    return {name: origins[name] for name in used if origins.get(name, BUILTIN) != BUILTIN}
