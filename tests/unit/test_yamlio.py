"""The plain-data YAML reader: mistakes and hostile constructs are errors naming file and line."""

from __future__ import annotations

import pytest

from grader.errors import LabError
from grader.labs.yamlio import load_all_plain, load_yaml


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("id: x\nlimits:\n  memory: 1g\n  memory: 64g\n")
    with pytest.raises(LabError) as raised:
        load_yaml(lab)
    assert str(raised.value).endswith("duplicate key 'memory' (first at line 3)")
    assert raised.value.location == f"{lab}:4"


def test_equal_keys_in_different_mappings_are_fine(tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("a: {name: 1}\nb: {name: 2}\n")
    assert load_yaml(lab).data == {"a": {"name": 1}, "b": {"name": 2}}


def test_multi_document_text_refuses_control_characters_with_the_line():
    with pytest.raises(LabError) as raised:
        load_all_plain("kind: A\n---\nkind: \x1b[31mB\n", "k8s/app.yaml")
    assert raised.value.location == "k8s/app.yaml:3"
    assert "character #x001b is not allowed" in str(raised.value)


def test_multi_document_text_refuses_duplicate_keys_and_aliases():
    with pytest.raises(LabError, match="duplicate key 'kind'"):
        load_all_plain("kind: A\nkind: B\n", "k8s/app.yaml")
    with pytest.raises(LabError, match="aliases"):
        load_all_plain("a: &x 1\n---\nb: *x\n", "k8s/app.yaml")


def test_multi_document_text_returns_every_document():
    assert load_all_plain("kind: A\n---\nkind: B\n", "k8s/app.yaml") == [{"kind": "A"}, {"kind": "B"}]
