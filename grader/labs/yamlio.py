"""Load instructor YAML safely and point validation errors at the file and line at fault.

Only plain data is accepted: the safe loader refuses language-specific tags, and aliases are refused
outright because lab files never need them and nested aliases are the YAML form of an entity-expansion
bomb. Files over a size cap are refused before parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from grader.errors import LabError

MAX_YAML_BYTES = 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)
Location = tuple[str | int, ...]


class _PlainDataLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise LabError("YAML aliases (*name) are not allowed", f"{self.name}:{mark.line + 1}")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # PyYAML keeps the last of two equal keys silently; in a lab or manifest that hides a mistake.
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                if key_node.value in first_line:
                    raise LabError(f"duplicate key {key_node.value!r} (first at line {first_line[key_node.value]})",
                                   f"{self.name}:{line}")
                first_line[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


def _plain_data_loader(text: str, name: str) -> _PlainDataLoader:
    """A loader over ``text``; a control character (which the reader rejects up front) is a LabError."""
    try:
        loader = _PlainDataLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise LabError(f"invalid YAML: character #x{exc.character:04x} is not allowed (a terminal escape or "
                       "other control character)", f"{name}:{line}") from None
    loader.name = name
    return loader


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data plus the line of every key and item, for error messages."""

    path: Path
    data: Any
    lines: dict[Location, int]

    def where(self, location: Sequence[str | int]) -> str:
        """``file:line`` of the deepest known prefix of a key path."""
        location = tuple(location)
        while location and location not in self.lines:
            location = location[:-1]
        return f"{self.path}:{self.lines.get(location, 1)}"

    def validate(self, model: type[Model], data: Any = None, prefix: Location = ()) -> Model:
        """Validate ``data`` (default: the whole document) into ``model``; errors carry file:line."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as exc:
            raise validation_error(self, exc, prefix) from None


def validation_error(document: YamlDocument, exc: ValidationError, prefix: Location = ()) -> LabError:
    """Turn pydantic's error list into one LabError naming file, line and field of the first problem."""
    problems = []
    first_location = None
    # An unknown key is usually a typo and the root cause of a "field required" beside it: report it first.
    for error in sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden"):
        location = prefix + tuple(error["loc"])
        first_location = first_location or location
        field = ".".join(str(part) for part in location) or "(top level)"
        problems.append(f"{field}: {error['msg']}")
    more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
    return LabError(problems[0] + more, document.where(first_location or ()))


def load_yaml(path: Path) -> YamlDocument:
    """Parse a YAML file into plain data with line positions, or raise LabError naming the problem."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LabError(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_YAML_BYTES:
        raise LabError(f"file is {size} bytes; YAML files over {MAX_YAML_BYTES} bytes are refused", str(path))
    text = path.read_text(encoding="utf-8", errors="replace")
    loader = _plain_data_loader(text, str(path))
    try:
        node = loader.get_single_node()
        if node is None:
            raise LabError("file is empty", f"{path}:1")
        lines: dict[Location, int] = {}
        _record_lines(node, (), lines)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise LabError(f"invalid YAML: {exc.problem}", f"{path}:{line}") from None
    except yaml.YAMLError as exc:
        raise LabError(f"invalid YAML: {exc}", str(path)) from None
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, lines=lines)


def _record_lines(node: yaml.Node, location: Location, lines: dict[Location, int]) -> None:
    lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            _record_lines(value_node, (*location, key), lines)
            lines[(*location, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*location, index), lines)


def load_all_plain(text: str, name: str) -> list[Any]:
    """Every document of a multi-document YAML text (e.g. Kubernetes manifests), plain data only: no tags,
    no aliases. Raises LabError naming ``name`` and the line for anything else or a syntax error."""
    if len(text.encode()) > MAX_YAML_BYTES:
        raise LabError(f"{name} is over {MAX_YAML_BYTES // 1024} KiB")
    loader = _plain_data_loader(text, name)
    try:
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
        return documents
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise LabError(f"invalid YAML: {getattr(exc, 'problem', exc)}",
                       f"{name}:{mark.line + 1}" if mark else name) from None
    finally:
        loader.dispose()
