"""The docs that follow from the code are regenerated and compared, and the examples in the docs load."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from grader.labs.loading import load_rubric
from grader.labs.manifest import SubmissionManifest, load_manifest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "gen-docs.py"
GENERATED = ("check-types.md", "schemas/lab.schema.json", "schemas/rubric.schema.json",
             "schemas/variant.schema.json", "schemas/capstone.schema.json",
             *(f"guides/{lab.parent.name}.md" for lab in sorted((ROOT / "labs").glob("*/lab.yaml"))))


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_docs = load_generator()


def test_generated_docs_are_up_to_date():
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, f"run `python scripts/gen-docs.py` and commit the result:\n{result.stdout}"


@pytest.mark.parametrize("name", GENERATED)
def test_check_mode_fails_on_a_stale_or_missing_file(tmp_path, capsys, name):
    for generated in GENERATED:
        (tmp_path / generated).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "docs" / generated, tmp_path / generated)
    assert gen_docs.main(["--check", "--docs", str(tmp_path)]) == 0

    (tmp_path / name).write_text((tmp_path / name).read_text() + "edited by hand\n")
    capsys.readouterr()
    assert gen_docs.main(["--check", "--docs", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "edited by hand" in out and "out of date" in err

    (tmp_path / name).unlink()
    assert gen_docs.main(["--check", "--docs", str(tmp_path)]) == 1


def test_generation_writes_what_check_mode_expects(tmp_path):
    assert gen_docs.main(["--docs", str(tmp_path)]) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == sorted(GENERATED)
    assert gen_docs.main(["--check", "--docs", str(tmp_path)]) == 0


def test_every_check_type_and_parameter_is_documented():
    text = (ROOT / "docs" / "check-types.md").read_text(encoding="utf-8")
    for name, check in gen_docs.all_check_types().items():
        section = text.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        assert check.summary.strip().splitlines()[0] in section
        for field in check.params.model_fields:
            assert f"| `{field}` |" in section, (name, field)


def test_the_manifest_schema_is_the_models():
    schema = json.loads((ROOT / "docs" / "schemas" / "capstone.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"] == SubmissionManifest.model_json_schema()["properties"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, re.DOTALL)


def test_the_full_example_manifest_in_the_docs_is_valid(tmp_path):
    text = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    example = yaml_blocks(text.split("## Full example", 1)[1])[0]
    (tmp_path / "capstone.yaml").write_text(example)
    manifest, path = load_manifest(tmp_path, {"model": {"name": "fault-classifier", "alias": "champion"}})
    assert path is not None
    assert manifest.serve.request_format == "features"


def test_the_example_rubric_in_the_lab_docs_is_valid(tmp_path):
    text = (ROOT / "docs" / "labs.md").read_text(encoding="utf-8")
    example = yaml_blocks(text.split("## Rubrics", 1)[1])[0]
    (tmp_path / "rubric.yaml").write_text(example)
    loaded = load_rubric(tmp_path / "rubric.yaml")
    assert [c.id for c in loaded.rubric.checks] == ["training-runs", "model-saved"]
