"""JSON Schemas of the files people write: ``lab.yaml``, rubrics, ``variant.yaml`` and ``capstone.yaml``.

They are generated from the pydantic models that validate those files, so both agree on every key.
A rubric check's parameters depend on its ``type``: the check schema has one ``if type is X then
X's parameters`` branch per known check type (plug-ins included), so an editor flags a parameter the
type does not have and completes the ones it has. The models stay the authority: a few rules
(cross-references between ids, regular expressions that compile) are checked only by the grader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.checks import all_check_types
from grader.checks.base import CheckType
from grader.labs.loading import Variant
from grader.labs.manifest import manifest_json_schema
from grader.models import CheckSpec, Lab, Rubric

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Kind (as `grader schema` names it) → file name; the docs publish them under docs/schemas/.
SCHEMA_FILES = {
    "lab": "lab.schema.json",
    "rubric": "rubric.schema.json",
    "variant": "variant.schema.json",
    "manifest": "capstone.schema.json",
}
_CHECK_DEF = "CheckSpec"


def lab_schema() -> dict[str, Any]:
    """``lab.yaml``; its ``manifest`` defaults are checked against the manifest's schema."""
    schema = Lab.model_json_schema()
    manifest = manifest_json_schema()
    _merge_defs(schema, manifest.pop("$defs", {}))
    schema["$defs"]["SubmissionManifest"] = manifest
    description = schema["properties"]["manifest"].get("description", "")
    schema["properties"]["manifest"] = {"$ref": "#/$defs/SubmissionManifest", "description": description}
    return _document(schema, "lab.yaml: a capstone-grader lab")


def rubric_schema(check_types: dict[str, CheckType] | None = None) -> dict[str, Any]:
    """A rubric, with each check's parameters validated by the schema of its ``type``."""
    types = all_check_types() if check_types is None else check_types
    schema = Rubric.model_json_schema()
    check = schema["$defs"][_CHECK_DEF]
    common = list(CheckSpec.model_fields)
    check["properties"]["type"] = {
        "enum": list(types), "title": "Type",
        "description": "the check type; its parameters are the other keys (see `grader checks`)",
    }
    check.pop("additionalProperties", None)
    check["allOf"] = []
    for name, check_type in types.items():
        definition = f"check.{name}"
        params, defs = _params_schema(check_type, definition)
        _merge_defs(schema, defs)
        schema["$defs"][definition] = {
            "title": f"{name} check",
            "description": _first_paragraph(check_type.summary),
            "type": "object",
            "properties": {**dict.fromkeys(common, True), **params.get("properties", {})},
            "required": params.get("required", []),
            "additionalProperties": False,
        }
        check["allOf"].append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                               "then": {"$ref": f"#/$defs/{definition}"}})
    return _document(schema, "a capstone-grader rubric")


def variant_schema() -> dict[str, Any]:
    return _document(Variant.model_json_schema(), "variant.yaml: a broken variant of a lab's reference")


def manifest_schema() -> dict[str, Any]:
    """``capstone.yaml``, the submission manifest."""
    return _document(manifest_json_schema(), "capstone.yaml: how the grader runs a capstone repository")


SCHEMAS = {"lab": lab_schema, "rubric": rubric_schema, "variant": variant_schema, "manifest": manifest_schema}


def schema_text(kind: str) -> str:
    """A schema as the files hold it: sorted keys, two-space indent, a final newline."""
    return json.dumps(SCHEMAS[kind](), indent=2, sort_keys=True) + "\n"


def write_schemas(out_dir: Path, kinds: list[str]) -> list[Path]:
    """Write the named schemas to ``out_dir`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in kinds:
        path = out_dir / SCHEMA_FILES[kind]
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written


def _document(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": DIALECT, **schema, "title": title}


def _first_paragraph(text: str) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def _params_schema(check_type: CheckType, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A check type's parameter schema with its own definitions renamed under ``prefix``, so two types
    that both name a nested model ``Options`` do not collide."""
    schema = check_type.params.model_json_schema(ref_template=f"#/$defs/{prefix}.{{model}}")
    defs = {f"{prefix}.{name}": value for name, value in schema.pop("$defs", {}).items()}
    return schema, defs


def _merge_defs(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    existing = schema.setdefault("$defs", {})
    clash = sorted(set(existing) & set(defs))
    if clash:
        raise ValueError(f"JSON Schema definitions defined twice: {clash}")
    existing.update(defs)
