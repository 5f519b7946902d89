"""The deploy lab's pure parts: Dockerfile lint rules and the base-image rewrite, Kubernetes schema
validation (offline, the bundled official schemas) and workload rules, through the ``dockerfile`` and
``kubernetes`` check types on files written to a temporary submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.evidence.deploy.dockerfile import Dockerfile, map_base_images
from grader.models import Status
from tests.unit import check_contract as contract

REFERENCE = Path(__file__).resolve().parents[2] / "labs" / "deploy" / "reference"

GOOD = """FROM python:3.11-slim AS build
RUN echo build
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
USER 10001
EXPOSE 8000
CMD ["python", "app.py"]
"""


def run_check(tmp_path: Path, check_type: str, params: dict[str, Any], files: dict[str, str],
              manifest: dict[str, Any] | None = None):
    return contract.run_check(check_type, params, contract.make_context(tmp_path, files, manifest=manifest or {}))


@pytest.mark.parametrize("rule", ["pinned-base", "non-root", "no-add-url", "expose", "deps-before-source"])
def test_a_good_dockerfile_passes_every_rule(tmp_path, rule):
    outcome = run_check(tmp_path, "dockerfile", {"require": rule}, {"Dockerfile": GOOD})
    assert outcome.status == Status.passed, outcome.message


@pytest.mark.parametrize(("rule", "old", "new", "fragment"), [
    ("pinned-base", "FROM python:3.11-slim\nWORKDIR", "FROM python\nWORKDIR",
     "Dockerfile:3: base image 'python' is not pinned"),
    ("pinned-base", "FROM python:3.11-slim\nWORKDIR", "FROM python:latest\nWORKDIR", "'python:latest' is not pinned"),
    ("non-root", "USER 10001\n", "", "the final stage sets no USER"),
    ("non-root", "USER 10001\n", "USER root\n", "Dockerfile:8: the image runs as 'root'"),
    ("no-add-url", "COPY . .\n", "ADD https://example.com/model.bin /app/\nCOPY . .\n", "ADD fetches a URL"),
    ("expose", "EXPOSE 8000", "EXPOSE 9000", "port 8000 is not EXPOSEd (exposed: 9000)"),
    ("deps-before-source", "COPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n",
     "COPY . .\nRUN pip install -r requirements.txt\n", "the whole source is copied before the dependencies"),
])
def test_each_rule_fails_for_its_own_reason_with_the_line(tmp_path, rule, old, new, fragment):
    broken = GOOD.replace(old, new)
    assert broken != GOOD
    outcome = run_check(tmp_path, "dockerfile", {"require": rule}, {"Dockerfile": broken})
    assert outcome.status == Status.failed
    assert fragment in outcome.message


def test_the_expose_rule_reads_the_port_from_the_manifest(tmp_path):
    outcome = run_check(tmp_path, "dockerfile", {"require": "expose"}, {"Dockerfile": GOOD},
                        manifest={"serve": {"port": 9000}})
    assert outcome.status == Status.failed and "port 9000 is not EXPOSEd" in outcome.message


def test_a_missing_dockerfile_fails_naming_the_path(tmp_path):
    outcome = run_check(tmp_path, "dockerfile", {"require": "non-root"}, {"README.md": "x"},
                        manifest={"deploy": {"dockerfile": "docker/Dockerfile"}})
    assert outcome.status == Status.failed and outcome.message == "no docker/Dockerfile in the submission"


def test_base_images_are_mapped_and_the_stand_in_starts_as_root():
    text, replaced = map_base_images(GOOD, {"python:3.11-slim": "local/runtime:1"})
    assert replaced == ["python:3.11-slim -> local/runtime:1", "python:3.11-slim -> local/runtime:1"]
    lines = text.splitlines()
    assert lines[:3] == ["FROM local/runtime:1 AS build", "USER root", "RUN echo build"]
    assert lines[3:5] == ["FROM local/runtime:1", "USER root"]
    assert Dockerfile.parse(text).final_stage()[-2].value == "8000"  # the rest is untouched


def test_unmapped_base_images_are_left_alone():
    assert map_base_images(GOOD, {"ubuntu:24.04": "x"}) == (GOOD, [])


# --- Kubernetes ---------------------------------------------------------------------------------


def reference_manifests() -> dict[str, str]:
    return {f"k8s/{p.name}": p.read_text() for p in (REFERENCE / "k8s").iterdir()}


@pytest.mark.parametrize("require", ["valid", "probes", "limits", "non-root"])
def test_the_reference_manifests_pass_every_kubernetes_check(tmp_path, require):
    outcome = run_check(tmp_path, "kubernetes", {"require": require}, reference_manifests())
    assert outcome.status == Status.passed, outcome.message
    assert outcome.evidence["resources"] == ["k8s/deployment.yaml#1 Deployment/fault-classifier",
                                             "k8s/service.yaml#1 Service/fault-classifier"]


@pytest.mark.parametrize(("require", "old", "new", "fragment"), [
    ("valid", "- containerPort: 8000", '- containerPort: "8000"',
     "containerPort: '8000' is not of type 'integer'"),
    ("valid", "readinessProbe:", "readynessProbe:", "'readynessProbe' was unexpected"),
    ("valid", "kind: Deployment", "kind: Deploymint", "Couldn't find schema for kind Deploymint"),
    ("probes", "          livenessProbe:\n            httpGet: {path: /health, port: 8000}\n"
               "            initialDelaySeconds: 10\n            periodSeconds: 10\n", "",
     "container 'server' has no livenessProbe"),
    ("limits", "            limits: {cpu: \"1\", memory: 512Mi}\n", "", "container 'server' has no cpu/memory limit"),
    ("non-root", "runAsNonRoot: true\n        runAsUser: 10001", "runAsNonRoot: false\n        runAsUser: 0",
     "container 'server' runs as user 0"),
    ("non-root", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allows privilege escalation"),
])
def test_each_kubernetes_check_fails_for_its_own_reason(tmp_path, require, old, new, fragment):
    files = reference_manifests()
    broken = files["k8s/deployment.yaml"].replace(old, new)
    assert broken != files["k8s/deployment.yaml"]
    files["k8s/deployment.yaml"] = broken
    outcome = run_check(tmp_path, "kubernetes", {"require": require}, files)
    assert outcome.status == Status.failed
    assert fragment in outcome.message


def test_kubernetes_yaml_with_aliases_or_tags_is_refused_with_the_line(tmp_path):
    files = {"k8s/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x}\nother: *m\n"}
    outcome = run_check(tmp_path, "kubernetes", {"require": "valid"}, files)
    assert outcome.status == Status.failed and "k8s/a.yaml:4: YAML aliases (*name) are not allowed" in outcome.message


def test_manifests_without_a_workload_fail_the_schema_check(tmp_path):
    files = {"k8s/service.yaml": reference_manifests()["k8s/service.yaml"]}
    outcome = run_check(tmp_path, "kubernetes", {"require": "valid"}, files)
    assert outcome.status == Status.failed and "no workload" in outcome.message


def test_no_manifests_fail_naming_the_pattern(tmp_path):
    outcome = run_check(tmp_path, "kubernetes", {"require": "probes"}, {"README.md": "x"})
    assert outcome.status == Status.failed and outcome.message == "no Kubernetes manifests match k8s/*.y*ml"
