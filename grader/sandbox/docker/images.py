"""Sandbox images: the base image (Debian + Python 3.11) and the images defined under ``sandboxes/``.

An image's tag is a digest of what it is made of (the base image's id and every file of its definition),
so ``ensure_image`` is a no-op when nothing changed and a rebuild when anything did. Python packages are
installed offline from a wheelhouse downloaded on the host once per requirements file, because sandbox
builds may reach no package index (and never a container registry).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import docker

from grader.errors import BadInputError, InfrastructureError
from grader.paths import ProjectPaths
from grader.sandbox.docker.build import find_image, run_build
from grader.sandbox.docker.health import ENGINE_ERRORS, engine_failure

BASE_IMAGE_ENV = "GRADER_BASE_IMAGE"
DEFAULT_BASE_IMAGE = "capstone-grader/base:bookworm-py3.11"
IMAGE_REPOSITORY = "capstone-grader"
BASE_BUILD_SCRIPT = Path("base") / "build-debootstrap.sh"
# The interpreter and C library the sandbox images provide (Debian bookworm): wheels are chosen for
# them, not for whatever Python runs the grader.
TARGET_PYTHON = "3.11"
TARGET_GLIBC_MINOR = 36
LOG_TAIL_LINES = 40
# A build step may print nothing for minutes (pip compiling a big stack); the client's usual request
# timeout would end the build there.
BUILD_TIMEOUT_S = 3600

Log = Callable[[str], None]


def _no_log(_: str) -> None:
    pass


@dataclass(frozen=True)
class ImageRef:
    """A built image: its definition's ``name``, the full ``tag`` to run it by and the engine's ``id``."""

    name: str
    tag: str
    id: str


def ensure_base_image(client: docker.DockerClient, paths: ProjectPaths, *, log: Log = _no_log) -> ImageRef:
    """The base image: ``$GRADER_BASE_IMAGE`` (pulled if missing), else the debootstrap-built default."""
    configured = os.environ.get(BASE_IMAGE_ENV, "").strip()
    tag = configured or DEFAULT_BASE_IMAGE
    found = find_image(client, tag)
    if found is None:
        if configured:
            _pull(client, tag, log)
        else:
            _build_base(tag, paths.sandboxes / BASE_BUILD_SCRIPT, log)
        found = find_image(client, tag)
        if found is None:
            raise InfrastructureError(f"base image {tag} is still missing after it was made")
    return ImageRef(name="base", tag=tag, id=found)


def ensure_image(
    client: docker.DockerClient, name: str, paths: ProjectPaths, *, log: Log = _no_log
) -> ImageRef:
    """The image defined by ``sandboxes/<name>/``, built (with its base and wheelhouse) only when missing."""
    definitions = image_definitions(paths)
    if name not in definitions:
        raise BadInputError(
            f"unknown sandbox image {name!r}; choose one of: {', '.join(definitions) or '(none found)'}"
        )
    folder = paths.sandboxes / name
    base = ensure_base_image(client, paths, log=log)
    tag = f"{IMAGE_REPOSITORY}/{name}:{definition_digest(folder, base.id)[:12]}"
    found = find_image(client, tag)
    if found is not None:
        return ImageRef(name=name, tag=tag, id=found)

    requirements = folder / "requirements.txt"
    wheelhouse = None
    if requirements.is_file():
        wheelhouse = ensure_wheelhouse(requirements, paths.cache, _engine_arch(client), log=log)
    paths.cache.mkdir(parents=True, exist_ok=True)
    # Inside the cache so the wheels can be hard-linked rather than copied.
    with tempfile.TemporaryDirectory(prefix="build-", dir=paths.cache) as context:
        _prepare_context(folder, wheelhouse, Path(context))
        log(f"building {tag} from {folder}")
        _build(client, Path(context), tag, {"BASE_IMAGE": base.tag}, log)
    found = find_image(client, tag)
    if found is None:
        raise InfrastructureError(f"image {tag} is missing right after its build")
    _prune_build_stages(client)
    return ImageRef(name=name, tag=tag, id=found)


def image_definitions(paths: ProjectPaths) -> list[str]:
    """Names of the folders under ``sandboxes/`` that hold a Dockerfile."""
    if not paths.sandboxes.is_dir():
        return []
    return sorted(d.name for d in paths.sandboxes.iterdir() if (d / "Dockerfile").is_file())


def definition_digest(folder: Path, base_id: str) -> str:
    """sha256 over the base image id and every file (path and content) of an image definition."""
    digest = hashlib.sha256(f"base {base_id}\n".encode())
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"file {file.relative_to(folder).as_posix()}\n".encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def wheel_platforms(arch: str) -> list[str]:
    """pip ``--platform`` values a glibc-2.36 (bookworm) machine accepts; pip does not expand them itself."""
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(TARGET_GLIBC_MINOR, 4, -1)]
    return [*platforms, f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def wheelhouse_command(requirements: Path, dest: Path, arch: str) -> list[str]:
    """The ``pip download`` that fetches wheels for the sandbox's Python and platform, not the host's."""
    command = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input", "--quiet",
        "--only-binary=:all:", "--python-version", TARGET_PYTHON, "--implementation", "cp",
        "--abi", "cp" + TARGET_PYTHON.replace(".", ""), "-r", str(requirements), "-d", str(dest),
    ]
    for platform in wheel_platforms(arch):
        command += ["--platform", platform]
    return command


def ensure_wheelhouse(requirements: Path, cache: Path, arch: str, *, log: Log = _no_log) -> Path:
    """A directory of wheels for ``requirements``, downloaded once and reused while the file is unchanged."""
    key = hashlib.sha256(
        requirements.read_bytes() + f"\npython {TARGET_PYTHON} glibc 2.{TARGET_GLIBC_MINOR} {arch}".encode()
    ).hexdigest()[:16]
    target = cache / "wheelhouse" / key
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Download beside the target and rename, so a concurrent or interrupted download never looks complete.
    partial = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    try:
        log(f"downloading wheels for {requirements} into {target}")
        _run_logged(wheelhouse_command(requirements, partial, arch), f"pip download -r {requirements}", log)
        (partial / ".complete").write_text("")
        if target.exists() and not (target / ".complete").is_file():
            shutil.rmtree(target)
        try:
            partial.rename(target)
        except OSError:
            if not (target / ".complete").is_file():  # not another process winning the race
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


# --- helpers --------------------------------------------------------------------------------------


def _engine_arch(client: docker.DockerClient) -> str:
    try:
        arch = str(client.info().get("Architecture") or "x86_64")
    except ENGINE_ERRORS as exc:
        raise engine_failure("cannot read the engine's architecture", exc) from exc
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)


def _pull(client: docker.DockerClient, tag: str, log: Log) -> None:
    log(f"pulling {tag} ({BASE_IMAGE_ENV})")
    try:
        client.images.pull(tag)
    except ENGINE_ERRORS as exc:
        raise engine_failure(
            f"base image {tag} (from {BASE_IMAGE_ENV}) is missing and cannot be pulled (unset "
            f"{BASE_IMAGE_ENV} to build {DEFAULT_BASE_IMAGE} with debootstrap instead)", exc
        ) from exc


def _build_base(tag: str, script: Path, log: Log) -> None:
    if not script.is_file():
        raise InfrastructureError(f"base image {tag} is missing and its build script {script} does not exist")
    log(f"building base image {tag} with {script} (about a minute)")
    _run_logged(["bash", str(script), tag], f"{script} {tag}", log)


def _run_logged(command: list[str], what: str, log: Log) -> None:
    """Run a host command, passing its output to ``log`` and quoting its tail when it fails."""
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
            errors="replace",
        )
    except OSError as exc:
        raise InfrastructureError(f"cannot run {what}: {exc}") from exc
    assert process.stdout is not None
    with process:
        for line in process.stdout:
            tail.append(line.rstrip())
            log(line.rstrip())
    if process.returncode != 0:
        raise InfrastructureError(
            f"{what} failed with exit code {process.returncode}; last lines:\n" + "\n".join(tail)
        )


def _prepare_context(folder: Path, wheelhouse: Path | None, context: Path) -> None:
    shutil.copytree(folder, context, dirs_exist_ok=True)
    wheels = context / "wheels"
    wheels.mkdir(exist_ok=True)
    for wheel in (wheelhouse.glob("*.whl") if wheelhouse else ()):
        try:
            os.link(wheel, wheels / wheel.name)
        except OSError:  # another file system, or links not allowed
            shutil.copy2(wheel, wheels / wheel.name)


def _build(client: docker.DockerClient, context: Path, tag: str, buildargs: dict[str, str], log: Log) -> None:
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)

    def keep(text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                tail.append(line)
                log(line)

    outcome = run_build(client, context=context, tag=tag, buildargs=buildargs, timeout=BUILD_TIMEOUT_S,
                        labels={"capstone-grader.image": tag}, on_output=keep)
    if outcome.image_id is None:
        how = f"timed out after {BUILD_TIMEOUT_S} s" if outcome.timed_out else "failed"
        # The grader's own image definition failing to build is never a candidate's fault.
        raise InfrastructureError(f"building {tag} {how}; last lines:\n" + "\n".join(tail))


def _prune_build_stages(client: docker.DockerClient) -> None:
    """Drop the untagged images of build stages (they hold the wheels); losing them only costs build cache."""
    with suppress(*ENGINE_ERRORS):  # disk space only
        client.images.prune(filters={"dangling": True, "label": "capstone-grader.stage=build"})
