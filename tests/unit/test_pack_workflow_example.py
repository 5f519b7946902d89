"""The GitHub Actions example for candidates (examples/github-actions/self-check.yml): valid against the
official workflow schema (the copy check-jsonschema ships, offline), and its key steps do what they say."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from ruamel.yaml import YAML

from grader.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / "self-check.yml"


def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps() -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in workflow()["jobs"]["self-check"]["steps"]}


def schema_problems(document: Any) -> list[str]:
    schema = json.loads((files("check_jsonschema.builtin_schemas.vendor") / "github-workflows.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_workflow_matches_the_official_schema():
    # Read as GitHub reads it (YAML 1.2: `on` is a string, not a boolean).
    document = YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))
    assert schema_problems(document) == []
    del document["jobs"]["self-check"]["runs-on"]
    document["jobs"]["self-check"]["steps"][0]["uses"] = 3
    assert len(schema_problems(document)) >= 1  # the schema does catch a broken workflow


def test_workflow_runs_on_every_push():
    triggers = workflow()[True]  # YAML 1.1 reads the key `on` as true
    assert "push" in triggers and triggers["push"] is None  # no branch filter: every push


def test_self_check_step_is_a_valid_grader_check_command():
    step = steps()["Self-check"]
    command = shlex.split(step["run"].replace("$RUNNER_TEMP", "/tmp/runner"))
    assert command[0] == "grader"
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.path, args.lab) == ("check", ".", "/tmp/runner/lab-public.tar.gz")
    assert str(args.out) == "/tmp/runner/self-check"
    assert step["env"]["GRADER_HOME"] == "${{ runner.temp }}/grader"


def test_report_goes_to_the_job_summary_even_when_the_check_fails(tmp_path):
    step = steps()["Write report.md to the job summary"]
    assert step["if"] == "always()"
    (tmp_path / "self-check").mkdir()
    (tmp_path / "self-check" / "report.md").write_text("# Report\n\n- failed: request-counter\n")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_STEP_SUMMARY": str(summary)}
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, timeout=10)
    assert summary.read_text() == "earlier step\n# Report\n\n- failed: request-counter\n"
    (tmp_path / "self-check" / "report.md").unlink()
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, timeout=10)
    assert "wrote no report.md" in summary.read_text()


def test_reports_are_uploaded_as_an_artifact_even_when_the_check_fails():
    step = steps()["Upload the reports"]
    assert step["uses"].startswith("actions/upload-artifact@")
    assert step["if"] == "always()"
    assert step["with"]["path"] == "${{ runner.temp }}/self-check/"


def test_grader_and_bundle_live_outside_the_checked_repository():
    for name in ("Install the grader", "Fetch the lab's public bundle"):
        assert "$RUNNER_TEMP/" in steps()[name]["run"]
