"""A Dockerfile, parsed with dockerfile-parse: lint rules, and the base-image rewrite for offline builds."""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dockerfile_parse import DockerfileParser

ROOT_USERS = {"root", "0", "0:0", "root:root", "root:0", "0:root"}
WHOLE_CONTEXT = {".", "./", "*"}
DEPENDENCY_FILES = re.compile(r"(requirements[^/\s]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|poetry\.lock|Pipfile)")


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case, e.g. FROM
    value: str
    line: int  # 1-based

    def words(self) -> list[str]:
        """The arguments, JSON form (``["a", "b"]``) or shell form, without ``--flag=value`` options."""
        text = self.value.strip()
        if text.startswith("["):
            try:
                return [str(w) for w in json.loads(text)]
            except ValueError:
                pass
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        return [w for w in words if not w.startswith("--")]


@dataclass(frozen=True)
class Dockerfile:
    instructions: list[Instruction]
    parent_images: list[str]  # FROM images with build args filled in (stage names of earlier stages kept)

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
        instructions = [Instruction(item["instruction"].upper(), item["value"], item["startline"] + 1)
                        for item in parser.structure]
        return cls(instructions, list(parser.parent_images))

    def final_stage(self) -> list[Instruction]:
        """Instructions of the last stage (from its FROM on): what the served image is made of."""
        starts = [i for i, item in enumerate(self.instructions) if item.name == "FROM"]
        return self.instructions[starts[-1]:] if starts else []


def stage_name(instruction: Instruction) -> str:
    """The ``AS name`` of a FROM instruction, or ``""``."""
    words = instruction.words()
    return words[-1] if len(words) >= 3 and words[-2].lower() == "as" else ""


@dataclass(frozen=True)
class Finding:
    line: int
    message: str


def pinned_base(dockerfile: Dockerfile, port: int) -> list[Finding]:
    """Every base image is pinned: a tag other than ``latest``, or a digest (earlier stages and scratch pass)."""
    stages: set[str] = set()
    findings = []
    froms = [i for i in dockerfile.instructions if i.name == "FROM"]
    for instruction, image in zip(froms, dockerfile.parent_images, strict=False):
        stage = stage_name(instruction).lower()
        if image.lower() not in stages and image != "scratch" and "@sha256:" not in image:
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest" or "$" in tag:
                findings.append(Finding(instruction.line, f"base image {image!r} is not pinned to a tag or digest"))
        if stage:
            stages.add(stage)
    return findings


def non_root_user(dockerfile: Dockerfile, port: int) -> list[Finding]:
    """The final stage switches to a user other than root before the image runs."""
    users = [i for i in dockerfile.final_stage() if i.name == "USER"]
    if not users:
        line = dockerfile.final_stage()[0].line if dockerfile.final_stage() else 1
        return [Finding(line, "the final stage sets no USER: the container runs as root")]
    last = users[-1]
    if last.value.strip().lower() in ROOT_USERS:
        return [Finding(last.line, f"the image runs as {last.value.strip()!r}")]
    return []


def no_add_url(dockerfile: Dockerfile, port: int) -> list[Finding]:
    """No ``ADD <url>``: remote files are unpinned and unchecked (download them in a RUN with a checksum)."""
    return [Finding(i.line, f"ADD fetches a URL: {i.value.strip()[:120]}") for i in dockerfile.instructions
            if i.name == "ADD" and any(re.match(r"^[a-z][a-z0-9+.-]*://", w, re.I) for w in i.words()[:-1])]


def exposes_port(dockerfile: Dockerfile, port: int) -> list[Finding]:
    """The final stage EXPOSEs the port the manifest says the server listens on."""
    exposed = {w.split("/", 1)[0] for i in dockerfile.final_stage() if i.name == "EXPOSE" for w in i.words()}
    if str(port) in exposed:
        return []
    return [Finding(1, f"port {port} is not EXPOSEd (exposed: {', '.join(sorted(exposed)) or 'none'})")]


def dependencies_before_source(dockerfile: Dockerfile, port: int) -> list[Finding]:
    """Dependencies are installed from the requirement files alone, before the source is copied, so a code
    change does not invalidate the dependency layer."""
    stage = dockerfile.final_stage()
    installs = [i for i in stage if i.name == "RUN" and re.search(r"\bpip\d*(\.\d+)?\s+install\b", i.value)]
    if not installs:
        return []
    first_install = installs[0]
    copies = [i for i in stage if i.name in ("COPY", "ADD") and i.line < first_install.line
              and not any(w.startswith("--from") for w in i.value.split())]
    whole = [c for c in copies if any(w in WHOLE_CONTEXT for w in c.words()[:-1])]
    if whole:
        return [Finding(whole[0].line, "the whole source is copied before the dependencies are installed "
                                       f"(line {first_install.line}): copy the requirement files first")]
    if not any(DEPENDENCY_FILES.search(" ".join(c.words()[:-1])) for c in copies):
        return [Finding(first_install.line, "pip installs before any requirement file is copied")]
    return []


Rule = Callable[[Dockerfile, int], list[Finding]]
RULES: dict[str, Rule] = {
    "pinned-base": pinned_base,
    "non-root": non_root_user,
    "no-add-url": no_add_url,
    "expose": exposes_port,
    "deps-before-source": dependencies_before_source,
}


def map_base_images(text: str, mapping: Mapping[str, str]) -> tuple[str, list[str]]:
    """The Dockerfile with every FROM image named in ``mapping`` replaced (for a build without a registry),
    and what was replaced. A mapped stage starts with ``USER root``: real bases such as python:3.11-slim
    run as root, a local stand-in may not."""
    dockerfile = Dockerfile.parse(text)
    lines = text.splitlines()
    replaced = []
    froms = [i for i in dockerfile.instructions if i.name == "FROM"]
    for instruction, image in reversed(list(zip(froms, dockerfile.parent_images, strict=False))):
        if image not in mapping:
            continue
        stage = f" AS {stage_name(instruction)}" if stage_name(instruction) else ""
        index = instruction.line - 1
        lines[index] = f"FROM {mapping[image]}{stage}"
        lines.insert(index + 1, "USER root")
        replaced.append(f"{image} -> {mapping[image]}")
    return "\n".join(lines) + "\n", list(reversed(replaced))
