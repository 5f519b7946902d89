"""``dockerfile-found``: a Dockerfile where real projects keep it, that would build an image that serves.

Looks for the Dockerfile the manifest names (``deploy.dockerfile``, when the candidate set it), else any
``Dockerfile``, ``Dockerfile.*``, ``Dockerfile-*``, ``*.Dockerfile`` in the repository (virtual environments,
vendored packages and ``node_modules`` skipped); compose files count as evidence and give the build context
of the services they build. The serving image is judged (the one whose start command, port or name says it
serves; an MLflow, Airflow or Grafana image is not the model server), read like a reviewer without building:

- pass: it has a ``CMD``/``ENTRYPOINT`` and every ``COPY``/``ADD`` source is in the repository and committed
  (not git-ignored), relative to the build context a compose file gives it or its folder implies;
- partial (``partial_credit`` of the points): it exists but would not build or serve from a fresh checkout —
  each reason named with its line and what to change (no ``CMD``, a copied file that is not committed, code
  that is never copied in, nothing installed);
- fail: no Dockerfile at all (a compose file that only pulls images is named in the message).

No network and no build: the deploy lab builds its image; this check is for reviewing any repository.

Example::

    - {id: dockerfile, title: A Dockerfile builds the serving image, type: dockerfile-found, points: 1}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.checks.dockerfile_review import (
    MAX_DOCKERFILE_BYTES,
    ComposeBuild,
    DockerfileReview,
    compose_builds,
    review_dockerfile,
)
from grader.checks.gitignore import IgnoreRules
from grader.checks.repository_files import depth_then_name, is_compose_file, is_dockerfile, repository_files
from grader.models import CheckOutcome

MAX_DOCKERFILES = 30


class Params(CheckParams):
    path: str | None = Field(None, description="the Dockerfile to judge (glob allowed); default: the manifest's "
                             "deploy.dockerfile when set, else every Dockerfile in the repository")
    partial_credit: float = Field(0.5, ge=0, le=1, description="share of the points for a Dockerfile with problems")


def named_dockerfile(params: Params, ctx: CheckContext) -> str | None:
    """The Dockerfile the rubric or the candidate's manifest names; None: search the repository."""
    if params.path:
        return params.path
    manifest = ctx.manifest
    if manifest is not None and "dockerfile" in manifest.deploy.model_fields_set:
        return manifest.deploy.dockerfile
    return None


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    root = ctx.submission_dir
    files = repository_files(root)
    compose_files = sorted((f for f in files if is_compose_file(f)), key=depth_then_name)
    builds = [b for f in compose_files for b in compose_builds(f, ctx.read_text(root / f, MAX_DOCKERFILE_BYTES))]
    named = named_dockerfile(params, ctx)
    if named is not None:
        dockerfiles = [ctx.relative(p) for p in ctx.find(named)]
        if not dockerfiles:
            return CheckOutcome.failed(
                f"no {named} in the repository (named in capstone.yaml deploy.dockerfile): fix the path, or "
                "remove the key to let the grader look for any Dockerfile", compose_files=compose_files)
    else:
        dockerfiles = sorted((f for f in files if is_dockerfile(f)), key=depth_then_name)[:MAX_DOCKERFILES]
    evidence: dict[str, Any] = {"dockerfiles": dockerfiles, "compose_files": compose_files}
    if not dockerfiles:
        return CheckOutcome.failed(_none_found(compose_files), **evidence)
    port = ctx.manifest.serve.port if ctx.manifest is not None else 8000
    ignore = IgnoreRules.load(root, files)
    reviews = [_review(root, path, builds, ignore, port, named is not None, ctx) for path in dockerfiles]
    chosen = max(reviews, key=lambda r: (r.serving_score, -len(r.problems)))
    evidence.update(judged=chosen.summary(), others=[r.summary() for r in reviews if r is not chosen][:10])
    found = _found_text(dockerfiles, compose_files)
    if not chosen.problems:
        start = f"; starts with {chosen.start_command[:120]}" if chosen.start_command else ""
        return CheckOutcome.passed(f"{chosen.path} (build context {chosen.context_label}) builds an image from "
                                   f"committed files{start}{found}", **evidence)
    return CheckOutcome.partial(params.partial_credit,
                                f"{'; '.join(chosen.problems[:3])}"
                                f"{f' (+{len(chosen.problems) - 3} more)' if len(chosen.problems) > 3 else ''}"
                                f"{found}", **evidence)


def _review(root: Path, path: str, builds: list[ComposeBuild], ignore: IgnoreRules, port: int, named: bool,
            ctx: CheckContext) -> DockerfileReview:
    mine = [b for b in builds if b.dockerfile == path]
    text = ctx.read_text(root / path, MAX_DOCKERFILE_BYTES)
    return review_dockerfile(root, path, text, [b.context for b in mine], ignore, port=port, named=named,
                             compose_services=tuple(f"{b.compose_file}:{b.service}" for b in mine))


def _found_text(dockerfiles: list[str], compose_files: list[str]) -> str:
    others = len(dockerfiles) - 1
    parts = [f"{others} other Dockerfile{'s' if others != 1 else ''}"] if others else []
    if compose_files:
        parts.append(f"compose: {', '.join(compose_files[:3])}")
    return f" ({'; '.join(parts)})" if parts else ""


def _none_found(compose_files: list[str]) -> str:
    if compose_files:
        return (f"no Dockerfile in the repository; {', '.join(compose_files[:3])} only runs images built elsewhere: "
                "add a Dockerfile that builds the model server's image (any folder; name it in capstone.yaml "
                "deploy.dockerfile)")
    return ("no Dockerfile in the repository (looked for Dockerfile, Dockerfile.*, *.Dockerfile in every folder): "
            "add one that builds the model server's image")


CHECK = CheckType(name="dockerfile-found", params=Params, evaluate=evaluate, summary=__doc__ or "", early=True)
