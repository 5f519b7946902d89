"""The submission's own image (lab ``build``): the grader's copy of its Dockerfile, with the base images the
lab maps replaced by local ones (no registry is reachable from the sandboxes), built by the backend with
no network. The outcome is recorded as a step, so ``command`` checks and ``needs`` treat it like one."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.evidence.deploy.dockerfile import map_base_images
from grader.labs.templating import render
from grader.models import StepResult
from grader.run.state import RunState
from grader.sandbox import Sandbox

GRADER_DOCKERFILE = ".grader.Dockerfile"


def build_submission_image(run: RunState, sandbox: Sandbox, workspace: Path) -> None:
    """Build the lab's ``build`` from the submission and record it as a step (and ``run.built_image``)."""
    build = run.lab.lab.build
    if build is None:
        return
    dockerfile = render(build.dockerfile, run.manifest)
    command = f"docker build -f {dockerfile} (no network)"
    source = _dockerfile_in(workspace, dockerfile)
    if run.blocked_reason or source is None:
        reason = run.blocked_reason or f"no {dockerfile} in the submission"
        result = StepResult(id=build.id, command=command, exit_code=None, duration_s=0, skipped_reason=reason)
    else:
        mapping = {image: sandbox.image if target == run.lab.lab.image else target
                   for image, target in build.base_images.items()}
        text, replaced = map_base_images(source.read_text(encoding="utf-8", errors="replace"), mapping)
        context = run.scratch / "build-context"
        shutil.copytree(workspace, context, symlinks=True, dirs_exist_ok=True)
        (context / GRADER_DOCKERFILE).write_text(text)
        result, run.built_image = sandbox.build_image(context, GRADER_DOCKERFILE,
                                                      run.lab.lab.limits.merged(build.limits))
        note = f"base images mapped: {', '.join(replaced)}\n" if replaced else ""
        result = result.model_copy(update={"id": build.id, "command": command, "stdout": note + result.stdout})
    run.record_step(result)


def _dockerfile_in(workspace: Path, relative: str) -> Path | None:
    """The Dockerfile as a regular file inside the workspace (never through a link), else None."""
    root = workspace.resolve()
    candidate = (workspace / relative).resolve()
    if not candidate.is_relative_to(root) or (workspace / relative).is_symlink() or not candidate.is_file():
        return None
    return candidate
