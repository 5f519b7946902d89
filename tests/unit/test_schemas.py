"""The JSON Schemas: every lab, rubric and variant in the repository (and the scaffold's and the example
plug-in's) validates against them; the mistakes an editor should flag are flagged; `grader schema` writes
what the docs publish."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from grader.checks import all_check_types
from grader.cli import main
from grader.labs.loading import load_lab
from grader.labs.scaffold import create_lab
from grader.labs.schemas import SCHEMA_FILES, lab_schema, manifest_schema, rubric_schema, schema_text, variant_schema
from grader.paths import project_paths

PATHS = project_paths()
ROOT = PATHS.root
PLUGIN_LABS = ROOT / "examples" / "plugin-example" / "grader_example_plugin" / "labs"


def example_plugin_check():
    """The example plug-in's check type, imported from its source (it is not installed in this process)."""
    source = ROOT / "examples" / "plugin-example" / "grader_example_plugin" / "line_count.py"
    spec = importlib.util.spec_from_file_location("example_line_count", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CHECK


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft202012Validator]:
    types = {**all_check_types(), "line-count": example_plugin_check()}
    schemas = {"lab": lab_schema(), "rubric": rubric_schema(types), "variant": variant_schema()}
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    return {kind: Draft202012Validator(schema) for kind, schema in schemas.items()}


def authored_files(scaffold_dir: Path) -> list[tuple[str, Path]]:
    lab_dirs = sorted(p.parent for p in (ROOT / "labs").glob("*/lab.yaml"))
    lab_dirs += [scaffold_dir, *sorted(p.parent for p in PLUGIN_LABS.glob("*/lab.yaml"))]
    files = [("rubric", path) for path in sorted((ROOT / "rubrics").glob("*.yaml"))]
    for lab_dir in lab_dirs:
        files.append(("lab", lab_dir / "lab.yaml"))
        rubric = yaml.safe_load((lab_dir / "lab.yaml").read_text())["rubric"]
        if (lab_dir / rubric).is_file():
            files.append(("rubric", lab_dir / rubric))
        files += [("variant", path) for path in sorted(lab_dir.glob("variants/*/variant.yaml"))]
    return files


def errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_every_lab_rubric_and_variant_validates_against_the_schemas(validators, tmp_path):
    scaffold = create_lab("scaffolded", tmp_path)
    files = authored_files(scaffold)
    kinds = {kind for kind, _ in files}
    assert kinds == {"lab", "rubric", "variant"} and len(files) >= 30
    problems = {f"{path.relative_to(path.anchor)}": found for kind, path in files
                if (found := errors(validators[kind], yaml.safe_load(path.read_text())))}
    assert problems == {}


RUBRIC = """\
id: demo
title: Demo
sections:
  - id: basics
    title: Basics
    checks:
      - {id: readme, title: Has a README, type: file, points: 1, path: README.md, min_bytes: 10}
      - {id: usage, title: Usage, type: regex, points: 1, needs: [readme], path: README.md, pattern: Usage}
"""


def test_a_valid_rubric_has_no_schema_errors(validators):
    assert errors(validators["rubric"], yaml.safe_load(RUBRIC)) == []


@pytest.mark.parametrize(("change", "expected"), [
    (("pattern: Usage", "patern: Usage"), "sections.0.checks.1: Additional properties are not allowed ('patern'"),
    (("pattern: Usage", "patern: Usage"), "sections.0.checks.1: 'pattern' is a required property"),
    (("type: regex", "type: regexp"), "sections.0.checks.1.type: 'regexp' is not one of ["),
    (("min_bytes: 10", "min_bytes: lots"), "sections.0.checks.0.min_bytes: 'lots' is not of type 'integer'"),
    (("points: 1, path: README.md", "path: README.md"), "sections.0.checks.0: 'points' is a required property"),
    (("id: demo", "id: Demo Rubric"), "id: 'Demo Rubric' does not match"),
], ids=["typo-param", "missing-param", "unknown-type", "wrong-param-type", "missing-points", "bad-id"])
def test_rubric_schema_flags_what_an_editor_should(validators, change, expected):
    document = yaml.safe_load(RUBRIC.replace(*change))
    found = errors(validators["rubric"], document)
    assert any(message.startswith(expected) for message in found), found


def test_a_checks_parameters_follow_its_type(validators):
    # `absent` is a file parameter: fine on a file check, an error on a regex check.
    document = yaml.safe_load(RUBRIC.replace("min_bytes: 10", "absent: true"))
    assert errors(validators["rubric"], document) == []
    document = yaml.safe_load(RUBRIC.replace("pattern: Usage", "pattern: Usage, absent: true"))
    assert errors(validators["rubric"], document) == [
        "sections.0.checks.1: Additional properties are not allowed ('absent' was unexpected)"]


def test_plugin_check_types_are_in_the_rubric_schema_only_when_known():
    plugin = example_plugin_check()
    with_plugin = rubric_schema({**all_check_types(), "line-count": plugin})
    assert "line-count" in with_plugin["$defs"]["CheckSpec"]["properties"]["type"]["enum"]
    assert "min_lines" in with_plugin["$defs"]["check.line-count"]["properties"]
    assert "line-count" not in rubric_schema()["$defs"]["CheckSpec"]["properties"]["type"]["enum"]


@pytest.mark.parametrize(("kind", "document", "expected"), [
    ("lab", {"id": "x", "title": "X", "rubric": "r", "stpes": []}, "Additional properties are not allowed ('stpes'"),
    ("lab", {"id": "x", "title": "X", "rubric": "r", "manifest": {"serve": {"prot": 1}}},
     "manifest.serve: Additional properties are not allowed ('prot'"),
    ("lab", {"id": "x", "title": "X", "rubric": "r", "limits": {"cpus": 0}}, "limits.cpus: 0 is less than or equal"),
    ("variant", {"description": "d", "loses": {"readme": "broken"}}, "loses.readme: 'broken' is not one of"),
    ("variant", {"description": "d"}, ": 'loses' is a required property"),
])
def test_lab_and_variant_schemas_flag_mistakes(validators, kind, document, expected):
    found = errors(validators[kind], document)
    assert any(expected in message for message in found), found


def test_the_manifest_schema_validates_a_manifest():
    validator = Draft202012Validator(manifest_schema())
    assert errors(validator, {"serve": {"port": 8080, "request_format": "instances"}}) == []
    assert errors(validator, {"serve": {"port": "eighty"}}) == ["serve.port: 'eighty' is not of type 'integer'"]


def test_schema_command_prints_one_schema(capsys):
    assert main(["schema", "rubric"]) == 0
    assert json.loads(capsys.readouterr().out) == rubric_schema()


def test_schema_command_writes_every_schema(tmp_path, capsys):
    # The same text as docs/schemas/ publishes: test_docs.py keeps those current.
    assert main(["schema", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SCHEMA_FILES.values())
    for kind, name in SCHEMA_FILES.items():
        assert (tmp_path / name).read_text() == schema_text(kind), name
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["schema"], "give --out DIR to write every schema"),
    (["schema", "labs"], "unknown schema 'labs'; choose one of lab, rubric, variant, manifest or all"),
])
def test_schema_command_refuses_unclear_requests(capsys, argv, message):
    assert main(argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_a_scaffolded_lab_loads_with_its_rubric_in_its_folder(tmp_path):
    folder = create_lab("inline-rubric", tmp_path)
    loaded = load_lab(str(folder), PATHS)
    assert loaded.rubric.path == folder / "rubric.yaml"
