"""The ``serve.reload: restart`` policy of the registry lab through the real pipeline: a server that loads the
alias only at start follows both moves because the grader restarts its container after each one."""

from __future__ import annotations

import re

from grader.labs.loading import load_lab, materialize_variant
from grader.models import Status
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.docker.engine import DockerEngine

PATHS = project_paths()


def test_a_server_loading_the_alias_at_start_follows_when_it_declares_restart(docker_client, runtime_image,
                                                                              tmp_path, objects_of_run):
    lab = load_lab("registry", PATHS)
    submission = materialize_variant(lab, "loads-once", tmp_path / "submission")
    manifest = submission / "capstone.yaml"
    manifest.write_text(re.sub(r"reload: poll.*", "reload: restart", manifest.read_text()))
    assert "  reload: restart\n" in manifest.read_text()

    options = GradeOptions(out_dir=tmp_path / "report", store=False)
    report = grade_submission(str(submission), "registry", PATHS, DockerEngine(PATHS, docker_client), options).report

    assert {c.id: c.status for c in report.checks} == {c.id: Status.passed for c in report.checks}, {
        c.id: c.message for c in report.checks}
    promotion = next(c for c in report.checks if c.id == "follows-promotion")
    assert promotion.evidence["policy"] == "restart"
    assert [r["ready"] for r in promotion.evidence["restarts"]] == [True, True]
    assert objects_of_run(report.run_id) == []
