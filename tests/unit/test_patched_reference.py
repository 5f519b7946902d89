"""A lab's reference written as changes to another reference: assembled from base, removals, a patch and
extra files, once per content; refused with file:line when its parts are missing or the patch does not apply."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.errors import LabError
from grader.labs.loading import assemble_reference, load_lab, load_variants, materialize_variant
from grader.models.lab import PatchedReference
from grader.paths import project_paths

REPO_ROOT = Path(__file__).resolve().parents[2]
PATCH = """\
--- a/app.py
+++ b/app.py
@@ -1,2 +1,2 @@
 import os
-MODEL = "registry"
+MODEL = "file"
"""


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    """A lab folder beside a base lab whose reference has an app, a Dockerfile and a registry module."""
    base = tmp_path / "base-lab" / "reference"
    (base / "capstone").mkdir(parents=True)
    (base / "app.py").write_text('import os\nMODEL = "registry"\n')
    (base / "Dockerfile").write_text("FROM python:3.11\n")
    (base / "capstone" / "registry.py").write_text("REGISTRY = True\n")
    lab = tmp_path / "my-lab"
    (lab / "extra" / "monitoring").mkdir(parents=True)
    (lab / "extra" / "monitoring" / "alerts.yml").write_text("groups: []\n")
    (lab / "reference.patch").write_text(PATCH)
    return lab


def _spec(**overrides: object) -> PatchedReference:
    fields: dict[str, object] = {"base": "../base-lab/reference", "remove": ["capstone/registry.py"],
                                 "patch": "reference.patch", "files": "extra"}
    return PatchedReference.model_validate({**fields, **overrides})


def test_reference_is_the_base_minus_removals_with_the_patch_and_files(lab_dir: Path, tmp_path: Path) -> None:
    folder = assemble_reference(lab_dir, _spec(), tmp_path / "cache")

    assert (folder / "app.py").read_text() == 'import os\nMODEL = "file"\n'
    assert (folder / "Dockerfile").is_file()
    assert not (folder / "capstone" / "registry.py").exists()
    assert (folder / "monitoring" / "alerts.yml").read_text() == "groups: []\n"
    assert (lab_dir.parent / "base-lab" / "reference" / "capstone" / "registry.py").is_file()  # base untouched


def test_reference_is_assembled_once_per_content(lab_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = assemble_reference(lab_dir, _spec(), cache)
    (first / "marker").write_text("assembled earlier")

    assert assemble_reference(lab_dir, _spec(), cache) == first
    (lab_dir.parent / "base-lab" / "reference" / "Dockerfile").write_text("FROM python:3.12\n")
    changed = assemble_reference(lab_dir, _spec(), cache)
    assert changed != first
    assert (changed / "Dockerfile").read_text() == "FROM python:3.12\n"
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no partial assembly left


def test_a_patch_that_no_longer_applies_names_the_patch_and_the_base(lab_dir: Path, tmp_path: Path) -> None:
    (lab_dir.parent / "base-lab" / "reference" / "app.py").write_text("rewritten\n")

    with pytest.raises(LabError, match=r"reference\.patch does not apply to .*base-lab/reference"):
        assemble_reference(lab_dir, _spec(), tmp_path / "cache")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("base", "../no-such/reference", "reference base '../no-such/reference' is not a folder"),
        ("patch", "missing.patch", "reference patch 'missing.patch' does not exist"),
        ("files", "missing-files", "reference files 'missing-files' is not a folder"),
    ],
)
def test_a_missing_part_is_refused_at_its_line_of_lab_yaml(tmp_path: Path, key: str, value: str,
                                                           message: str) -> None:
    lab = tmp_path / "train-and-test"
    shutil.copytree(REPO_ROOT / "labs" / "train-and-test", lab, ignore=shutil.ignore_patterns("reference"))
    parts = {"base": f"{REPO_ROOT}/labs/train-and-test/reference", key: value}
    text = (lab / "lab.yaml").read_text() + "reference:\n" + "".join(f"  {k}: {v}\n" for k, v in parts.items())
    (lab / "lab.yaml").write_text(text)
    line = text.splitlines().index(f"  {key}: {value}") + 1

    with pytest.raises(LabError, match=rf"lab\.yaml:{line}.*{message}"):
        load_lab(str(lab), project_paths())


def test_the_observe_lab_reference_is_the_capstone_reference_changed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    lab = load_lab("observe", project_paths())

    reference = lab.reference_dir
    assert reference.is_relative_to(tmp_path / "cache")
    assert (reference / "monitoring" / "alerts.yml").is_file()
    assert (reference / "monitoring" / "dashboard.json").is_file()
    assert not (reference / "capstone" / "registry.py").exists()
    assert "joblib" in (reference / "app.py").read_text()
    for name in load_variants(lab):  # every variant's patch applies to the assembled reference
        assert materialize_variant(lab, name, tmp_path / "variants" / name).is_dir()
