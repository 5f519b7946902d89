"""The rules every file entering a workspace obeys, in one ``TreeWriter``: no entry climbs out of the folder
(``../``, absolute paths, links), no device files, sizes and counts within limits, decompression bounded. Tar,
zip, git and folder intake and every copy out of a sandbox go through it, so they cannot drift apart. On a
refusal the half-written folder is left for the caller to delete (it writes into a fresh one).
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grader.errors import SubmissionError

CHUNK = 1024 * 1024
MAX_RATIO = 200  # source trees compress 3-10:1; hundreds to one on a big entry is a bomb
RATIO_FLOOR = 1024 * 1024  # tiny files may compress absurdly well and harm nobody
MAX_LINK_TARGET = 4096
_MAX_LINK_HOPS = 40  # the kernel's own ELOOP limit
TAR_OVERHEAD = 4096  # raw header bytes budgeted per entry when bounding a tar stream
_KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "directory", stat.S_IFLNK: "symlink", stat.S_IFIFO: "fifo"}
_KINDS |= {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFSOCK: "socket"}
TAR_KINDS = {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "fifo"}
ONLY_PLAIN = "only files, directories and links are allowed"
OUTSIDE = "which points outside the submission folder"


@dataclass(frozen=True)
class ExtractLimits:
    """How much one submission or copied-out tree may unpack to."""

    max_files: int = 20_000
    max_bytes: int = 200 * 1024**2  # total uncompressed bytes
    max_file_bytes: int = 100 * 1024**2  # any single file


@dataclass
class ExtractStats:
    """What was written: files (regular files and links; directories are not counted) and their bytes."""

    files: int
    bytes: int


class Reader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def kind_of(mode: int) -> str:
    """A human name for the file type in a stat ``st_mode`` ("file", "symlink", "fifo", ...)."""
    return _KINDS.get(stat.S_IFMT(mode), "special file")


def file_kind(path: Path) -> str | None:
    """The kind of whatever is at `path` without following a link, or None when nothing is there."""
    try:
        return kind_of(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def _unsafe(name: str) -> str | None:
    """Why an archive path may not be written, or None when it is a plain relative path."""
    if "\x00" in name:
        return "has a NUL byte in its name"
    if name.startswith("/"):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "escapes the submission folder"
    return None


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


def _resolves_inside(root: Path, start: list[str], target: str) -> bool:
    """Whether link `target`, read in folder `start` (parts below root), stays inside root at every step.

    Every step is checked, not only the end, so the answer holds wherever the tree is mounted later:
    ``../ws/x`` read at the top ends inside a folder named ws here, but outside it in a container.
    Links met on the way are followed; absolute ones and loops fail.
    """
    if target.startswith("/"):
        return False
    current, pending, hops = list(start), deque(target.split("/")), 0
    while pending:
        part = pending.popleft()
        if part == "..":
            if not current:
                return False
            current.pop()
        elif part not in ("", "."):
            current.append(part)
            path = root.joinpath(*current)
            if path.is_symlink():
                inner, hops = os.readlink(path), hops + 1
                if hops > _MAX_LINK_HOPS or inner.startswith("/"):
                    return False
                current.pop()
                pending.extendleft(reversed(inner.split("/")))
    return True


def verify_links(root: Path, label: str = "archive entry") -> None:
    """Refuse when any symlink below `root` leads outside it (run on the finished tree: a later entry
    can change where an earlier link leads)."""
    for folder, dirnames, filenames in os.walk(root):
        for path in (Path(folder, name) for name in (*dirnames, *filenames)):
            if not path.is_symlink():
                continue
            relative, target = path.relative_to(root), os.readlink(path)
            if not _resolves_inside(root, list(relative.parts[:-1]), target):
                raise SubmissionError(
                    f"{label} {relative.as_posix()!r} is a symlink to {target!r}, {OUTSIDE}"
                )


class TreeWriter:
    """Writes entries below one folder under the rules every intake path shares.

    Names are archive-style (``/``-separated, relative). Nothing is written through a link: every
    parent must be a real directory, files are created with O_NOFOLLOW, and limits are counted on the
    bytes actually written, whatever an archive declares. Modes become 0o644/0o755; owners are not kept.
    """

    def __init__(self, dest: Path, limits: ExtractLimits, label: str = "archive entry") -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(dest))
        self.limits = limits
        self.label = label
        self.stats = ExtractStats(files=0, bytes=0)
        self._directories = 0

    def refusal(self, name: str, why: str) -> SubmissionError:
        """A SubmissionError naming the entry and the rule it broke."""
        return SubmissionError(f"{self.label} {name!r} {why}")

    def add_directory(self, name: str) -> None:
        """Create a directory (mode 0o755); the root itself (``./``) is accepted and ignored."""
        parts = self._checked(name, root_ok=True)
        self._count_directory(name)
        if not parts:
            return
        path = self._parent(name, parts) / parts[-1]
        kind = file_kind(path)
        if kind is None:
            os.mkdir(path, 0o755)
        elif kind != "directory":
            raise self.refusal(name, f"is a directory, but a {kind} was already extracted there")
        os.chmod(path, 0o755)

    def add_file(self, name: str, content: Reader, *, executable: bool, declared: int | None = None) -> None:
        """Write a regular file, refused before writing when `declared` is over a limit and while
        writing as soon as the bytes actually read go over one."""
        parts = self._checked(name)
        self._count_file(name)
        if declared is not None:
            self._check_size(name, declared, self.stats.bytes + declared)
        path = self._replaceable(name, parts)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            written = 0
            while chunk := content.read(CHUNK):
                written += len(chunk)
                self.stats.bytes += len(chunk)
                self._check_size(name, written, self.stats.bytes)
                if declared is not None and written > declared:
                    raise self.refusal(name, f"holds more than the {declared} bytes it declares")
                out.write(chunk)
            os.fchmod(out.fileno(), 0o755 if executable else 0o644)

    def add_symlink(self, name: str, target: str) -> None:
        """Create a symlink whose target is relative and stays inside the folder."""
        parts = self._checked(name)
        self._count_file(name)
        if target.startswith("/"):
            raise self.refusal(
                name, f"is a symlink to {target!r}, an absolute path outside the submission folder"
            )
        if not target or "\x00" in target or len(target) > MAX_LINK_TARGET:
            raise self.refusal(name, "is a symlink with an empty, overlong or binary target")
        if not _resolves_inside(self.root, parts[:-1], target):
            raise self.refusal(name, f"is a symlink to {target!r}, {OUTSIDE}")
        os.symlink(target, self._replaceable(name, parts))

    def add_hardlink(self, name: str, target: str) -> None:
        """Create a hard link to a regular file extracted earlier (tar link names are root-relative)."""
        parts = self._checked(name)
        self._count_file(name)
        if _unsafe(target) or not _parts(target):
            raise self.refusal(name, f"is a hard link to {target!r}, outside the submission folder")
        source = self._existing_file(name, target)
        size = os.lstat(source).st_size
        self.stats.bytes += size  # counted again: a copy out of the workspace duplicates it
        self._check_size(name, size, self.stats.bytes)
        os.link(source, self._replaceable(name, parts), follow_symlinks=False)

    def finish(self) -> ExtractStats:
        """Check the finished tree's links and return what was written."""
        verify_links(self.root, self.label)
        return self.stats

    def _checked(self, name: str, *, root_ok: bool = False) -> list[str]:
        why = _unsafe(name) or (None if root_ok or _parts(name) else "has no file name")
        if why:
            raise self.refusal(name, why)
        return _parts(name)

    def _count_file(self, name: str) -> None:
        self.stats.files += 1
        if self.stats.files > self.limits.max_files:
            raise self.refusal(name, f"goes over the limit of {self.limits.max_files} files")

    def _count_directory(self, name: str) -> None:
        self._directories += 1
        if self._directories > self.limits.max_files:
            raise self.refusal(name, f"goes over the limit of {self.limits.max_files} directories")

    def _check_size(self, name: str, size: int, total: int) -> None:
        limits = self.limits
        if size > limits.max_file_bytes:
            raise self.refusal(name, f"is larger than the limit of {limits.max_file_bytes} bytes per file")
        if total > limits.max_bytes:
            raise self.refusal(name, f"takes the submission over the limit of {limits.max_bytes} bytes")

    def _parent(self, name: str, parts: list[str]) -> Path:
        """The entry's parent folder, created as needed; refused if any step is a link or not a folder."""
        current = self.root
        for depth, part in enumerate(parts[:-1], start=1):
            current = current / part
            kind = file_kind(current)
            if kind is None:
                self._count_directory(name)
                os.mkdir(current, 0o755)
                os.chmod(current, 0o755)
            elif kind == "symlink":
                raise self.refusal(name, f"would be written through the symlink {'/'.join(parts[:depth])!r}")
            elif kind != "directory":
                raise self.refusal(name, f"is inside {'/'.join(parts[:depth])!r}, which is a {kind}")
        return current

    def _replaceable(self, name: str, parts: list[str]) -> Path:
        """Where a file or link goes; an earlier file or link of that name is unlinked, never followed."""
        path = self._parent(name, parts) / parts[-1]
        kind = file_kind(path)
        if kind == "directory":
            raise self.refusal(name, "would replace a directory extracted before it")
        if kind is not None:
            os.unlink(path)
        return path

    def _existing_file(self, name: str, target: str) -> Path:
        current = self.root
        for part in _parts(target):
            if file_kind(current) != "directory":  # a link or file on the way: not an extracted file
                current = self.root
                break
            current = current / part
        if file_kind(current) != "file":
            raise self.refusal(name, f"is a hard link to {target!r}, which is not a file extracted before it")
        return current
