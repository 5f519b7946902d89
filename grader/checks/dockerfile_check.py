"""``dockerfile``: the submission's Dockerfile follows one build rule, read with a real Dockerfile parser.

``require`` picks the rule:

- ``pinned-base``: every base image has a tag other than ``latest``, or a digest;
- ``non-root``: the final stage ends with a ``USER`` that is not root (``root``, ``0``);
- ``no-add-url``: no ``ADD https://...`` (unpinned, unchecked downloads);
- ``expose``: the final stage ``EXPOSE``s the manifest's ``serve.port``;
- ``deps-before-source``: the first ``pip install`` of the final stage comes after a requirement file
  (``requirements*.txt``, ``pyproject.toml``, ...) was copied and before the whole source (``COPY . .``),
  so a code change does not reinstall the dependencies.

``path`` defaults to the manifest's ``deploy.dockerfile``. Findings name the line.

Example::

    - {id: dockerfile-non-root, title: The image does not run as root, type: dockerfile, points: 5,
       require: non-root}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.evidence.deploy.dockerfile import RULES, Dockerfile
from grader.models import CheckOutcome


class Params(CheckParams):
    require: Literal["pinned-base", "non-root", "no-add-url", "expose", "deps-before-source"]
    path: str | None = Field(None, description="the Dockerfile in the submission; default: manifest deploy.dockerfile")


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    manifest = ctx.manifest
    path = params.path or (manifest.deploy.dockerfile if manifest is not None else "Dockerfile")
    found = ctx.find(path)
    if not found:
        return CheckOutcome.failed(f"no {path} in the submission")
    text = ctx.read_text(found[0])
    try:
        dockerfile = Dockerfile.parse(text)
    except Exception as exc:  # the parser's errors are not one type
        return CheckOutcome.failed(f"{path} cannot be parsed: {exc}")
    if not any(i.name == "FROM" for i in dockerfile.instructions):
        return CheckOutcome.failed(f"{path} has no FROM instruction")
    port = manifest.serve.port if manifest is not None else 8000
    findings = RULES[params.require](dockerfile, port)
    evidence = {"path": path, "findings": [f"{path}:{f.line}: {f.message}" for f in findings][:20]}
    if findings:
        return CheckOutcome.failed(f"{path}:{findings[0].line}: {findings[0].message}", **evidence)
    return CheckOutcome.passed(f"{path} follows {params.require}", **evidence)


CHECK = CheckType(name="dockerfile", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
