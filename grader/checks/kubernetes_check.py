"""``kubernetes``: the submission's Kubernetes manifests, checked offline — no cluster is contacted.

Every YAML document of the files matching ``path`` (default: the manifest's ``deploy.kubernetes``) is
read as plain data. ``require`` picks:

- ``valid``: every document matches the official JSON schema of its ``kind`` and ``apiVersion`` for
  Kubernetes ``version`` (the schemas bundled by the ``kubernetes-validate`` package; strict, so unknown
  or misspelt fields are errors), and there is at least one workload (Deployment, StatefulSet, ...);
- ``probes``: every container of every workload has a ``readinessProbe`` and a ``livenessProbe``;
- ``limits``: every container sets ``resources.limits`` for ``cpu`` and ``memory``;
- ``non-root``: every container runs as non-root — ``runAsNonRoot: true`` or a ``runAsUser`` other than 0
  in its or its pod's ``securityContext`` — and does not allow privilege escalation.

Example::

    - {id: k8s-valid, title: Manifests match the Kubernetes schemas, type: kubernetes, points: 10,
       require: valid, version: "1.30"}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.errors import LabError
from grader.evidence.deploy.kubernetes import WORKLOAD_RULES, Resource, schema_problems, workloads
from grader.labs.yamlio import load_all_plain
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["valid", "probes", "limits", "non-root"]
    path: str | None = Field(None, description="glob of the manifest files; default: manifest deploy.kubernetes")
    version: str = Field("1.30", pattern=r"^1\.\d+$", description="``valid``: the Kubernetes version of the schemas")


def _resources(ctx: CheckContext, pattern: str) -> tuple[list[Resource], list[str]]:
    resources: list[Resource] = []
    problems: list[str] = []
    for path in ctx.find(pattern):
        name = ctx.relative(path)
        try:
            documents = load_all_plain(ctx.read_text(path), name)
        except LabError as exc:
            problems.append(str(exc))
            continue
        for index, document in enumerate(documents, start=1):
            if document is None:
                continue
            if not isinstance(document, dict):
                problems.append(f"{name}#{index}: not a mapping")
                continue
            resources.append(Resource(name, index, document))
    return resources, problems


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    manifest = ctx.manifest
    pattern = params.path or (manifest.deploy.kubernetes if manifest is not None else "k8s/*.y*ml")
    resources, problems = _resources(ctx, pattern)
    if not resources and not problems:
        return CheckOutcome.failed(f"no Kubernetes manifests match {pattern}")
    evidence = {"resources": [r.label for r in resources][:30]}
    if params.require == "valid":
        for resource in resources:
            problems += schema_problems(resource, params.version)
        if not problems and not workloads(resources):
            problems.append("no workload (Deployment, StatefulSet, DaemonSet, Job, Pod) among the manifests")
        checked = f"against the Kubernetes {params.version} schemas"
    else:
        for resource in workloads(resources):
            problems += WORKLOAD_RULES[params.require](resource)
        checked = f"for {params.require}"
        if not workloads(resources):
            problems.append("no workload (Deployment, StatefulSet, DaemonSet, Job, Pod) to check")
    evidence["problems"] = problems[:30]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return CheckOutcome.failed(f"{problems[0]}{more}", **evidence)
    return CheckOutcome.passed(f"{len(resources)} resource(s) checked {checked}", **evidence)


CHECK = CheckType(name="kubernetes", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
