"""`grader lab new`: the scaffold is a valid, self-contained lab whose variant applies; bad ids and
existing labs are refused with exit code 2 and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cli import main
from grader.labs.loading import load_lab, load_variants, materialize_variant
from grader.labs.scaffold import TEMPLATES, create_lab
from grader.paths import project_paths

PATHS = project_paths()


def new_lab(tmp_path: Path, *args: str) -> int:
    return main(["lab", "new", "--dir", str(tmp_path), *args])


def test_scaffolded_lab_loads_and_its_variant_breaks_only_the_metrics_file(tmp_path, capsys):
    assert new_lab(tmp_path, "first-lab") == 0
    assert f"created lab first-lab in {tmp_path / 'first-lab'}" in " ".join(capsys.readouterr().out.split())
    folder = tmp_path / "first-lab"
    loaded = load_lab(str(folder), PATHS)
    assert (loaded.lab.id, loaded.rubric.rubric.id, loaded.lab.title) == ("first-lab", "first-lab", "First lab")
    assert [c.id for c in loaded.rubric.rubric.checks] == ["readme", "training-runs", "metrics-saved", "unit-tests"]
    variants = load_variants(loaded)
    assert {name: dict(v.loses) for name, v in variants.items()} == {"wrong-metrics-key": {"metrics-saved": "fail"}}

    broken = materialize_variant(loaded, "wrong-metrics-key", tmp_path / "broken")
    reference = (folder / "reference" / "train.py").read_text()
    assert '{"accuracy": score}' in reference
    assert '{"acc": score}' in (broken / "train.py").read_text()
    assert not list(folder.rglob("*.tmpl"))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "data/train.csv", "lab.yaml", "reference/README.md", "reference/tests/test_train.py", "reference/train.py",
        "rubric.yaml", "variants/wrong-metrics-key/changes.patch", "variants/wrong-metrics-key/variant.yaml"]


def test_a_title_with_yaml_syntax_is_kept_as_written(tmp_path):
    assert new_lab(tmp_path, "drift-2", "--title", 'Drift: part #2 "hard"') == 0
    loaded = load_lab(str(tmp_path / "drift-2"), PATHS)
    assert loaded.lab.title == loaded.rubric.rubric.title == 'Drift: part #2 "hard"'


@pytest.mark.parametrize(("args", "message"), [
    (["My Lab"], "invalid lab id 'My Lab': use lowercase letters, digits and _ . -"),
    (["--", "-starts-with-dash"], "invalid lab id '-starts-with-dash'"),
    (["a" * 65], "invalid lab id"),
    (["train-and-test"], "a lab 'train-and-test' already exists (see `grader lab list`)"),
    (["fresh", "--from", "fancy"], "no lab template 'fancy'; templates: basic"),
], ids=["spaces", "leading-dash", "too-long", "existing-lab", "unknown-template"])
def test_bad_ids_and_templates_are_refused_and_nothing_is_written(tmp_path, capsys, args, message):
    assert new_lab(tmp_path, *args) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert new_lab(tmp_path, "taken") == 2
    assert f"{tmp_path / 'taken'} already exists" in " ".join(capsys.readouterr().err.split())
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]


def test_yaml_files_point_at_their_schema_relative_inside_a_repository(tmp_path):
    schemas = tmp_path / "docs" / "schemas"
    folder = create_lab("beside", tmp_path / "labs", schema_dir=schemas)
    assert (folder / "lab.yaml").read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=../../docs/schemas/lab.schema.json")
    assert (folder / "variants" / "wrong-metrics-key" / "variant.yaml").read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=../../../../docs/schemas/variant.schema.json")
    assert "yaml-language-server" not in (folder / "variants" / "wrong-metrics-key" / "changes.patch").read_text()


def test_without_schemas_the_files_carry_no_schema_comment(tmp_path):
    folder = create_lab("plain", tmp_path)
    assert not (folder / "rubric.yaml").read_text().startswith("# yaml-language-server")


def test_the_template_python_files_are_not_collected_or_linted_as_the_graders():
    # .tmpl keeps pytest, ruff and mypy runs over grader/ from treating the template's code as the grader's.
    assert not list(TEMPLATES.rglob("*.py"))
    assert list(TEMPLATES.rglob("*.py.tmpl"))
