"""Intake: a submission (folder, git repository or archive) in, a safe workspace copy on the host out.

Nothing from the submission runs here. A git source is cloned bare with hooks off and exported with
``git archive`` (no checkout, so no hooks, filters, submodules or LFS smudging); folders and archives go
through the same `TreeWriter` rules as anything copied out of a sandbox.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from grader.errors import BadInputError, SubmissionError
from grader.intake.archive import extract_tar, extract_zip
from grader.intake.git import export_git
from grader.intake.tree import ONLY_PLAIN, ExtractLimits, ExtractStats, TreeWriter, file_kind, kind_of, verify_links
from grader.models import SubmissionInfo

EXPECTED = "a directory, a git repository or a .zip/.tar.gz/.tgz/.tar archive"
_GIT_URLS = ("https://", "http://", "ssh://", "git://", "git@", "file://")
_ARCHIVES = {".zip": "zip", ".tar.gz": "tar.gz", ".tgz": "tar.gz", ".tar": "tar"}
_SKIPPED = frozenset({".git", "__pycache__"})
DEFAULT_LIMITS = ExtractLimits()

Source = Literal["directory", "git", "zip", "tar", "tar.gz"]


@dataclass(frozen=True)
class Workspace:
    """The safe copy of a submission and what intake learned about it."""

    path: Path  # the safe copy (a directory the caller owns)
    info: SubmissionInfo


def open_submission(
    source: str,
    dest: Path,
    *,
    ref: str | None = None,
    limits: ExtractLimits = DEFAULT_LIMITS,
) -> Workspace:
    """Copy a submission into `dest` (missing or empty) under the intake rules and describe it.

    `source` is a directory, a .zip/.tar.gz/.tgz/.tar file or a git repository (local path, bare
    repository or URL; `ref` picks a branch, tag or commit, default HEAD). A refused submission raises
    SubmissionError naming the entry and the rule; `dest` is then left for the caller to delete.
    """
    _claim(dest)
    kind, path = _classify(source, ref)
    if ref is not None and kind != "git":
        raise SubmissionError(
            f"a git ref ({ref!r}) was given, but submission {source!r} is not a git repository"
        )
    commit = committed_at = None
    if kind == "git":
        stats, commit, committed_at = export_git(source, path, dest, ref or "HEAD", limits)
    elif kind == "directory":
        stats = _copy_directory(path, dest, limits)
    else:
        stats = _extract_archive(path, kind, dest, limits)
        _hoist_single_directory(dest)
        verify_links(dest)  # hoisting changes what "outside" means for a link
    info = SubmissionInfo(
        source=source,
        kind="archive" if kind in ("zip", "tar", "tar.gz") else kind,
        digest=tree_digest(dest),
        ref=commit,
        committed_at=committed_at,
        files=stats.files,
        bytes=stats.bytes,
    )
    return Workspace(path=dest, info=info)


def tree_digest(root: Path) -> str:
    """``sha256:<hex>`` over the sorted tree: relative path, kind, executable bit, content or link target.

    Timestamps, owners and permission bits other than "executable" are left out, so the same content
    digests the same whether it came from a folder, an archive or git.
    """
    digest = hashlib.sha256()
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted((*dirnames, *filenames)):
            path = Path(folder, name)
            info = os.lstat(path)
            kind, executable, body = kind_of(info.st_mode), b"-", b""
            if kind == "file":
                executable = b"x" if info.st_mode & 0o111 else b"-"
                body = _file_sha256(path)
            elif kind == "symlink":
                body = os.fsencode(os.readlink(path))
            elif kind != "directory":
                relative = path.relative_to(root).as_posix()
                raise SubmissionError(f"workspace entry {relative!r} is a {kind}: {ONLY_PLAIN}")
            for field in (os.fsencode(path.relative_to(root).as_posix()), kind.encode(), executable, body):
                digest.update(len(field).to_bytes(8, "big") + field)  # length-prefixed: no ambiguity
    return f"sha256:{digest.hexdigest()}"


def _file_sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as content:
        while chunk := content.read(1024 * 1024):
            digest.update(chunk)
    return digest.digest()


def _claim(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise BadInputError(f"workspace folder '{dest}' must not exist yet or be empty")
    dest.mkdir(parents=True, exist_ok=True)


def _classify(source: str, ref: str | None = None) -> tuple[Source, Path]:
    """What kind of submission `source` is; URLs come back with an empty path.

    A work tree is graded as it is on disk (a candidate self-checking sees their uncommitted edits)
    unless a ref is asked for; then its history is used.
    """
    if source.startswith(_GIT_URLS):
        return "git", Path()
    path = Path(source)
    try:
        if path.is_dir():
            bare = (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
            is_git = bare or (ref is not None and (path / ".git").exists())
            return ("git" if is_git else "directory"), path.resolve()
        if path.is_file():
            with path.open("rb"):  # unreadable is better said now than as a corrupt archive
                pass
            for suffix, kind in _ARCHIVES.items():
                if path.name.lower().endswith(suffix):
                    return cast(Source, kind), path
    except OSError as error:
        raise SubmissionError(f"submission {source!r} cannot be read: {error.strerror}") from error
    if not path.exists():
        raise SubmissionError(f"submission {source!r} is not {EXPECTED}: nothing exists at that path")
    raise SubmissionError(f"submission {source!r} is not {EXPECTED}")


def _extract_archive(path: Path, kind: Source, dest: Path, limits: ExtractLimits) -> ExtractStats:
    if kind == "zip":
        return extract_zip(path, dest, limits)
    with path.open("rb") as stream:
        return extract_tar(stream, dest, limits, compressed=kind == "tar.gz")


def _hoist_single_directory(root: Path) -> None:
    """Make a lone top-level folder (GitHub's ``repo-main/``) the workspace root."""
    entries = list(root.iterdir())
    if len(entries) != 1 or file_kind(entries[0]) != "directory":
        return
    top = entries[0]
    taken = {child.name for child in top.iterdir()} | {top.name}
    holding = root / next(f".intake-{n}" for n in range(len(taken) + 1) if f".intake-{n}" not in taken)
    top.rename(holding)  # first, so a child may share the top folder's name
    for child in list(holding.iterdir()):
        child.rename(root / child.name)
    holding.rmdir()


def _copy_directory(source: Path, dest: Path, limits: ExtractLimits) -> ExtractStats:
    """Copy a folder without following links, skipping ``.git`` and ``__pycache__``."""
    writer = TreeWriter(dest, limits, label="submission entry")
    pending = [(source, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            raise writer.refusal(prefix or ".", f"cannot be read: {error.strerror}") from error
        for entry in entries:
            name = prefix + entry.name
            if entry.name in _SKIPPED:
                continue
            if entry.is_symlink():
                writer.add_symlink(name, os.readlink(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                writer.add_directory(name)
                pending.append((Path(entry.path), name + "/"))
            elif entry.is_file(follow_symlinks=False):
                _copy_file(writer, Path(entry.path), name)
            else:
                kind = kind_of(entry.stat(follow_symlinks=False).st_mode)
                raise writer.refusal(name, f"is a {kind}: {ONLY_PLAIN}")
    return writer.finish()


def _copy_file(writer: TreeWriter, path: Path, name: str) -> None:
    try:  # O_NOFOLLOW: a file swapped for a link since the listing must not be followed
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise writer.refusal(name, f"cannot be read: {error.strerror}") from error
    with os.fdopen(fd, "rb") as content:
        info = os.fstat(content.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise writer.refusal(name, f"is a {kind_of(info.st_mode)}: {ONLY_PLAIN}")
        writer.add_file(name, content, executable=bool(info.st_mode & 0o111), declared=info.st_size)
