"""Kubernetes manifests of a submission: validated offline against the official JSON schemas (bundled by
the ``kubernetes-validate`` package, strict: unknown fields are errors), and the workload rules —
probes, resource limits and a non-root security context for every container of every workload."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import kubernetes_validate

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"}


@dataclass(frozen=True)
class Resource:
    """One document of a manifest file."""

    file: str
    index: int  # position of the document in its file, from 1
    body: dict[str, Any]

    @property
    def label(self) -> str:
        name = (self.body.get("metadata") or {}).get("name", "?")
        return f"{self.file}#{self.index} {self.body.get('kind', '?')}/{name}"

    def pod_spec(self) -> dict[str, Any] | None:
        """The pod template's spec of a workload (the spec itself for a Pod)."""
        spec = self.body.get("spec") or {}
        if self.body.get("kind") == "Pod":
            return spec if isinstance(spec, dict) else None
        template = (spec.get("template") or {}) if isinstance(spec, dict) else {}
        pod = template.get("spec") if isinstance(template, dict) else None
        return pod if isinstance(pod, dict) else None


def schema_problems(resource: Resource, version: str) -> list[str]:
    """Why the document does not match the official schema of its kind and apiVersion (empty when it does)."""
    body = resource.body
    if not isinstance(body.get("apiVersion"), str) or not isinstance(body.get("kind"), str):
        return [f"{resource.label}: apiVersion and kind are required"]
    try:
        kubernetes_validate.validate(body, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "(top level)"
        return [f"{resource.label}: {where}: {exc.message[:300]}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{resource.label}: {exc.message}"]
    return []


def containers(resource: Resource) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of every container of a workload, init containers included."""
    pod = resource.pod_spec()
    if pod is None:
        return
    for key in ("initContainers", "containers"):
        for container in pod.get(key) or []:
            if isinstance(container, dict):
                yield pod, container


def _name(resource: Resource, container: dict[str, Any]) -> str:
    return f"{resource.label} container {container.get('name', '?')!r}"


def probe_problems(resource: Resource) -> list[str]:
    """Every (non-init) container has a readiness and a liveness probe."""
    pod = resource.pod_spec() or {}
    problems = []
    for container in pod.get("containers") or []:
        missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
        if missing:
            problems.append(f"{_name(resource, container)} has no {' and no '.join(missing)}")
    return problems


def limit_problems(resource: Resource) -> list[str]:
    """Every container sets resources.limits for cpu and memory."""
    problems = []
    for _, container in containers(resource):
        limits = (container.get("resources") or {}).get("limits") or {}
        missing = [k for k in ("cpu", "memory") if k not in limits]
        if missing:
            problems.append(f"{_name(resource, container)} has no {'/'.join(missing)} limit")
    return problems


def non_root_problems(resource: Resource) -> list[str]:
    """Every container runs as non-root: runAsNonRoot true or a runAsUser other than 0 (the container's own
    securityContext over the pod's), never runAsUser 0 nor allowPrivilegeEscalation true."""
    problems = []
    for pod, container in containers(resource):
        pod_context = pod.get("securityContext") or {}
        own = container.get("securityContext") or {}
        merged = {**pod_context, **own}
        user = merged.get("runAsUser")
        if user == 0:
            problems.append(f"{_name(resource, container)} runs as user 0")
        elif merged.get("runAsNonRoot") is not True and not (isinstance(user, int) and user > 0):
            problems.append(f"{_name(resource, container)} may run as root: set runAsNonRoot: true or a runAsUser")
        if own.get("allowPrivilegeEscalation") is True or own.get("privileged") is True:
            problems.append(f"{_name(resource, container)} allows privilege escalation")
    return problems


WorkloadRule = Callable[[Resource], list[str]]
WORKLOAD_RULES: dict[str, WorkloadRule] = {
    "probes": probe_problems,
    "limits": limit_problems,
    "non-root": non_root_problems,
}


def workloads(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r.body.get("kind") in WORKLOAD_KINDS]
