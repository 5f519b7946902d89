"""A model fitted on the validation rows is flagged: its logged ``val_accuracy`` is honest about the rows it
memorised (so ``metric-honest`` is fooled), but sits above the hidden-data score by more than chance explains.

One real grading of the mlops-capstone reference whose training fits a 1-nearest-neighbour model on the
validation rows and on training rows with shuffled labels, against a copy of the lab whose rubric adds
``model-quality`` with ``claimed_metric: val_accuracy``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import integrity_support as support  # noqa: E402
from capstone_copies import lab_with_check, patched_reference  # noqa: E402

GAP_CHECK = {"id": "not-tuned-on-validation", "title": "The validation score holds on hidden data",
             "type": "model-quality", "points": 3, "claimed_metric": "val_accuracy", "needs": ["model-registered"]}
HONEST_FIT = "model = build_pipeline().fit(x_train, y_train)"
# Memorises the validation rows (distance 0 to themselves) beside training rows whose labels are shuffled: its
# val_accuracy is a true 1.0, its hidden score far lower.
TUNED_FIT = ("model = Pipeline([('scale', StandardScaler()),\n"
             "                      ('clf', KNeighborsClassifier(n_neighbors=1, algorithm='brute'))]).fit(\n"
             "            pd.concat([x_valid, x_train]), pd.concat([y_valid, y_train.sample(frac=1, random_state=0)]))")
SCALER_IMPORT = "from sklearn.preprocessing import StandardScaler\n"


def test_a_model_fitted_on_the_validation_rows_is_flagged(tmp_path: Path, docker_client, runtime_image) -> None:
    lab = lab_with_check(tmp_path / "lab", GAP_CHECK)
    knn_import = "from sklearn.neighbors import KNeighborsClassifier\n" + SCALER_IMPORT
    submission = patched_reference(tmp_path / "submission", "train.py",
                                   [(HONEST_FIT, TUNED_FIT), (SCALER_IMPORT, knn_import)])
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
    assert evidence["claimed"] >= 0.99 and evidence["gap_z"] > evidence["gap_z_limit"] == 3.0
    assert evidence["validation_rows"] == 200 and evidence["rows"] == 400
    assert "more than chance explains" in (out / "report.md").read_text()
