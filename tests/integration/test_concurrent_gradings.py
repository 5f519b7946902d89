"""Two gradings at once on one engine: separate names, networks and volumes, no host port, one shared results
store, two complete and correct reports, and nothing left of either afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from grader.labs.loading import load_lab, load_variants, materialize_variant
from grader.paths import project_paths
from grader.results.store import ResultStore
from grader.sandbox.docker.containers import LABEL_PID, LABEL_RUN

PATHS = project_paths()
LAB = "train-and-test"
VARIANT = "weak-model"


def observe(client, pid: int, seen: dict[str, set[tuple[str, str, str]]]) -> None:
    """Record (kind, name, run label, published host ports) of what the grader with ``pid`` has right now."""
    by_owner = {"label": f"{LABEL_PID}={pid}"}
    for container in client.containers.list(all=True, filters=by_owner, ignore_removed=True):
        ports = json.dumps(container.attrs["HostConfig"].get("PortBindings") or {})
        seen.setdefault("container", set()).add((container.name, container.labels[LABEL_RUN], ports))
    for network in client.networks.list(filters=by_owner):
        seen.setdefault("network", set()).add((network.name, (network.attrs["Labels"] or {})[LABEL_RUN], ""))
    for volume in client.volumes.list(filters=by_owner):
        seen.setdefault("volume", set()).add((volume.name, (volume.attrs["Labels"] or {})[LABEL_RUN], ""))


def test_two_gradings_at_once_do_not_collide_and_both_reports_are_complete(
    docker_client, runtime_image, objects_of_run, tmp_path
):
    lab = load_lab(LAB, PATHS)
    submissions = {"reference": lab.reference_dir, VARIANT: materialize_variant(lab, VARIANT, tmp_path / VARIANT)}
    env = {**os.environ, "GRADER_DB": str(tmp_path / "results.sqlite3")}  # one store, two writers
    graders = {
        name: subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "grade", str(submission), "--lab", LAB,
             "--out", str(tmp_path / "out" / name), "--quiet"],
            cwd=PATHS.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for name, submission in submissions.items()
    }
    seen: dict[str, dict[str, set[tuple[str, str, str]]]] = {name: {} for name in graders}
    deadline = time.monotonic() + 300
    while any(grader.poll() is None for grader in graders.values()):
        assert time.monotonic() < deadline, "the two gradings did not finish within 5 minutes"
        for name, grader in graders.items():
            observe(docker_client, grader.pid, seen[name])
        time.sleep(0.2)

    reports = {name: json.loads((tmp_path / "out" / name / "report.json").read_text()) for name in graders}
    for name, grader in graders.items():
        expected_exit = 0 if reports[name]["passed"] else 1
        assert grader.returncode == expected_exit, grader.stderr.read() if grader.stderr else ""
    run_ids = {name: report["run_id"] for name, report in reports.items()}
    assert run_ids["reference"] != run_ids[VARIANT]

    rubric_checks = [check.id for check in lab.rubric.rubric.checks]
    for report in reports.values():
        assert report["outcome"] == "graded" and report["error"] is None
        assert [check["id"] for check in report["checks"]] == rubric_checks
        assert [step["id"] for step in report["steps"]] == ["train"]
    assert {check["status"] for check in reports["reference"]["checks"]} == {"pass"}
    assert reports["reference"]["score"] == reports["reference"]["max_score"]
    lost = {check["id"]: check["status"] for check in reports[VARIANT]["checks"] if check["status"] != "pass"}
    assert lost == load_variants(lab)[VARIANT].loses

    # While they ran: each run's objects carry its own run id and name, nothing is shared, no host port is published.
    for name, objects in seen.items():
        run_id = run_ids[name]
        assert objects.get("container") and objects.get("network") and objects.get("volume"), objects
        for kind, found in objects.items():
            assert {run for _, run, _ in found} == {run_id}, (kind, found)
            assert all(object_name.startswith(f"grader-{run_id}") for object_name, _, _ in found), (kind, found)
        assert {ports for _, _, ports in objects["container"]} == {"{}"}
    assert {n for n, _, _ in seen["reference"]["network"]} == {f"grader-{run_ids['reference']}"}
    assert {n for n, _, _ in seen[VARIANT]["network"]} == {f"grader-{run_ids[VARIANT]}"}

    with ResultStore(tmp_path / "results.sqlite3") as store:
        stored = {run.run_id: run for run in store.list(LAB)}
    assert set(stored) == set(run_ids.values())
    for name, run_id in run_ids.items():
        assert stored[run_id].score == reports[name]["score"] and stored[run_id].outcome == "graded"
    for run_id in run_ids.values():
        assert objects_of_run(run_id) == []
