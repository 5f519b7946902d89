"""Safe extraction of archives and tar streams into a fresh folder, through the ``TreeWriter`` rules.

Whatever a submission (or a container) hands over is hostile until checked: an entry may try to climb
out of the folder (``../``, absolute paths, links), to fill the disk (zip bombs, lying sizes) or to plant
device files (``grader.intake.tree``).
"""

from __future__ import annotations

import gzip
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, cast

from grader.errors import SubmissionError
from grader.intake.tree import (
    CHUNK,
    MAX_LINK_TARGET,
    MAX_RATIO,
    ONLY_PLAIN,
    RATIO_FLOOR,
    TAR_KINDS,
    TAR_OVERHEAD,
    ExtractLimits,
    ExtractStats,
    Reader,
    TreeWriter,
    kind_of,
)


class _BoundedReader:
    """Caps the raw bytes fed to tarfile, which reads some headers (pax, long names) whole into memory."""

    def __init__(self, raw: Reader, budget: int) -> None:
        self._raw = raw
        self._left = budget

    def read(self, size: int = CHUNK, /) -> bytes:
        data = self._raw.read(size if size >= 0 else CHUNK)
        self._left -= len(data)
        if self._left < 0:
            raise SubmissionError("archive is larger than its limits allow, even before unpacking")
        return data


def extract_tar(
    stream: BinaryIO, dest: Path, limits: ExtractLimits, *, compressed: bool = False
) -> ExtractStats:
    """Extract a tar (gzip-compressed when `compressed`) read from `stream` into `dest`.

    The archive is streamed, never held in memory, and extraction stops at the first entry that
    breaks a rule or a limit with a SubmissionError naming it.
    """
    writer = TreeWriter(dest, limits)
    raw: Reader = gzip.GzipFile(fileobj=stream, mode="rb") if compressed else stream
    budget = limits.max_bytes + (2 * limits.max_files + 16) * TAR_OVERHEAD
    bounded = cast(BinaryIO, _BoundedReader(raw, budget))  # tarfile's stream mode only calls read()
    try:
        with tarfile.open(fileobj=bounded, mode="r|") as archive:
            for member in archive:
                _extract_member(archive, member, writer)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        kind = "tar.gz" if compressed else "tar"
        raise SubmissionError(f"archive is not a readable {kind} file: {error}") from error
    return writer.finish()


def _extract_member(archive: tarfile.TarFile, member: tarfile.TarInfo, writer: TreeWriter) -> None:
    name = member.name
    if member.isdir():
        writer.add_directory(name)
    elif member.isreg():
        content = archive.extractfile(member)
        assert content is not None  # a regular member always has content
        writer.add_file(name, content, executable=bool(member.mode & 0o111), declared=member.size)
    elif member.issym():
        writer.add_symlink(name, member.linkname)
    elif member.islnk():
        writer.add_hardlink(name, member.linkname)
    else:
        raise writer.refusal(name, f"is a {TAR_KINDS.get(member.type, 'special file')}: {ONLY_PLAIN}")


def extract_zip(path: Path, dest: Path, limits: ExtractLimits) -> ExtractStats:
    """Extract the zip archive at `path` into `dest`.

    The central directory is checked first (entry count, declared sizes, compression ratio); declared
    sizes can lie, so the bytes actually written are counted too.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise SubmissionError(f"archive {path.name!r} is not a readable zip file: {error}") from error
    with archive:
        entries = archive.infolist()
        _check_declared(entries, limits)
        writer = TreeWriter(dest, limits)
        for info in entries:
            _extract_zip_entry(archive, info, writer)
        return writer.finish()


def _check_declared(entries: list[zipfile.ZipInfo], limits: ExtractLimits) -> None:
    """Refuse on the central directory alone, before a byte is written."""
    if len(entries) > limits.max_files:
        raise SubmissionError(
            f"archive has {len(entries)} entries, over the limit of {limits.max_files} files"
        )
    for info in entries:
        name, size, packed = info.filename, info.file_size, max(info.compress_size, 1)
        if size > limits.max_file_bytes:
            raise SubmissionError(
                f"archive entry {name!r} declares {size} bytes, "
                f"over the limit of {limits.max_file_bytes} bytes per file"
            )
        if size > RATIO_FLOOR and size > MAX_RATIO * packed:
            raise SubmissionError(
                f"archive entry {name!r} has a compression ratio of {size // packed}:1, over the limit of "
                f"{MAX_RATIO}:1 (a zip bomb?)"
            )
    total = sum(info.file_size for info in entries)
    if total > limits.max_bytes:
        raise SubmissionError(f"archive declares {total} bytes, over the limit of {limits.max_bytes} bytes")


def _extract_zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, writer: TreeWriter) -> None:
    name = info.filename.replace("\\", "/")  # some Windows tools still write backslashes
    mode = info.external_attr >> 16
    if info.flag_bits & 0x1:
        raise writer.refusal(name, "is encrypted")
    try:
        if info.is_dir() or stat.S_ISDIR(mode):
            writer.add_directory(name)
        elif stat.S_ISLNK(mode):
            with archive.open(info) as content:
                target = content.read(MAX_LINK_TARGET + 1)
            writer.add_symlink(name, target.decode("utf-8", "surrogateescape"))
        elif stat.S_IFMT(mode) in (0, stat.S_IFREG):
            with archive.open(info) as content:
                writer.add_file(name, content, executable=bool(mode & 0o111), declared=info.file_size)
        else:
            raise writer.refusal(name, f"is a {kind_of(mode)}: {ONLY_PLAIN}")
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise writer.refusal(name, f"is corrupt or uses an unsupported format: {error}") from error
