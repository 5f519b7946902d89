"""Labs from other packages: the ``capstone_grader.labs`` entry-point group.

Each entry point names a folder (a ``str`` or ``Path``, or a function returning one) that is either
one lab folder (with ``lab.yaml``) or a folder of lab folders, like ``labs/``. A lab's id is its
folder's name, as in ``labs/``; a lab in the grader's home with the same id wins. A plug-in whose
folder is missing or holds no lab, or two plug-ins offering one id, are refused with a message naming
the plug-in. Like the check-type registry, the result is cached per ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from grader.errors import BadInputError

ENTRY_POINT_GROUP = "capstone_grader.labs"
LAB_FILE = "lab.yaml"


@dataclass(frozen=True)
class PluginLab:
    """A lab folder a plug-in offers, and which distribution offers it."""

    id: str
    directory: Path
    provider: str


def plugin_labs() -> dict[str, PluginLab]:
    """Every lab offered through the entry-point group, by id."""
    return dict(_plugin_labs(tuple(sys.path)))


@cache
def _plugin_labs(search_path: tuple[str, ...]) -> dict[str, PluginLab]:
    found: dict[str, PluginLab] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        for folder in _lab_folders(entry, _describe(entry)):
            if folder.name in found:
                raise BadInputError(f"lab plug-in {_describe(entry)} offers lab {folder.name!r}, "
                                    f"which {found[folder.name].provider} offers too")
            found[folder.name] = PluginLab(folder.name, folder, _provider(entry))
    return found


def _provider(entry: EntryPoint) -> str:
    """The distribution and version offering an entry point (what a report should name)."""
    return f"{entry.dist.name} {entry.dist.version}" if entry.dist is not None else entry.value


def _describe(entry: EntryPoint) -> str:
    return f"{entry.name!r} ({entry.value} from {_provider(entry)})"


def _lab_folders(entry: EntryPoint, provider: str) -> list[Path]:
    try:
        target = entry.load()
        if callable(target):
            target = target()
    except Exception as exc:
        raise BadInputError(f"lab plug-in {provider} failed to load: {exc}") from exc
    if not isinstance(target, str | os.PathLike):
        raise BadInputError(f"lab plug-in {provider} must name a folder (str or Path), not {type(target).__name__}")
    folder = Path(target).resolve()
    if (folder / LAB_FILE).is_file():
        return [folder]
    labs = sorted(p for p in folder.iterdir() if (p / LAB_FILE).is_file()) if folder.is_dir() else []
    if not labs:
        raise BadInputError(f"lab plug-in {provider} names {folder}, which is no lab folder and holds none")
    return labs
