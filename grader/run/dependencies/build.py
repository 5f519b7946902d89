"""The container work of the dependency step: resolve the requirement set with uv (as of a cut-off date when
there is one) and install the lock into a fresh virtual environment, in the egress-only container; then take
the environment into the cache, checked, owned by the grader.

The environment is built at ``ENV_DIR``, the path where candidate containers later mount it read-only, so every
absolute path inside it (script shebangs, ``.pyc`` files) is right without relocation. Its interpreter is the
runtime image's ``/usr/bin/python3`` (a symbolic link): the environment only runs in images of the same base.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.models import Limits, StepResult
from grader.run.dependencies.index import CA_MOUNT, IndexSettings
from grader.sandbox.base import Mount, RunSpec, Sandbox

# Where the candidate's environment is, in the dependency container and in every container that uses it.
ENV_DIR = "/opt/candidate-env"
REQ_MOUNT, UV_CACHE_MOUNT = "/req", "/uv-cache"
BASE_PYTHON = "/usr/bin/python3"
RESULT_MARKER = "GRADER-DEPENDENCIES "
MAX_ENV_BYTES = 8 * 1024**3
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BuildReport:
    """What the dependency container says it did: the resolved lock, the cut-off it used, or where it failed."""

    stage: str  # "done", or the stage that failed: "resolve", "venv", "install"
    lock: list[str] = field(default_factory=list)
    cutoff: str | None = None
    cutoff_dropped: str | None = None  # the resolver's reason when the set resolved only without the cut-off
    error: str = ""


def build_command(cutoff: str | None, constraints: bool, python_version: str) -> str:
    """The dependency container's command: the build script, run by the image's system interpreter."""
    arguments = [f"{REQ_MOUNT}/requirements.in", f"{REQ_MOUNT}/constraints.txt" if constraints else "",
                 cutoff or "", python_version]
    return shlex.join([BASE_PYTHON, "-I", "-c", _BUILD_SCRIPT, *arguments])


# uv flags that matter here: --python picks the base interpreter (never a download: UV_PYTHON_DOWNLOADS=never);
# --exclude-newer takes an RFC 3339 time; --no-deps installs exactly the lock; bytecode is compiled at install
# because candidate containers neither write .pyc files nor could on a read-only mount (imports stay fast).
_BUILD_SCRIPT = f"""
import json, os, subprocess, sys
requirements, constraints, cutoff, version = sys.argv[1:5]
os.makedirs(os.environ["TMPDIR"], exist_ok=True)
env_dir, python, marker = {ENV_DIR!r}, {BASE_PYTHON!r}, {RESULT_MARKER!r}
def uv(*args):
    done = subprocess.run(["uv", *args], capture_output=True, text=True)
    sys.stderr.write(done.stderr[-20000:])
    return done.returncode, done.stderr
def resolve(cutoff):
    args = ["pip", "compile", requirements, "--python", python, "--python-version", version, "--no-header",
            "--no-annotate", "--quiet", "-o", "/tmp/lock.txt"]
    args += ["--constraint", constraints] if constraints else []
    args += ["--exclude-newer", cutoff] if cutoff else []
    return uv(*args)
def finish(stage, **fields):
    print(marker + json.dumps({{"stage": stage, **fields}}), flush=True)
    sys.exit(0 if stage == "done" else 1)
report = {{"cutoff": cutoff or None}}
code, error = resolve(cutoff)
if code and cutoff:
    report.update(cutoff=None, cutoff_dropped=error[-4000:])
    code, error = resolve("")
if code:
    finish("resolve", error=error[-8000:], **report)
code, error = uv("venv", env_dir, "--python", python, "--quiet")
if code:
    finish("venv", error=error[-8000:], **report)
code, error = uv("pip", "install", "--python", env_dir + "/bin/python", "--no-deps", "--compile-bytecode",
                 "--quiet", "-r", "/tmp/lock.txt")
if code:
    finish("install", error=error[-8000:], **report)
lock = [line.strip() for line in open("/tmp/lock.txt") if line.strip() and not line.startswith(("#", " "))]
finish("done", lock=lock, **report)
"""


def run_build(
    sandbox: Sandbox, scratch: Path, requirements: str, constraints: str, *, cutoff: str | None,
    python_version: str, image: str, limits: Limits, index: IndexSettings,
) -> tuple[StepResult, BuildReport | None, Path]:
    """Run the dependency container; returns its result, what it reported (None when it said nothing) and the
    scratch folder the environment was built in (``scratch/env``)."""
    folders = {name: scratch / name for name in ("req", "env", "uv-cache")}
    for folder in folders.values():
        folder.mkdir()
    (folders["req"] / "requirements.in").write_text(requirements)
    (folders["req"] / "constraints.txt").write_text(constraints)
    for written in (folders["req"], *folders["req"].iterdir()):
        written.chmod(0o755 if written.is_dir() else 0o644)
    folders["env"].chmod(0o777)  # the container runs as uid 1000, whoever the grader runs as
    folders["uv-cache"].chmod(0o777)
    mounts = [Mount(folders["req"], REQ_MOUNT), Mount(folders["env"], ENV_DIR, read_only=False),
              Mount(folders["uv-cache"], UV_CACHE_MOUNT, read_only=False)]
    if index.cert:
        mounts.append(Mount(index.cert, CA_MOUNT))
    # uv's cache and the builds' temporary files go to disk, not the memory-backed /tmp (which may also be
    # mounted noexec, and some builds run what they compile).
    env = {**index.environment(), "UV_CACHE_DIR": f"{UV_CACHE_MOUNT}/cache", "TMPDIR": f"{UV_CACHE_MOUNT}/tmp",
           "UV_LINK_MODE": "copy", "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    spec = RunSpec(name="dependencies", command=build_command(cutoff, bool(constraints), python_version),
                   image=image, env=env, limits=limits, mounts=tuple(mounts), mount_work=False, egress=True)
    result = sandbox.run(spec)
    return result, read_build_report(result.stdout), folders["env"]


def read_build_report(stdout: str) -> BuildReport | None:
    """The container's last result line, or None when there is none (or it is not what the script prints)."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(RESULT_MARKER)), None)
    if line is None:
        return None
    try:
        data = json.loads(line[len(RESULT_MARKER):])
        return BuildReport(stage=str(data["stage"]), lock=[str(x) for x in data.get("lock", [])],
                           cutoff=data.get("cutoff"), cutoff_dropped=data.get("cutoff_dropped"),
                           error=str(data.get("error", "")))
    except (ValueError, KeyError, TypeError):
        return None


# --- taking the environment into the cache ------------------------------------------------------------------


def take_environment(built: Path, dest: Path) -> str | None:
    """Copy the environment the container left in ``built`` to ``dest`` (new), owned by the grader: directories,
    regular files (modes kept to 0755/0644) and symbolic links as links (never followed on the host); anything else
    is refused, as is more than MAX_ENV_BYTES in all. Returns why it was refused, or None."""
    total = 0
    dest.mkdir(mode=0o755)
    for folder, dirnames, filenames in os.walk(built):
        relative = Path(folder).relative_to(built)
        for name in sorted(dirnames + filenames):
            source, target = Path(folder, name), dest / relative / name
            info = os.lstat(source)
            if stat.S_ISLNK(info.st_mode):
                target.symlink_to(os.readlink(source))
                if name in dirnames:
                    dirnames.remove(name)  # a link to a folder is copied as a link, never walked
            elif stat.S_ISDIR(info.st_mode):
                target.mkdir(mode=0o755)
            elif stat.S_ISREG(info.st_mode):
                total += info.st_size
                if total > MAX_ENV_BYTES:
                    return f"the environment is larger than {MAX_ENV_BYTES // 1024**3} GiB"
                _copy_file(source, target, executable=bool(info.st_mode & 0o111))
            else:
                return f"{relative / name} is not a file, folder or link"
    return None


def _copy_file(source: Path, target: Path, *, executable: bool) -> None:
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a fifo swapped in must not hang us
    with os.fdopen(fd, "rb") as reading, open(target, "xb") as writing:
        shutil.copyfileobj(reading, writing, COPY_CHUNK)
        info = os.fstat(reading.fileno())
    target.chmod(0o755 if executable else 0o644)
    # A .pyc file is valid only for its source's modification time: a new one would make every import
    # recompile, in memory, on each start (the mount is read-only), which doubled MLflow's import time.
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
