"""The report stage: one :class:`~grader.models.Report`, many renderers, files written atomically.

Each format is a module with a ``FILENAME`` and a ``render(report) -> str``; :data:`RENDERERS` is the
explicit name → module table, so adding a format is one module and one line here.

All requested formats are rendered in memory before any file is touched, so a renderer that fails leaves
every previous report in ``out_dir`` as it was, and each file is replaced atomically, so a crash mid-write
never leaves a truncated report that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from grader.errors import BadInputError
from grader.models import Report
from grader.results.report import html, json_report, markdown

__all__ = ["DEFAULT_FORMATS", "RENDERERS", "Renderer", "render", "write_reports"]

DEFAULT_FORMATS = ("json", "md", "html")
# Reports are meant to be read by people and tools other than the grader's own user.
REPORT_FILE_MODE = 0o644


class Renderer(Protocol):
    """What a report format module provides."""

    FILENAME: str

    def render(self, report: Report) -> str: ...


RENDERERS: dict[str, Renderer] = {"json": json_report, "md": markdown, "html": html}


def renderer_for(fmt: str) -> Renderer:
    """The renderer module for a format name; an unknown name is a user error listing the valid ones."""
    try:
        return RENDERERS[fmt]
    except KeyError:
        valid = ", ".join(sorted(RENDERERS))
        raise BadInputError(f"unknown report format {fmt!r}: choose from {valid}") from None


def render(report: Report, fmt: str) -> str:
    """The report rendered in one format (``json``, ``md`` or ``html``)."""
    return renderer_for(fmt).render(report)


def write_reports(report: Report, out_dir: Path, formats: Sequence[str] = DEFAULT_FORMATS) -> dict[str, Path]:
    """Render ``report`` in each format and write the files into ``out_dir``; returns format → path.

    Formats are checked and rendered before anything is written, so an unknown format or a failing
    renderer changes no file.
    """
    renderers = {fmt: renderer_for(fmt) for fmt in dict.fromkeys(formats)}
    rendered = {fmt: (r.FILENAME, r.render(report)) for fmt, r in renderers.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt, (filename, text) in rendered.items():
        path = out_dir / filename
        write_atomic(path, text.encode("utf-8", errors="replace"))
        written[fmt] = path
    return written


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the complete new one, never a part.

    The temporary file lives in the same directory (``os.replace`` is only atomic within a file system)
    and is flushed to disk before the rename; it is removed if anything fails.
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, REPORT_FILE_MODE)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Persists the rename itself; without it a power cut can bring back the old file or none at all.
    # Not every platform or file system lets a directory be opened or synced, and the data is safe anyway.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
