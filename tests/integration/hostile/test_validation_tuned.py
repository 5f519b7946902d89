"""A model fitted on the validation rows is flagged: its logged ``val_accuracy`` is honest about the rows it
memorised (so ``metric-honest`` is fooled), but sits above the hidden-data score by more than chance explains.

One real grading of the mlops-capstone reference whose training fits a 1-nearest-neighbour model on train +
valid, against a copy of the lab whose rubric adds ``model-quality`` with ``claimed_metric: val_accuracy``.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml

from grader.paths import project_paths

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import integrity_support as support  # noqa: E402

PATHS = project_paths()
LAB = PATHS.root / "labs" / "mlops-capstone"
GAP_CHECK = {"id": "not-tuned-on-validation", "title": "The validation score holds on hidden data",
             "type": "model-quality", "points": 3, "claimed_metric": "val_accuracy", "needs": ["model-registered"]}
HONEST_FIT = "model = build_pipeline().fit(x_train, y_train)"
TUNED_FIT = ("model = Pipeline([('scale', StandardScaler()), ('clf', KNeighborsClassifier(n_neighbors=1))]).fit(\n"
             "            pd.concat([x_train, x_valid]), pd.concat([y_train, y_valid]))")


def lab_with_gap_check(folder: Path) -> Path:
    shutil.copytree(LAB, folder, ignore=shutil.ignore_patterns("reference", "variants"))
    rubric = yaml.safe_load((PATHS.root / "rubrics" / "mlops-capstone.yaml").read_text())
    section = next(s for s in rubric["sections"] if any(c["id"] == "holdout-accuracy" for c in s["checks"]))
    section["checks"].append(GAP_CHECK)
    (folder / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    lab = (folder / "lab.yaml").read_text().replace("rubric: mlops-capstone\n", "rubric: rubric.yaml\n")
    (folder / "lab.yaml").write_text(lab)
    return folder


def tuned_submission(folder: Path) -> Path:
    shutil.copytree(LAB / "reference", folder)
    train = (folder / "train.py").read_text()
    assert HONEST_FIT in train
    train = train.replace(HONEST_FIT, TUNED_FIT).replace(
        "from sklearn.preprocessing import StandardScaler\n",
        "from sklearn.neighbors import KNeighborsClassifier\nfrom sklearn.preprocessing import StandardScaler\n")
    (folder / "train.py").write_text(train)
    return folder


def test_a_model_fitted_on_the_validation_rows_is_flagged(tmp_path: Path, docker_client, runtime_image) -> None:
    lab = lab_with_gap_check(tmp_path / "lab")
    submission = tuned_submission(tmp_path / "submission")
    out = tmp_path / "out"

    result = support.run_grade(submission, lab, out, scratch=tmp_path / "scratch")

    report = support.read_report(out)
    checks = {check["id"]: check for check in report["checks"]}
    assert checks["metric-honest"]["status"] == "pass", checks["metric-honest"]  # the claim is true on valid
    gap = checks["not-tuned-on-validation"]
    assert gap["status"] == "fail", (gap, result.stderr)
    assert gap["message"].startswith("the logged val_accuracy is higher than the model scores on hidden data by "
                                     "more than chance explains: ")
    assert re.findall(r"\d\.\d", gap["message"]) == []  # no hidden number reaches the candidate
    evidence = gap["evidence"]
    assert evidence["claimed"] == 1.0 and evidence["gap_z"] > evidence["gap_z_limit"] == 3.0
    assert evidence["validation_rows"] == 200 and evidence["rows"] == 400
    assert "more than chance explains" in (out / "report.md").read_text()
