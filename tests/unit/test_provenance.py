"""What a grade was computed from: the lab's content digest follows what grading reads (lab.yaml and data,
not the reference), and every report shows lab, rubric, image and plug-in provenance."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.labs.loading import LoadedLab, load_lab
from grader.labs.provenance import lab_digest
from grader.labs.scaffold import create_lab
from grader.models import Report
from grader.paths import project_paths
from grader.results.report import render

PATHS = project_paths()


@pytest.fixture
def lab_folder(tmp_path) -> Path:
    return create_lab("digested", tmp_path)


def digest_of(folder: Path) -> str:
    loaded: LoadedLab = load_lab(str(folder), PATHS)
    return lab_digest(loaded)


def test_the_lab_digest_is_stable_and_independent_of_where_the_lab_lives(lab_folder, tmp_path):
    first = digest_of(lab_folder)
    assert first.startswith("sha256:") and first == digest_of(lab_folder)
    moved = shutil.copytree(lab_folder, tmp_path / "elsewhere" / "digested")
    assert digest_of(moved) == first


@pytest.mark.parametrize(("edit", "changes"), [
    (lambda lab: (lab / "data" / "train.csv").write_text("width,height,label\n1,2,small\n"), True),
    (lambda lab: (lab / "lab.yaml").write_text((lab / "lab.yaml").read_text().replace("timeout: 120", "timeout: 90")),
     True),
    (lambda lab: (lab / "reference" / "README.md").write_text("changed"), False),
    (lambda lab: (lab / "variants" / "wrong-metrics-key" / "variant.yaml").write_text(
        "description: d\nloses: {metrics-saved: fail}\n"), False),
], ids=["data", "lab-file", "reference", "variant"])
def test_the_lab_digest_changes_with_what_grading_reads_only(lab_folder, edit, changes):
    before = digest_of(lab_folder)
    edit(lab_folder)
    assert (digest_of(lab_folder) != before) is changes


def test_hidden_data_counts_in_the_lab_digest(lab_folder):
    (lab_folder / "hidden").mkdir()
    (lab_folder / "hidden" / "holdout.csv").write_text("width,height,label\n")
    text = (lab_folder / "lab.yaml").read_text()
    (lab_folder / "lab.yaml").write_text(text + "hidden:\n  holdout: hidden/holdout.csv\n")
    before = digest_of(lab_folder)
    (lab_folder / "hidden" / "holdout.csv").write_text("width,height,label\n1,1,small\n")
    assert digest_of(lab_folder) != before


def provenance_report() -> Report:
    return Report(
        grader_version="9.8.7", run_id="run1", started_at="2026-01-01T00:00:00+00:00",
        lab={"id": "demo", "version": "3", "title": "Demo", "digest": "sha256:lab"},
        rubric={"id": "demo-rubric", "version": "2", "digest": "sha256:rubric"},
        images={"runtime": "sha256:image"}, plugins={"line-count": "capstone-grader-example-plugin 0.1.0"},
    )


def test_the_candidate_report_footer_names_what_the_grade_was_computed_from():
    footer = render(provenance_report(), "md").split("\n---\n", 1)[1]
    assert "Run run1, grader 9.8.7" in footer
    assert ("Lab demo v3 (sha256:lab); rubric demo-rubric v2 (sha256:rubric); image runtime sha256:image; "
            "check type line-count from capstone-grader-example-plugin 0.1.0") in footer


def test_the_reviewer_report_lists_the_provenance():
    page = render(provenance_report(), "html")
    for row in ("<th>Lab digest</th><td>sha256:lab</td>", "<th>Rubric digest</th><td><code>sha256:rubric</code>",
                "<th>Image runtime</th><td><code>sha256:image</code>",
                "<th>Check type line-count</th><td>capstone-grader-example-plugin 0.1.0</td>",
                "<th>Grader version</th><td>9.8.7</td>"):
        assert row in page, row
