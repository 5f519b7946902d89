"""Lab and rubric loading: valid files load, every kind of mistake names its file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.cli import main
from grader.errors import LabError
from grader.labs.loading import list_lab_ids, load_lab, load_rubric, load_variants, materialize_variant
from grader.paths import project_paths

GOOD_RUBRIC = """\
id: demo
title: Demo
sections:
  - id: basics
    title: Basics
    checks:
      - id: readme
        title: Has a README
        type: file
        points: 1
        path: README.md
      - id: readme-usage
        title: README has usage
        type: regex
        points: 2
        needs: [readme]
        path: README.md
        pattern: Usage
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_a_valid_rubric_loads_with_validated_parameters(tmp_path):
    loaded = load_rubric(write(tmp_path / "r.yaml", GOOD_RUBRIC))
    assert loaded.rubric.max_score == 3
    assert loaded.params["readme-usage"].pattern == "Usage"
    assert loaded.digest.startswith("sha256:")


@pytest.mark.parametrize(("mutation", "line", "fragment"), [
    (("points: 2", "points: lots"), 15, "sections.0.checks.1.points: Input should be a valid number"),
    (("pattern: Usage", "patern: Usage"), 18, "sections.0.checks.1.patern: Extra inputs are not permitted"),
    (("pattern: Usage", "pattern: '(unclosed'"), 18, "invalid regular expression"),
    (("type: regex", "type: regexp"), 14, "unknown check type 'regexp'; known types:"),
    (("needs: [readme]", "needs: [later]"), 16, "check 'readme-usage' needs ['later']: needs must name earlier"),
    (("id: readme-usage", "id: readme"), 12, "check id 'readme' is used twice"),
    (("title: Basics", "title: [unclosed"), 6, "invalid YAML"),
    (("id: demo", "id: Not An Id"), 1, "id: String should match pattern"),
], ids=["wrong-type", "typo-param", "bad-regex", "unknown-type", "bad-needs", "duplicate-id", "yaml-syntax", "bad-id"])
def test_rubric_errors_name_file_line_and_field(tmp_path, mutation, line, fragment):
    path = write(tmp_path / "r.yaml", GOOD_RUBRIC.replace(*mutation))
    with pytest.raises(LabError) as caught:
        load_rubric(path)
    assert f"{path}:{line}:" in str(caught.value)
    assert fragment in str(caught.value)


def test_yaml_with_python_tags_or_alias_bombs_is_refused(tmp_path):
    tagged = write(tmp_path / "tag.yaml", "id: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    with pytest.raises(LabError, match="could not determine a constructor"):
        load_rubric(tagged)
    bomb = write(tmp_path / "bomb.yaml", 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n')
    with pytest.raises(LabError, match=r"bomb.yaml:2: YAML aliases \(\*name\) are not allowed"):
        load_rubric(bomb)


def test_built_in_labs_and_their_variants_load():
    paths = project_paths()
    assert "train-and-test" in list_lab_ids(paths)
    for lab_id in list_lab_ids(paths):
        lab = load_lab(lab_id, paths)
        assert lab.reference_dir.is_dir()
        assert len(load_variants(lab)) >= 2, lab_id  # each variant is a full grading in CI: few, each losing much


def test_a_variant_is_the_reference_with_its_changes(tmp_path):
    lab = load_lab("train-and-test", project_paths())
    root = materialize_variant(lab, "no-dockerfile", tmp_path / "v")
    assert not (root / "Dockerfile").exists() and (root / "train.py").is_file()
    with pytest.raises(LabError, match="has no variant 'nope'"):
        materialize_variant(lab, "nope", tmp_path / "w")


def test_lab_with_bad_step_reference_names_the_line(tmp_path):
    home = tmp_path / "home"
    write(home / "rubrics" / "demo.yaml", GOOD_RUBRIC)
    lab_file = write(home / "labs" / "demo" / "lab.yaml", """\
        id: demo
        title: Demo
        rubric: demo
        steps:
          - id: train
            run: python train.py
          - id: test
            run: pytest
            needs: [deploy]
            limits: {memory: lots}
        """)
    with pytest.raises(LabError) as caught:
        load_lab("demo", project_paths(home))
    assert str(lab_file) in str(caught.value)
    assert "memory" in str(caught.value) and "invalid size 'lots'" in str(caught.value)


@pytest.mark.parametrize(("argv", "code", "fragment"), [
    (["grade", "x", "--lab", "no-such-lab"], 2, "no lab 'no-such-lab'"),
    (["grade", "/no/such/path", "--lab", "train-and-test"], 2, "/no/such/path"),
    (["rubric", "validate", "/no/such/rubric.yaml"], 2, "no such file"),
    (["frobnicate"], 2, "invalid choice"),
    (["grade", "x"], 2, "--lab"),
    (["grade", "x", "--lab", "train-and-test", "--backend", "nomad"], 2, "unknown sandbox backend 'nomad'"),
])
def test_cli_bad_input_exits_2_with_a_specific_message(capsys, argv, code, fragment):
    assert main(argv) == code
    assert fragment in capsys.readouterr().err.replace("\n", "")


def test_cli_rubric_validate_reports_file_and_line(tmp_path, capsys):
    path = write(tmp_path / "r.yaml", GOOD_RUBRIC.replace("points: 2", "points: -2"))
    assert main(["rubric", "validate", str(path)]) == 2
    assert f"{path}:15:" in capsys.readouterr().err.replace("\n", "")
    assert main(["rubric", "validate", str(write(tmp_path / "ok.yaml", GOOD_RUBRIC))]) == 0


def test_cli_lab_list_and_show(capsys):
    assert main(["lab", "list"]) == 0
    assert "train-and-test" in capsys.readouterr().out
    assert main(["lab", "show", "train-and-test"]) == 0
    shown = capsys.readouterr().out
    assert "unit-tests" in shown and "training-crashes" in shown
