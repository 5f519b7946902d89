"""A submission's Dockerfile built on the real engine through the one build function: a good one gives an
image the run's teardown removes, a failing RUN is the candidate's failed step, and RUN has no network."""

from __future__ import annotations

from pathlib import Path

from grader.models import Limits
from grader.sandbox.docker.containers import LABEL_RUN


def _context(tmp_path: Path, runtime_tag: str, run: str) -> Path:
    (tmp_path / "Dockerfile").write_text(f"FROM {runtime_tag}\nRUN {run}\n")
    return tmp_path


def test_submission_build_gives_an_image_that_teardown_removes(sandbox_factory, runtime_image, docker_client,
                                                                 tmp_path):
    sandbox = sandbox_factory()
    context = _context(tmp_path, runtime_image.tag, "echo built-by-the-candidate")

    result, image_id = sandbox.build_image(context, "Dockerfile", Limits(timeout=120))

    assert result.exit_code == 0, result.stderr
    assert "built-by-the-candidate" in result.stdout
    assert image_id is not None and docker_client.images.get(image_id).id == image_id
    sandbox.close()
    assert not docker_client.images.list(filters={"label": f"{LABEL_RUN}={sandbox.run_id}"})


def test_submission_build_with_a_failing_run_is_a_failed_step_with_the_engine_reason(sandbox_factory,
                                                                                       runtime_image, tmp_path):
    context = _context(tmp_path, runtime_image.tag, "exit 7")

    result, image_id = sandbox_factory().build_image(context, "Dockerfile", Limits(timeout=120))

    assert image_id is None
    assert result.exit_code == 1
    assert "returned a non-zero code: 7" in result.stderr


def test_submission_build_run_commands_reach_no_network(sandbox_factory, runtime_image, tmp_path):
    probe = "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)\""
    context = _context(tmp_path, runtime_image.tag, probe)

    result, image_id = sandbox_factory().build_image(context, "Dockerfile", Limits(timeout=120))

    assert image_id is None
    assert "OSError" in result.stdout or "unreachable" in result.stdout, result.stdout
