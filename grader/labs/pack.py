"""A lab's public bundle: what a candidate may hold to check a repository before submitting.

The bundle is built from an allow-list, never by deleting from a copy: ``lab.yaml`` (rewritten), the rubric
without its hidden checks, the lab's public data (the files its ``data`` mounts name), the candidate guide and
``bundle.json`` (the lab's version and digests, and every file's sha256). The reference solution, the broken
variants, instructor tools such as ``make_data.py`` (which would regenerate hidden data) and the hidden data
never enter it.

Public checks that score on hidden rows (served predictions, the baseline, traffic for the metrics) still need
rows: in the bundle each hidden data set is replaced by a *stand-in*, a public data file with the same columns
(one named after the set first, then ``valid``, then any). Its scores are the candidate's own data's, not the
grade's.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from grader import __version__
from grader.errors import LabError
from grader.labs.guide import render_guide
from grader.labs.loading import LAB_FILE, LoadedLab, load_lab
from grader.labs.provenance import lab_digest
from grader.labs.yamlio import load_yaml
from grader.models.rubric import Visibility
from grader.paths import ProjectPaths

BUNDLE_MANIFEST = "bundle.json"
BUNDLE_RUBRIC = "rubric.yaml"
BUNDLE_GUIDE = "GUIDE.md"
BUNDLE_FORMAT = 1
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BundledLab(_Frozen):
    id: str
    version: str
    title: str
    digest: str  # of the full lab, as a grading records it


class BundledRubric(_Frozen):
    id: str
    version: str
    digest: str  # of the full rubric file, as a grading records it
    public_digest: str  # of the bundle's rubric.yaml


class BundleManifest(_Frozen):
    """``bundle.json``: which lab and rubric the bundle was made from, and the sha256 of every other file."""

    format: int = BUNDLE_FORMAT
    kind: Literal["public"] = "public"
    grader_version: str
    lab: BundledLab
    rubric: BundledRubric
    hidden_checks: int
    hidden_points: float
    stand_ins: dict[str, str]  # hidden data set → the public file that stands in for it
    dropped_needs: dict[str, list[str]]  # public check → hidden checks it needed (not in the bundle)
    files: dict[str, str]  # path in the bundle → "sha256:<hex>"


@dataclass(frozen=True)
class HiddenContent:
    """What a full lab keeps from candidates: hidden data sets (name → lab-relative path) and hidden checks."""

    data: dict[str, str]
    checks: tuple[str, ...]
    points: float

    @property
    def empty(self) -> bool:
        return not self.data and not self.checks


def hidden_content(lab: LoadedLab) -> HiddenContent:
    """The hidden data and hidden checks of a loaded lab."""
    hidden = [c for c in lab.rubric.rubric.checks if c.visibility is Visibility.hidden]
    return HiddenContent(data=dict(lab.lab.hidden), checks=tuple(c.id for c in hidden),
                         points=sum(c.points for c in hidden))


def pack_public_bundle(lab_reference: str, paths: ProjectPaths, out: Path) -> BundleManifest:
    """Write the public bundle of a lab to ``out``: a new folder, or a ``.tar.gz`` archive by its name."""
    lab = load_lab(lab_reference, paths)
    archive = out.name.endswith(ARCHIVE_SUFFIXES)
    if out.is_dir() if archive else (out.exists() and not (out.is_dir() and not any(out.iterdir()))):
        raise LabError(f"{out} already exists: give a new folder, or a file name ending in .tar.gz")
    if not archive:
        return _write_bundle(lab, paths, out)
    with tempfile.TemporaryDirectory(prefix="grader-pack-") as scratch:
        folder = Path(scratch) / f"{lab.lab.id}-public"
        manifest = _write_bundle(lab, paths, folder)
        write_archive(folder, out)
    return manifest


def _write_bundle(lab: LoadedLab, paths: ProjectPaths, folder: Path) -> BundleManifest:
    hidden = hidden_content(lab)
    stand_ins = choose_stand_ins(lab)
    rubric_data, dropped = public_rubric_data(load_yaml(lab.rubric.path).data, set(hidden.checks))
    folder.mkdir(parents=True, exist_ok=True)
    for relative in public_data_files(lab):
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lab.directory / relative, target)
    origin = f"public bundle of lab {lab.lab.id} v{lab.lab.version}, written by `grader lab pack --public`"
    _write_yaml(folder / BUNDLE_RUBRIC, rubric_data, f"{origin}: the rubric without its hidden checks")
    lab_data = public_lab_data(load_yaml(lab.directory / LAB_FILE).data, stand_ins)
    _write_yaml(folder / LAB_FILE, lab_data, f"{origin}: hidden data sets replaced by public stand-ins")
    (folder / BUNDLE_GUIDE).write_text(render_guide(lab), encoding="utf-8")
    files = {path: file_sha256(folder / path) for path in bundle_files(folder)}
    manifest = BundleManifest(
        grader_version=__version__,
        lab=BundledLab(id=lab.lab.id, version=lab.lab.version, title=lab.lab.title, digest=lab_digest(lab)),
        rubric=BundledRubric(id=lab.rubric.rubric.id, version=lab.rubric.rubric.version, digest=lab.rubric.digest,
                             public_digest=files[BUNDLE_RUBRIC]),
        hidden_checks=len(hidden.checks), hidden_points=hidden.points, stand_ins=stand_ins,
        dropped_needs=dropped, files=files,
    )
    (folder / BUNDLE_MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    load_lab(str(folder), paths)  # the bundle must load as a lab, or it is no use to anyone
    return manifest


def public_rubric_data(data: dict[str, Any], hidden: set[str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The rubric's plain data without the ``hidden`` checks (and sections left empty), and for each public
    check the hidden checks its ``needs`` named (dropped: the bundle cannot know how they end)."""
    dropped: dict[str, list[str]] = {}
    sections = []
    for section in data["sections"]:
        checks = []
        for check in section["checks"]:
            if check["id"] in hidden:
                continue
            lost = [n for n in check.get("needs", []) if n in hidden]
            if lost:
                dropped[check["id"]] = lost
                check = {**check, "needs": [n for n in check["needs"] if n not in hidden]}
            checks.append(check)
        if checks:
            sections.append({**section, "checks": checks})
    return {**data, "sections": sections}, dropped


def public_lab_data(data: dict[str, Any], stand_ins: dict[str, str]) -> dict[str, Any]:
    """``lab.yaml``'s plain data for the bundle: its rubric is the bundle's, its hidden sets the stand-ins,
    and it names no reference (the reference solution is not in a bundle)."""
    public = {key: value for key, value in data.items() if key != "reference"}
    public["rubric"] = BUNDLE_RUBRIC
    if stand_ins:
        public["hidden"] = dict(stand_ins)
    return public


def public_data_files(lab: LoadedLab) -> list[str]:
    """Lab-relative paths of every file the lab's (and its steps') ``data`` mounts name."""
    mounts = [*lab.lab.data, *(m for step in lab.lab.steps for m in step.data)]
    root = lab.directory.resolve()
    found: set[str] = set()
    for mount in mounts:
        source = (root / mount.source).resolve()
        if root not in source.parents:
            raise LabError(f"data source {mount.source!r} of lab {lab.lab.id!r} is outside the lab folder: a "
                           "bundle holds only the lab folder's files")
        files = [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else [source]
        found.update(p.relative_to(root).as_posix() for p in files if "__pycache__" not in p.parts)
    return sorted(found)


def choose_stand_ins(lab: LoadedLab) -> dict[str, str]:
    """Hidden data set → the public data file standing in for it: one with the same header line, preferring
    a path that names the set, then a file called ``valid``, then the shallowest."""
    public = public_data_files(lab)
    chosen: dict[str, str] = {}
    for name, source in lab.lab.hidden.items():
        header = _header(lab.directory / source)
        same = [p for p in public if _header(lab.directory / p) == header]
        if not same:
            raise LabError(f"hidden data set {name!r} ({source}) has no public stand-in: no public data file of "
                           f"lab {lab.lab.id!r} has its columns, so its public checks could not run in a bundle")
        chosen[name] = min(same, key=lambda p: (name not in p, PurePosixPath(p).stem != "valid", p.count("/"), p))
    return chosen


def _header(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return handle.readline().strip()


def bundle_files(folder: Path) -> list[str]:
    """Every file in a bundle folder but its manifest, as sorted relative POSIX paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.name != BUNDLE_MANIFEST)


def file_sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _write_yaml(path: Path, data: dict[str, Any], comment: str) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    path.write_text(f"# {comment}\n{text}", encoding="utf-8")


def write_archive(folder: Path, out: Path) -> None:
    """A reproducible .tar.gz of ``folder`` (sorted entries, no owners, fixed times) under its folder name."""
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in [folder, *sorted(folder.rglob("*"))]:
            info = archive.gettarinfo(str(path), arcname=(PurePosixPath(folder.name) / path.relative_to(folder))
                                      .as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    with out.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed:
        compressed.write(buffer.getvalue())


def read_bundle_manifest(folder: Path) -> BundleManifest | None:
    """The manifest of a bundle folder; None when the folder is no bundle (no ``bundle.json``)."""
    path = folder / BUNDLE_MANIFEST
    if not path.is_file():
        return None
    try:
        return BundleManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LabError(f"{path} is not a bundle manifest this grader reads: {str(exc)[:300]}") from None


def bundle_problems(folder: Path, manifest: BundleManifest) -> Iterator[str]:
    """Files missing from a bundle, changed since it was packed, or added to it."""
    present = set(bundle_files(folder))
    for path, digest in manifest.files.items():
        if path not in present:
            yield f"{path} is missing"
        elif file_sha256(folder / path) != digest:
            yield f"{path} changed since the bundle was packed"
    for path in sorted(present - set(manifest.files)):
        yield f"{path} was added after the bundle was packed"
