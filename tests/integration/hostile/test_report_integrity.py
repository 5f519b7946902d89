"""Hostile corpus, report integrity: nothing a submission says about itself becomes its grade.

One hostile MLOps capstone does everything at once and is graded once (a capstone run costs ~40 s); each
behaviour is then asserted as its own case. A second, cheap grading covers the train-and-test lab, whose
artifacts could be committed instead of produced.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from grader.labs.loading import load_lab
from grader.models import Report, Status
from grader.results.report.html import CONTENT_SECURITY_POLICY
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.docker.engine import DockerEngine

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import integrity_support as support  # noqa: E402

PATHS = support.PATHS
LOST = {"metric-honest": "fail", "request-counter": "fail", "metric-names": "fail"}


def grader_objects(client, run_id: str) -> list[str]:
    label = {"label": f"capstone-grader.run={run_id}"}
    found = [c.name for c in client.containers.list(all=True, filters=label)]
    found += [n.name for n in client.networks.list(filters=label)]
    return found + [v.name for v in client.volumes.list(filters=label)]


class Graded:
    """One grading's report, its files and what the hostile submission tried."""

    def __init__(self, report: Report, out: Path, capstone: support.HostileCapstone, leftovers: list[str]) -> None:
        self.report, self.out, self.capstone, self.leftovers = report, out, capstone, leftovers
        self.json = (out / "report.json").read_text(encoding="utf-8")
        self.md = (out / "report.md").read_text(encoding="utf-8")
        self.html = (out / "report.html").read_text(encoding="utf-8")

    def check(self, check_id: str) -> Any:
        return next(c for c in self.report.checks if c.id == check_id)

    def step(self, step_id: str) -> Any:
        return next(s for s in self.report.steps if s.id == step_id)

    def service(self, service_id: str) -> Any:
        return next(s for s in self.report.services if s.id == service_id)


@pytest.fixture(scope="module")
def hostile(docker_client, runtime_image, tmp_path_factory) -> Graded:
    base = tmp_path_factory.mktemp("hostile-capstone")
    out = base / "out"
    markers = base / "markers"
    capstone = support.hostile_capstone(base / f"capstone {support.IMG}{support.ANSI}", out, markers)
    outcome = grade_submission(str(capstone.root), "mlops-capstone", PATHS, DockerEngine(PATHS, docker_client),
                               GradeOptions(out_dir=out, store=False))
    return Graded(outcome.report, out, capstone, grader_objects(docker_client, outcome.report.run_id))


# --- the verdict is the grader's ------------------------------------------------------------------


def test_only_the_declared_checks_are_lost_and_the_rest_of_the_report_is_produced(hostile: Graded) -> None:
    lost = {c.id: c.status.value for c in hostile.report.checks if c.status != Status.passed}
    assert lost == LOST, {c.id: c.message for c in hostile.report.checks if c.status != Status.passed}
    assert hostile.report.outcome == "graded" and hostile.report.error is None
    assert len(hostile.report.checks) == len(load_lab("mlops-capstone", PATHS).rubric.rubric.checks)
    assert hostile.leftovers == []


def test_a_fake_score_and_report_printed_on_stdout_change_nothing(hostile: Graded) -> None:
    train = hostile.step("train")
    assert train.exit_code == 0
    assert "SCORE: 100/100 PASSED" in train.stdout and '"passed": true' in train.stdout
    assert 'GRADER-PROBE-RESULT {"predictions": {"holdout": ["none"]}}' in train.stdout
    expected = sum(c.max_points for c in hostile.report.checks if c.id not in LOST)
    assert hostile.report.score == sum(c.points for c in hostile.report.checks) == expected == 86
    assert hostile.report.max_score == 100


def test_fake_report_files_in_the_sandbox_never_reach_the_out_folder(hostile: Graded, tmp_path: Path) -> None:
    train = hostile.step("train")
    for path in hostile.capstone.fake_reports:  # written inside the sandbox only (its /work and /tmp)
        assert f"fake report written: {path}" in train.stdout
    assert sorted(p.name for p in hostile.out.iterdir()) == ["report.html", "report.json", "report.md"]
    written = json.loads(hostile.json)
    assert written["run_id"] == hostile.report.run_id
    assert written["score"] == sum(c["points"] for c in written["checks"]) == 86
    host_tmp = Path("/tmp") / f"grader-hostile-{hostile.capstone.root.parent.name}.json"
    assert not host_tmp.exists()


# --- claimed beside measured ----------------------------------------------------------------------


def test_an_inflated_mlflow_metric_fails_with_claimed_and_measured(hostile: Graded) -> None:
    check = hostile.check("metric-honest")
    match = re.fullmatch(r"val_accuracy: claimed 0\.9990 but the registered model scores (0\.\d{4}) on valid "
                         r"\(tolerance 0\.02\)", check.message)
    assert match, check.message
    evidence = check.evidence
    assert evidence["claimed"] == support.CLAIMED_ACCURACY
    assert f"{evidence['measured']:.4f}" == match.group(1) and evidence["measured"] < 0.979
    assert f"claimed 0.9990 but the registered model scores {match.group(1)}" in hostile.md
    assert escape('"claimed": 0.999') in hostile.html and escape(f'"measured": {evidence["measured"]}') in hostile.html


def test_the_grade_uses_the_measured_accuracy_not_the_claim(hostile: Graded) -> None:
    holdout = hostile.check("holdout-accuracy")
    assert holdout.status == Status.passed and holdout.points == holdout.max_points
    assert 0.8 <= holdout.evidence["score"] < 0.999
    assert hostile.check("metrics-logged").status == Status.passed  # the claim was logged; it is not believed


def test_a_prometheus_counter_claiming_more_requests_than_sent_fails(hostile: Graded) -> None:
    check = hostile.check("request-counter")
    sent = check.evidence["measured_requests_sent"]  # drawn per run above the rubric's 20
    assert 20 < sent <= 33
    assert check.message == (f"request counter prediction_requests moved by {2 * sent} but the probe sent {sent} "
                             "requests")
    assert check.evidence["claimed_delta"] == 2 * sent
    assert hostile.check("latency-histogram").status == Status.passed


# --- a model that runs code when unpickled --------------------------------------------------------


def test_a_model_that_runs_code_on_load_never_runs_on_the_host(hostile: Graded) -> None:
    for marker in hostile.capstone.host_markers:
        assert not marker.exists(), f"the registered model's code ran on the host: {marker}"
    findings = support.findings_in(hostile.service("model-server").log_tail)  # it did run: in the sandbox
    assert findings["docker_socket"] is False
    assert findings["hidden_files"] == []
    assert findings["network"] == "unreachable"


def test_a_model_that_runs_code_on_load_is_still_measured_on_features_only(hostile: Graded) -> None:
    # The model answers "leaked" for every row if its load-time code found the hidden labels, a route out or
    # the Docker socket, or if it was given more than the feature columns; a forged evaluator line it printed
    # claims one prediction per data set. The measured scores show none of that happened or was believed.
    for check_id in ("holdout-accuracy", "beats-baseline", "predictions-match", "model-signature"):
        assert hostile.check(check_id).status == Status.passed, hostile.check(check_id).message
    rows = hostile.check("holdout-accuracy").evidence["rows"]
    assert rows > 1 and hostile.check("holdout-accuracy").message.endswith(f"on {rows} hidden rows")


# --- markup and escapes stay inert in every report ------------------------------------------------

NOISE = [support.SCRIPT, support.IMG, "\x1b[", "\x1b]8;;", "\u202e"]


@pytest.mark.parametrize("where", ["step output", "file names", "metric names", "mlflow params"])
def test_hostile_text_is_recorded_in_json_and_escaped_in_html_and_markdown(hostile: Graded, where: str) -> None:
    report = json.loads(hostile.json)  # valid JSON whatever the submission printed
    if where == "step output":
        recorded = next(s for s in report["steps"] if s["id"] == "train")["stdout"]
        assert support.LOG_NOISE in recorded  # the JSON is the complete record
    elif where == "file names":
        recorded = report["submission"]["source"]
        assert recorded == str(hostile.capstone.root)
        assert hostile.check("ci-workflow").evidence["files"] == [f".github/workflows/{support.HOSTILE_WORKFLOW}"]
    elif where == "metric names":
        check = hostile.check("metric-names")
        assert check.message == f"1 naming problem(s): {support.HOSTILE_METRIC}: not snake_case"
        recorded = check.message
    else:
        params = hostile.check("params-logged").evidence["params"]
        assert params["notes"] == support.PARAM_NOISE
        recorded = params["notes"]
        refusals = [line for line in hostile.step("train").stdout.splitlines() if "metric name" in line]
        assert len(refusals) == 2 and all(r.startswith("metric name refused by MLflow: ") for r in refusals), refusals
        assert set(hostile.check("metrics-logged").evidence["metrics"]) == {"train_accuracy", "val_accuracy"}
    assert recorded
    assert_inert(hostile.html, hostile.md)


def assert_inert(page: str, markdown: str) -> None:
    for text in (page, markdown):
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert "<script" not in text.lower() and "<img" not in text.lower()
    assert f'<meta http-equiv="Content-Security-Policy" content="{escape(CONTENT_SECURITY_POLICY)}">' in page
    assert escape(support.SCRIPT) in page  # shown, as text
    assert support.SCRIPT.replace("<", "&lt;").replace(">", "&gt;") in markdown


def test_the_candidate_report_escapes_the_hostile_metric_name_in_its_message(hostile: Graded) -> None:
    row = next(line for line in hostile.md.splitlines() if line.startswith("| metric-names "))
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;: not snake\\_case |" in row
    assert "capstone &lt;img src=x onerror=alert(1)&gt;" in hostile.md  # the submission's folder name


# --- train-and-test: artifacts come from the step, not from the repository ------------------------


def test_committed_artifacts_do_not_pass_for_what_training_produced(docker_client, runtime_image, tmp_path) -> None:
    lab = load_lab("train-and-test", PATHS)
    submission = tmp_path / "submission"
    support.shutil.copytree(lab.reference_dir, submission)
    train = (submission / "train.py").read_text()
    honest_end = train[train.index("    args.out.mkdir"):train.index('if __name__')]
    fake_end = ('    print("accuracy: 0.990")\n    print(\'{"score": 17, "max_score": 17, "passed": true}\')\n\n\n')
    (submission / "train.py").write_text(train.replace(honest_end, fake_end))
    (submission / "artifacts").mkdir()
    (submission / "artifacts" / "metrics.json").write_text('{"accuracy": 0.99}')
    (submission / "artifacts" / "model.joblib").write_bytes(b"not a model " * 20)
    (submission / "report.json").write_text('{"score": 17, "max_score": 17, "passed": true}')

    out = tmp_path / "out"
    outcome = grade_submission(str(submission), "train-and-test", PATHS, DockerEngine(PATHS, docker_client),
                               GradeOptions(out_dir=out, store=False))

    report = outcome.report
    lost = {c.id: (c.status.value, c.message) for c in report.checks if c.status != Status.passed}
    assert lost == {
        "model-saved": ("fail", "artifacts/model.joblib: 0 found in the artifacts, at least 1 expected"),
        "metrics-saved": ("fail", "no file matches artifacts/metrics.json"),
    }
    assert next(s for s in report.steps if s.id == "train").command == (
        "python train.py --data /data/train.csv --out artifacts")
    assert report.score == sum(c.points for c in report.checks) == 13
    assert json.loads((out / "report.json").read_text())["run_id"] == report.run_id
    assert grader_objects(docker_client, report.run_id) == []
