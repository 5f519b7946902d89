"""``--deadline``: per git repository, the last commit at or before a moment (its committer date).

The repository is cloned bare under the same rules as intake (no hooks, no host git config, a time limit);
nothing from it runs. The commit found is then graded through the ordinary intake, as an explicit ref.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from grader.errors import BadInputError, SubmissionError
from grader.intake.git import git_env, run_git

_GIT_URLS = ("https://", "http://", "ssh://", "git://", "git@", "file://")


def parse_deadline(text: str) -> datetime:
    """An ISO 8601 moment (``2026-05-01T23:59``, ``2026-05-01T23:59:00+02:00``); without an offset, UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"--deadline {text!r} is not an ISO 8601 date and time (e.g. 2026-05-01T23:59+02:00)") \
            from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_git_source(source: str) -> bool:
    """Whether intake would read ``source`` as a git repository when given a ref."""
    if source.startswith(_GIT_URLS):
        return True
    path = Path(source)
    bare = (path / "HEAD").is_file() and (path / "objects").is_dir()
    return path.is_dir() and (bare or (path / ".git").exists())


def commit_at_deadline(source: str, ref: str | None, deadline: datetime) -> str:
    """The id of the last commit reachable from ``ref`` (default HEAD) committed at or before ``deadline``."""
    branch = ref or "HEAD"
    if branch.startswith("-") or "\x00" in branch:
        raise SubmissionError(f"git ref {branch!r} is not a valid ref")
    with tempfile.TemporaryDirectory(prefix="grader-deadline-") as scratch:
        home, bare = Path(scratch, "home"), Path(scratch, "repo.git")
        home.mkdir()
        env = git_env(home)
        clone = ["clone", "--bare", "--no-recurse-submodules", "--quiet", "--", source, str(bare)]
        run_git(clone, env, f"git could not clone {source!r}")
        git_dir = ["--git-dir", str(bare)]
        run_git([*git_dir, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{branch}^{{commit}}"], env,
                f"git ref {branch!r} is not a commit in {source!r}")
        stamp = deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        commit = run_git([*git_dir, "rev-list", "-1", f"--before={stamp}", "--end-of-options", branch], env,
                         f"git could not list the history of {branch!r} in {source!r}")
    if not commit:
        raise SubmissionError(f"{source!r} has no commit on {branch!r} at or before the deadline "
                              f"{deadline.isoformat()}: nothing was submitted in time")
    return commit
