"""Which paths of a repository its ``.gitignore`` files keep out of git (and so out of a fresh checkout).

A small reading of git's rules, enough to tell a reviewer "this file is not committed": patterns relative to
the ``.gitignore``'s folder, anchored when they contain a ``/`` other than a trailing one, ``*``/``?``/``[...]``
within a name, ``**`` across folders, a trailing ``/`` for folders only, ``!`` to re-include, and the last
matching pattern wins. A path inside an ignored folder is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_IGNORE_FILES = 50
MAX_IGNORE_BYTES = 256 * 1024


@dataclass(frozen=True)
class IgnoreRule:
    base: str  # folder of the .gitignore, relative to the root ("" for the root)
    regex: re.Pattern[str]
    negated: bool
    folders_only: bool
    source: str  # "<file>:<line>: <pattern>", for messages


def _translate(pattern: str) -> str:
    """A gitignore glob as a regular expression over a '/'-separated relative path."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def parse_rules(text: str, base: str, source: str) -> list[IgnoreRule]:
    """The rules of one ``.gitignore`` whose folder is ``base``."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        folders_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if not pattern:
            continue
        anchored = "/" in pattern
        pattern = pattern.lstrip("/")
        prefix = "" if anchored else "(?:.*/)?"
        try:
            regex = re.compile(f"^{prefix}{_translate(pattern)}$")
        except re.error:
            continue
        rules.append(IgnoreRule(base, regex, negated, folders_only, f"{source}:{number}: {line}"))
    return rules


@dataclass(frozen=True)
class IgnoreRules:
    """Every ``.gitignore`` of a repository, outermost first."""

    rules: tuple[IgnoreRule, ...] = ()

    @classmethod
    def load(cls, root: Path, files: Iterable[str] | None = None) -> IgnoreRules:
        """The rules of the ``.gitignore`` files among ``files`` ('/'-separated paths under ``root``; default: a
        search of the whole tree)."""
        names = [f for f in files if f.rsplit("/", 1)[-1] == ".gitignore"] if files is not None else \
            [p.relative_to(root).as_posix() for p in root.rglob(".gitignore")]
        ordered = sorted(names, key=lambda name: (name.count("/"), name))[:MAX_IGNORE_FILES]
        return cls._from(root, [root / name for name in ordered])

    @classmethod
    def _from(cls, root: Path, files: list[Path]) -> IgnoreRules:
        rules: list[IgnoreRule] = []
        for path in files:
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(root)
            base = relative.parent.as_posix()
            with path.open("rb") as handle:
                text = handle.read(MAX_IGNORE_BYTES).decode("utf-8", errors="replace")
            rules += parse_rules(text, "" if base == "." else base, relative.as_posix())
        return cls(tuple(rules))

    def ignored_by(self, relative: str, is_folder: bool = False) -> str | None:
        """The rule that keeps ``relative`` (a '/'-separated path under the root) out of git, or None."""
        parts = PurePosixPath(relative).parts
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            folder = depth < len(parts) or is_folder
            rule = self._last_match(prefix, folder)
            if rule is not None and not rule.negated:
                return rule.source
        return None

    def _last_match(self, path: str, is_folder: bool) -> IgnoreRule | None:
        found = None
        for rule in self.rules:
            if rule.folders_only and not is_folder:
                continue
            if rule.base and not path.startswith(rule.base + "/"):
                continue
            inner = path[len(rule.base) + 1:] if rule.base else path
            if rule.regex.match(inner):
                found = rule
        return found
