"""Find, load and validate labs and rubrics; assemble broken variants of a lab's reference solution, and
references written as changes to another reference.

Every problem is a ``LabError`` naming the file and line at fault, including a check's parameters,
which are validated here against the check type's own model so a rubric typo never reaches a run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field

from grader.checks import get_check_type
from grader.checks.base import CheckParams
from grader.errors import LabError
from grader.labs.plugins import plugin_labs
from grader.labs.yamlio import YamlDocument, load_yaml
from grader.models import Lab, Rubric, StrictModel
from grader.models.lab import PatchedReference
from grader.paths import ProjectPaths

LAB_FILE = "lab.yaml"
VARIANT_FILE = "variant.yaml"
PATCH_FILE = "changes.patch"
# Under the cache: references assembled from a base and a patch, one folder per content digest.
ASSEMBLED_REFERENCES = "references"
_NOT_COPIED = shutil.ignore_patterns("__pycache__")


@dataclass(frozen=True)
class LoadedRubric:
    rubric: Rubric
    path: Path
    digest: str
    params: dict[str, CheckParams]  # check id → validated parameters


@dataclass(frozen=True)
class LoadedLab:
    lab: Lab
    directory: Path
    rubric: LoadedRubric
    cache: Path  # where a reference written as changes to another one is assembled

    @cached_property
    def reference_dir(self) -> Path:
        """The reference solution's folder; one written as changes to another is assembled on first use."""
        reference = self.lab.reference
        if isinstance(reference, str):
            return self.directory / reference
        return assemble_reference(self.directory, reference, self.cache / ASSEMBLED_REFERENCES)

    def data_path(self, source: str) -> Path:
        return (self.directory / source).resolve()


class Variant(StrictModel):
    """A broken copy of the reference: files overlaid and removed, and the checks it must lose."""

    description: str
    remove: list[str] = Field(default_factory=list, description="reference paths deleted in this variant")
    loses: dict[str, Literal["fail", "skip", "error"]] = Field(
        description="every check this variant must not pass, with the status it must get"
    )


def file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def load_rubric(path: Path) -> LoadedRubric:
    """Parse and validate a rubric file, including every check's parameters."""
    document = load_yaml(path)
    rubric = document.validate(Rubric)
    _raise_first(document, rubric.reference_problems())
    params: dict[str, CheckParams] = {}
    for section_index, section in enumerate(rubric.sections):
        for check_index, check in enumerate(section.checks):
            location = ("sections", section_index, "checks", check_index)
            check_type = get_check_type(check.type, document.where((*location, "type")))
            params[check.id] = document.validate(check_type.params, check.params, location)
    return LoadedRubric(rubric=rubric, path=path, digest=file_digest(path), params=params)


def _raise_first(document: YamlDocument, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    if problems:
        location, message = problems[0]
        raise LabError(message, document.where(location))


def _resolve_rubric(lab: Lab, lab_dir: Path, paths: ProjectPaths, document: YamlDocument) -> Path:
    candidates = [lab_dir / lab.rubric, paths.rubrics / lab.rubric, paths.rubrics / f"{lab.rubric}.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise LabError(f"rubric {lab.rubric!r} not found (looked in {lab_dir} and {paths.rubrics})",
                   document.where(("rubric",)))


def lab_directory(reference: str, paths: ProjectPaths) -> Path:
    """A lab id in ``labs/`` or offered by a plug-in, a lab folder, or a path to its lab.yaml."""
    given = Path(reference)
    for candidate in (given, given.parent if given.name == LAB_FILE else None, paths.labs / reference):
        if candidate is not None and (candidate / LAB_FILE).is_file():
            return candidate.resolve()
    plugin = plugin_labs().get(reference)
    if plugin is not None:
        return plugin.directory
    known = ", ".join(list_lab_ids(paths)) or "none"
    raise LabError(f"no lab {reference!r}: not a lab id in {paths.labs} nor a folder with {LAB_FILE} (labs: {known})")


def load_lab(reference: str, paths: ProjectPaths) -> LoadedLab:
    """Load a lab and its rubric, validated, or raise LabError with file:line."""
    directory = lab_directory(reference, paths)
    document = load_yaml(directory / LAB_FILE)
    lab = document.validate(Lab)
    _raise_first(document, lab.reference_problems())
    for index, mount in enumerate(lab.data):
        if not (directory / mount.source).exists():
            raise LabError(f"data source {mount.source!r} does not exist", document.where(("data", index, "source")))
    for step_index, step in enumerate(lab.steps):
        for index, mount in enumerate(step.data):
            if not (directory / mount.source).exists():
                raise LabError(f"data source {mount.source!r} does not exist",
                               document.where(("steps", step_index, "data", index, "source")))
    if isinstance(lab.reference, PatchedReference):
        _check_patched_reference(lab.reference, directory, document)
    rubric = load_rubric(_resolve_rubric(lab, directory, paths, document))
    return LoadedLab(lab=lab, directory=directory, rubric=rubric, cache=paths.cache)


def _check_patched_reference(reference: PatchedReference, directory: Path, document: YamlDocument) -> None:
    if not (directory / reference.base).is_dir():
        raise LabError(f"reference base {reference.base!r} is not a folder", document.where(("reference", "base")))
    if reference.patch is not None and not (directory / reference.patch).is_file():
        raise LabError(f"reference patch {reference.patch!r} does not exist", document.where(("reference", "patch")))
    if reference.files is not None and not (directory / reference.files).is_dir():
        raise LabError(f"reference files {reference.files!r} is not a folder", document.where(("reference", "files")))


def list_lab_ids(paths: ProjectPaths) -> list[str]:
    return sorted(lab_origins(paths))


def lab_origins(paths: ProjectPaths) -> dict[str, str]:
    """Every lab id → where it comes from: ``labs/`` of the home, or the plug-in offering it (the home wins)."""
    origins = {lab_id: plugin.provider for lab_id, plugin in plugin_labs().items()}
    if paths.labs.is_dir():
        origins.update((p.name, "labs/") for p in paths.labs.iterdir() if (p / LAB_FILE).is_file())
    return origins


def variants_dir(lab: LoadedLab) -> Path:
    return lab.directory / "variants"


def load_variants(lab: LoadedLab) -> dict[str, Variant]:
    """Every broken variant of a lab, validated against its rubric's check ids."""
    root = variants_dir(lab)
    if not root.is_dir():
        return {}
    check_ids = {c.id for c in lab.rubric.rubric.checks}
    variants = {}
    for folder in sorted(p for p in root.iterdir() if (p / VARIANT_FILE).is_file()):
        document = load_yaml(folder / VARIANT_FILE)
        variant = document.validate(Variant)
        unknown = sorted(set(variant.loses) - check_ids)
        if unknown:
            raise LabError(f"loses names checks the rubric does not have: {unknown}", document.where(("loses",)))
        variants[folder.name] = variant
    return variants


def materialize_variant(lab: LoadedLab, name: str, dest: Path) -> Path:
    """Write variant ``name`` to ``dest``: the reference, minus ``remove``, with ``changes.patch`` applied
    (a unified diff against the reference, so a variant states only what it breaks) and ``files/`` added."""
    variants = load_variants(lab)
    if name not in variants:
        raise LabError(f"lab {lab.lab.id!r} has no variant {name!r}; variants: {', '.join(variants) or 'none'}")
    shutil.copytree(lab.reference_dir, dest, symlinks=True, ignore=_NOT_COPIED)
    folder = variants_dir(lab) / name
    patch = folder / PATCH_FILE
    _apply_changes(dest, variants[name].remove, patch if patch.is_file() else None, "the reference")
    overlay = folder / "files"
    if overlay.is_dir():
        shutil.copytree(overlay, dest, dirs_exist_ok=True, symlinks=True)
    return dest


def assemble_reference(lab_dir: Path, reference: PatchedReference, cache: Path) -> Path:
    """The folder of a reference written as changes to ``reference.base``: the base minus ``remove``, with
    ``patch`` applied and ``files`` copied over, assembled once per content under ``cache``."""
    base = (lab_dir / reference.base).resolve()
    patch = lab_dir / reference.patch if reference.patch else None
    files = lab_dir / reference.files if reference.files else None
    target = cache / _reference_digest(base, patch, reference.remove, files)[:16]
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Assembled beside the target and renamed, so a concurrent or interrupted assembly never looks complete.
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache))
    try:
        staging = partial / "reference"
        shutil.copytree(base, staging, symlinks=True, ignore=_NOT_COPIED)
        _apply_changes(staging, reference.remove, patch, str(base))
        if files is not None:
            shutil.copytree(files, staging, dirs_exist_ok=True, symlinks=True, ignore=_NOT_COPIED)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not another process winning the race
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _reference_digest(base: Path, patch: Path | None, remove: list[str], files: Path | None) -> str:
    digest = hashlib.sha256(f"remove {sorted(remove)}\n".encode())
    if patch is not None:
        digest.update(b"patch " + hashlib.sha256(patch.read_bytes()).digest())
    folders = {"base": base, **({"files": files} if files else {})}
    for label, folder in folders.items():
        for file in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(f"{label} {file.relative_to(folder).as_posix()}\n".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _apply_changes(dest: Path, remove: list[str], patch: Path | None, patched: str) -> None:
    """Delete ``remove`` from ``dest``, then apply ``patch`` (a diff against ``patched``) to it."""
    for relative in remove:
        target = dest / relative
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    if patch is not None:
        _apply_patch(patch, dest, patched)


def _apply_patch(patch: Path, dest: Path, patched: str) -> None:
    # The ceiling keeps git from finding an enclosing repository, which would make paths repo-relative.
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(dest.resolve().parent)}
    env.pop("GIT_DIR", None)
    completed = subprocess.run(["git", "apply", "-p1", "--whitespace=nowarn", str(patch.resolve())], cwd=dest,
                               env=env, capture_output=True, text=True, timeout=60, check=False)
    if completed.returncode != 0:
        raise LabError(f"{patch} does not apply to {patched}: {completed.stderr.strip()[:500]}")
