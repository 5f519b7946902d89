"""`grader check` as a candidate runs it: in a copy of the mlops-capstone reference and of a broken variant,
with the lab's public bundle. The public checks must end exactly as in the real grading of the same
submission (shared with the other tests), the hidden check must not run, report.md must carry the same hints,
and the exit code must follow the required public checks.

One lab, two submissions: ``wrong-target`` loses a hidden check (``holdout-accuracy``) and a required public
one that scores on hidden rows (``beats-baseline``), which the bundle replaces by a public stand-in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.cli import main
from grader.labs.loading import load_lab, materialize_variant
from grader.labs.pack import pack_public_bundle
from grader.models import Report, Status, Visibility
from grader.paths import project_paths

LAB = "mlops-capstone"
BROKEN = "wrong-target"
PATHS = project_paths()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("bundle") / f"{LAB}-public.tar.gz"
    pack_public_bundle(LAB, PATHS, archive)
    return archive


def candidate_copy(name: str, dest: Path) -> Path:
    """The submission as a candidate holds it: a folder of their own (never the lab's)."""
    lab = load_lab(LAB, PATHS)
    if name == "reference":
        return Path(shutil.copytree(lab.reference_dir, dest))
    return materialize_variant(lab, name, dest)


def self_check(repository: Path, bundle: Path, out: Path, *extra: str) -> tuple[int, Report, str]:
    code = main(["check", str(repository), "--lab", str(bundle), "--out", str(out), "-q", *extra])
    report = Report.model_validate(json.loads((out / "report.json").read_text()))
    return code, report, (out / "report.md").read_text(encoding="utf-8")


def public_statuses(report: Report) -> dict[str, Status]:
    return {c.id: c.status for c in report.checks if c.visibility is Visibility.public}


@pytest.mark.parametrize("name", ["reference", BROKEN])
def test_self_check_gives_the_public_results_of_the_real_grading(graded, bundle, tmp_path, capsys, name):
    real = graded(LAB, name).report
    code, report, markdown = self_check(candidate_copy(name, tmp_path / "repo"), bundle, tmp_path / "out")

    assert report.outcome == "graded", report.error
    assert public_statuses(report) == public_statuses(real)
    assert {c.id: c.hint for c in report.checks} == {c.id: c.hint for c in real.checks if c.id in public_statuses(real)}
    hidden = {c.id for c in real.checks if c.visibility is Visibility.hidden}
    assert hidden == {"holdout-accuracy"}
    assert hidden.isdisjoint(c.id for c in report.checks)
    assert "## Hidden checks" not in markdown
    assert "1 hidden check worth 8 points did not run" in markdown
    assert "public stand-ins (holdout: data/valid.csv)" in markdown
    err = " ".join(capsys.readouterr().err.split())
    assert "not run here: 1 hidden check worth 8 points" in err
    assert f"report.md: {tmp_path / 'out' / 'report.md'}" in err
    if name == "reference":
        assert code == 0
        assert report.score == report.max_score == real.max_score - 8
        assert "fix first" not in err
        return
    assert code == 1  # a required public check fails
    assert public_statuses(report)["beats-baseline"] is Status.failed
    baseline = next(c for c in report.checks if c.id == "beats-baseline")
    assert "does not beat the majority-class baseline" in baseline.message
    assert "fix first: beats-baseline" in err
    assert "required checks not passing: beats-baseline" in err
    # The candidate reads the same failure and hint as in the real report.md.
    assert "beats-baseline" in markdown and "majority-class baseline" in markdown
