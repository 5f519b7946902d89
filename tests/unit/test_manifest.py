"""The submission manifest: defaults, merging over the lab's defaults, and every kind of mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.errors import LabError
from grader.labs.manifest import SubmissionManifest, load_manifest

LAB_DEFAULTS = {"model": {"name": "fault-classifier", "alias": "champion"}}


def write_manifest(root: Path, text: str, name: str = "capstone.yaml") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


def test_without_a_manifest_the_lab_defaults_apply(tmp_path):
    manifest, path = load_manifest(tmp_path, LAB_DEFAULTS)
    assert path is None
    model = manifest.model
    assert (model.name, model.alias, model.stage) == ("fault-classifier", "champion", None)
    assert manifest.train.command == "python train.py"
    assert manifest.serve.command == "python -m uvicorn app:app --host 0.0.0.0 --port 8000"
    assert (manifest.serve.port, manifest.serve.predict_path, manifest.serve.request_format) == (
        8000, "/predict", "features")
    assert manifest.serve.ready_timeout == 60
    assert (manifest.metrics.path, manifest.metrics_port) == ("/metrics", 8000)
    assert manifest.tests.command is None  # the rubric's pytest check then runs its own test path


def test_without_a_manifest_or_lab_defaults_the_built_in_convention_applies(tmp_path):
    manifest, path = load_manifest(tmp_path)
    assert path is None
    assert manifest == SubmissionManifest()
    assert manifest.model.name == "model" and manifest.model.uri == "models:/model/latest"


def test_a_partial_manifest_is_merged_key_by_key_over_the_defaults(tmp_path):
    write_manifest(tmp_path, """\
        serve:
          port: 9000
          request_format: dataframe_split
        metrics:
          request_counter: http_predictions_total
        model:
          alias: production
    """)
    manifest, path = load_manifest(tmp_path, LAB_DEFAULTS)
    assert path == tmp_path / "capstone.yaml"
    assert (manifest.serve.port, manifest.serve.request_format) == (9000, "dataframe_split")
    assert manifest.serve.predict_path == "/predict"  # untouched keys of a given section keep their default
    assert manifest.metrics_port == 9000  # the metrics port follows the serving port
    assert manifest.metrics.request_counter == "http_predictions_total"
    assert (manifest.model.name, manifest.model.alias) == ("fault-classifier", "production")
    assert manifest.train.command == "python train.py"


def test_the_other_manifest_names_are_found(tmp_path):
    write_manifest(tmp_path, "train: {command: make train}\n", name="grader.yaml")
    manifest, path = load_manifest(tmp_path, LAB_DEFAULTS)
    assert path is not None and path.name == "grader.yaml"
    assert manifest.train.command == "make train"


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("serve:\n  port: 8000\n  prot: 9000\n", 3, "serve.prot: Extra inputs are not permitted"),
    ("train: {command: python train.py}\nmonitorring: {}\n", 2, "monitorring: Extra inputs are not permitted"),
    ("serve:\n  request_format: csv\n", 2, "serve.request_format: Input should be 'flat', 'features'"),
    ("serve:\n  predict_path: predict\n", 2, "serve.predict_path: Value error, must be an absolute URL path"),
    ("serve:\n  predict_path: /predict?x=1\n", 2, "serve.predict_path: Value error, must be an absolute URL"),
    ("serve:\n  port: 70000\n", 2, "serve.port: Input should be less than or equal to 65535"),
], ids=["unknown-key", "unknown-section", "request-format", "relative-path", "query-in-path", "port"])
def test_a_mistake_names_the_manifest_its_line_and_the_field(tmp_path, text, line, fragment):
    write_manifest(tmp_path, text)
    with pytest.raises(LabError) as caught:
        load_manifest(tmp_path, LAB_DEFAULTS)
    message = str(caught.value)
    assert message.startswith(f"capstone.yaml:{line}: ")
    assert fragment in message
    assert str(tmp_path) not in message  # the candidate sees the file name, not the grader's temporary path


def test_a_manifest_that_is_not_a_mapping_is_refused(tmp_path):
    write_manifest(tmp_path, "- train\n- serve\n")
    with pytest.raises(LabError, match=r"capstone\.yaml:1: the manifest must be a mapping"):
        load_manifest(tmp_path, LAB_DEFAULTS)


def test_a_yaml_alias_is_refused_with_its_line(tmp_path):
    write_manifest(tmp_path, """\
        train: &cmd
          command: python train.py
        tests: *cmd
    """)
    with pytest.raises(LabError, match=r"capstone\.yaml:3: YAML aliases \(\*name\) are not allowed"):
        load_manifest(tmp_path, LAB_DEFAULTS)


@pytest.mark.parametrize("text", ["train: &cmd\n  command: x\ntests: *cmd\n", "train: [unclosed\n"],
                         ids=["alias", "syntax"])
def test_a_yaml_error_names_the_manifest_without_the_graders_temporary_path(tmp_path, text):
    write_manifest(tmp_path, text)
    with pytest.raises(LabError) as caught:
        load_manifest(tmp_path, LAB_DEFAULTS)
    assert str(caught.value).startswith("capstone.yaml:")


def test_a_yaml_tag_is_refused(tmp_path):
    write_manifest(tmp_path, "train: !!python/object/apply:os.system [id]\n")
    with pytest.raises(LabError, match=r"capstone\.yaml:1: invalid YAML"):
        load_manifest(tmp_path, LAB_DEFAULTS)


def test_a_symlinked_manifest_is_ignored_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = write_manifest(outside, "train: {command: cat /etc/shadow}\n", name="evil.yaml")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "capstone.yaml").symlink_to(target)
    manifest, path = load_manifest(submission, LAB_DEFAULTS)
    assert path is None
    assert manifest.train.command == "python train.py"


def test_a_symlinked_manifest_does_not_hide_a_real_one_under_another_name(tmp_path):
    write_manifest(tmp_path, "train: {command: make train}\n", name="capstone.yml")
    (tmp_path / "capstone.yaml").symlink_to(tmp_path / "capstone.yml")
    manifest, path = load_manifest(tmp_path, LAB_DEFAULTS)
    assert path == tmp_path / "capstone.yml"
    assert manifest.train.command == "make train"
