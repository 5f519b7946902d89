"""``grader lab new``: a new lab folder from a template, ready to validate and to pass its rubric test.

A template is a folder under ``templates/``. Its files are copied as they are, except that
``__LAB_ID__`` and ``__LAB_TITLE__`` are replaced in text files (as quoted strings in YAML) and a
``.tmpl`` suffix is dropped (Python files carry it so the grader's own linters and test runs leave
the template alone). The new lab keeps its rubric inside its folder (``rubric: rubric.yaml``), so it
is self-contained.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from grader.errors import BadInputError
from grader.models import IDENTIFIER

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "basic"
TEMPLATE_SUFFIX = ".tmpl"
# yaml-language-server reads this comment on a file's first line to pick the JSON Schema (docs/authoring.md).
SCHEMA_MODELINE = "# yaml-language-server: $schema={}\n"
SCHEMA_OF = {"lab.yaml": "lab.schema.json", "rubric.yaml": "rubric.schema.json", "variant.yaml": "variant.schema.json"}


def template_names() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir())


def title_from_id(lab_id: str) -> str:
    return re.sub(r"[-_.]+", " ", lab_id).strip().capitalize()


def check_new_lab_id(lab_id: str, known_ids: list[str]) -> None:
    """Refuse an id the lab model would reject, or one a lab already has."""
    if not re.match(IDENTIFIER, lab_id):
        raise BadInputError(
            f"invalid lab id {lab_id!r}: use lowercase letters, digits and _ . - (at most 64 characters, "
            "starting with a letter or digit), e.g. my-first-lab")
    if lab_id in known_ids:
        raise BadInputError(f"a lab {lab_id!r} already exists (see `grader lab list`); choose another id")


def create_lab(lab_id: str, parent: Path, *, template: str = DEFAULT_TEMPLATE, title: str | None = None,
               schema_dir: Path | None = None) -> Path:
    """Write the lab ``lab_id`` to ``parent/lab_id`` from a template and return its folder.

    With ``schema_dir`` (a folder holding the generated JSON Schemas), the YAML files start with a
    ``yaml-language-server`` comment pointing at their schema, relative to the file."""
    source = TEMPLATES / template
    if not source.is_dir():
        raise BadInputError(f"no lab template {template!r}; templates: {', '.join(template_names())}")
    dest = parent / lab_id
    if dest.exists():
        raise BadInputError(f"{dest} already exists; choose another id or --dir")
    replacements = {"__LAB_ID__": lab_id, "__LAB_TITLE__": title or title_from_id(lab_id)}
    parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        _render(path, replacements, schema_dir)
    return dest


def _render(path: Path, replacements: dict[str, str], schema_dir: Path | None) -> None:
    target = path.with_name(path.name.removesuffix(TEMPLATE_SUFFIX))
    if target != path:
        path.rename(target)
    if target.suffix == ".patch":
        return  # a patch must apply byte for byte
    text = target.read_text(encoding="utf-8")
    for placeholder, value in replacements.items():
        # In YAML a title such as "Drift: part 2" must be quoted; a JSON string is a valid YAML scalar.
        text = text.replace(placeholder, json.dumps(value) if target.suffix == ".yaml" else value)
    if schema_dir is not None and target.name in SCHEMA_OF:
        text = SCHEMA_MODELINE.format(_schema_reference(schema_dir / SCHEMA_OF[target.name], target.parent)) + text
    target.write_text(text, encoding="utf-8")


def _schema_reference(schema: Path, folder: Path) -> str:
    """A relative path when the lab lives beside the schemas (both move with the repository), else a file URI."""
    schema, folder = schema.resolve(), folder.resolve()
    if Path(os.path.commonpath([schema, folder])) == Path(folder.anchor):
        return schema.as_uri()
    return Path(os.path.relpath(schema, folder)).as_posix()
