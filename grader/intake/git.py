"""A git submission, exported without running any of it: cloned bare with hooks, fsmonitor and ext transports
off, in an environment no host git config reaches, and one commit streamed through ``git archive`` into the
safe extractor, all under a time limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO, BinaryIO, cast

from grader.errors import InfrastructureError, SubmissionError
from grader.intake.archive import extract_tar
from grader.intake.tree import ExtractLimits, ExtractStats

GIT_TIMEOUT_S = 120.0
# Only what reaching a remote needs; GIT_DIR, GIT_CONFIG_* and friends must not leak in from the host.
_PASSED_ENV = ("PATH", "SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY")
_SAFE_GIT = (
    *("git", "-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=always"),
    *("-c", "protocol.ext.allow=never", "-c", "core.fsmonitor=false"),
)


def export_git(
    source: str, path: Path, dest: Path, ref: str, limits: ExtractLimits
) -> tuple[ExtractStats, str, str]:
    """Clone bare into a scratch folder, resolve `ref` to a commit and stream ``git archive`` of it; returns
    the stats, the commit and its committer date (ISO 8601: what the candidate's stack is resolved as of)."""
    if ref.startswith("-") or "\x00" in ref:
        raise SubmissionError(f"git ref {ref!r} is not a valid ref")
    location = str(path) if path != Path() else source
    with tempfile.TemporaryDirectory(prefix="grader-git-") as scratch:
        home, bare = Path(scratch, "home"), Path(scratch, "repo.git")
        home.mkdir()
        env = git_env(home)
        clone = ["clone", "--bare", "--no-recurse-submodules", "--quiet", "--", location, str(bare)]
        run_git(clone, env, f"git could not clone {source!r}")
        git_dir = ["--git-dir", str(bare)]
        verify = [*git_dir, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
        commit = run_git(verify, env, f"git ref {ref!r} is not a commit in {source!r}")
        committed_at = run_git([*git_dir, "show", "-s", "--format=%cI", commit], env, f"git show {commit}")
        return _archive_commit(git_dir, commit, env, dest, limits), commit, committed_at


def git_env(home: Path) -> dict[str, str]:
    """An environment where no system or user git config applies and nothing waits for a password."""
    env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1"}
    env |= {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes", "LC_ALL": "C"}
    return env


def _start_git(args: list[str], env: dict[str, str], stderr: int | IO[bytes]) -> subprocess.Popen[bytes]:
    command = [*_SAFE_GIT, *args]
    try:  # own session, so a timeout can kill git's helpers (ssh, remote-https) along with it
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    except FileNotFoundError as error:
        raise InfrastructureError("git is not installed on the grading host") from error


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)


def run_git(args: list[str], env: dict[str, str], failure: str) -> str:
    """Run one git command under the time limit and return its stdout; failure raises SubmissionError."""
    process = _start_git(args, env, subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        _kill(process)
        process.communicate()
        raise SubmissionError(f"{failure}: git timed out after {GIT_TIMEOUT_S:.0f}s") from error
    if process.returncode != 0:
        summary = _summarise(err)
        raise SubmissionError(f"{failure}: {summary}" if summary else failure)
    return out.decode("utf-8", "replace").strip()


def _archive_commit(
    git_dir: list[str], commit: str, env: dict[str, str], dest: Path, limits: ExtractLimits
) -> ExtractStats:
    """Stream ``git archive`` of one commit straight into the safe extractor, under the time limit."""
    with tempfile.TemporaryFile() as errors:
        process = _start_git([*git_dir, "archive", "--format=tar", commit], env, errors)
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            _kill(process)

        timer = threading.Timer(GIT_TIMEOUT_S, stop)
        timer.start()
        stdout = cast(BinaryIO, process.stdout)
        refusal: SubmissionError | None = None
        try:
            stats = extract_tar(stdout, dest, limits)
            while stdout.read(1024 * 1024):  # the end-of-archive padding, so git exits cleanly
                pass
        except SubmissionError as error:
            refusal = error
            _kill(process)
        finally:
            timer.cancel()
            stdout.close()
            process.wait()
        if timed_out.is_set():
            raise SubmissionError(f"git archive of {commit} timed out after {GIT_TIMEOUT_S:.0f}s")
        if process.returncode not in (0, -signal.SIGKILL) or (refusal is None and process.returncode != 0):
            errors.seek(0)
            raise SubmissionError(f"git archive of {commit} failed: {_summarise(errors.read())}")
        if refusal is not None:
            raise refusal
        return stats


def _summarise(stderr: bytes) -> str:
    """The last lines of git's complaint, short enough for a report."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return "; ".join(lines[-3:])[:400]
