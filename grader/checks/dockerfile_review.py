"""A reviewer's reading of a Dockerfile without building it: would a fresh checkout build an image that serves?

The Dockerfile is read with the deploy lab's parser. Its build context is the one a compose file gives it,
else whichever of its folder and the folders above it holds what it copies (``docker build -f
docker/Dockerfile .`` is as common as ``cd api && docker build .``). Problems found, each with the line and
what to change: no ``FROM``; nothing started (no ``CMD``/``ENTRYPOINT``); a ``COPY``/``ADD`` source that is not
in the repository or that ``.gitignore`` keeps out of git; a start command that runs the candidate's code
while no code is copied in; a server started from a bare Python image while nothing is installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from grader.checks.gitignore import IgnoreRules
from grader.evidence.deploy.dockerfile import DEPENDENCY_FILES, Dockerfile, Instruction, stage_name

MAX_DOCKERFILE_BYTES = 256 * 1024
SERVER_PROGRAMS = ("uvicorn", "gunicorn", "flask", "waitress-serve", "hypercorn", "bentoml", "streamlit", "mlflow")
SERVING_WORDS = re.compile(r"uvicorn|gunicorn|flask|waitress|hypercorn|bentoml|fastapi|\bserve\b|predict|:app\b")
INFRASTRUCTURE_WORDS = re.compile(r"airflow|prefect|mlflow\s+server|mlflow\s+ui|grafana|prometheus|jenkins|jupyter"
                                  r"|streamlit|evidently|postgres|redis|minio|nginx")
SERVING_NAMES = re.compile(r"api|serv|infer|predict|app|model|deploy", re.IGNORECASE)
INHERITED_START_IMAGES = re.compile(r"uvicorn-gunicorn|tiangolo/|bentoml/|seldonio/|tensorflow/serving")
CODE_IN_COMMAND = re.compile(r"\.py\b|^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\(\))?$")
INSTALLING = re.compile(r"\b(pip\d*(\.\d+)?|uv|poetry|pipenv|conda|mamba|micromamba|apt-get|apt|apk)\b")
CONTENT_PROBES = ("model.joblib", "model.pkl", "data.csv", "file")
PYTHON_BASE = re.compile(r"^(docker\.io/)?(library/)?python(:|$)")


@dataclass(frozen=True)
class ComposeBuild:
    """A compose service built from a Dockerfile: where its context and Dockerfile are."""

    compose_file: str
    service: str
    context: str  # relative to the repository root, "" for the root
    dockerfile: str  # relative to the repository root


@dataclass(frozen=True)
class DockerfileReview:
    path: str
    context: str  # "" for the repository root
    problems: tuple[str, ...]
    start_command: str
    serving_score: int
    compose_services: tuple[str, ...] = ()

    @property
    def context_label(self) -> str:
        return f"{self.context}/" if self.context else "the repository root"

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "context": self.context or ".", "problems": list(self.problems),
                "start": self.start_command, "compose_services": list(self.compose_services)}


def _normal(path: str) -> str:
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part in (".", "/"):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def compose_builds(compose_file: str, text: str) -> list[ComposeBuild]:
    """The services of a compose file that build an image (``build: ctx`` or ``build: {context, dockerfile}``)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        return []
    folder = str(PurePosixPath(compose_file).parent)
    builds = []
    for name, service in services.items():
        build = service.get("build") if isinstance(service, dict) else None
        if isinstance(build, str):
            context, dockerfile = build, "Dockerfile"
        elif isinstance(build, dict):
            context, dockerfile = str(build.get("context", ".")), str(build.get("dockerfile", "Dockerfile"))
        else:
            continue
        if "://" in context or "$" in context:
            continue
        context_path = _normal(f"{folder}/{context}")
        builds.append(ComposeBuild(compose_file, str(name), context_path, _normal(f"{context_path}/{dockerfile}")))
    return builds


@dataclass
class _Reader:
    root: Path
    ignore: IgnoreRules

    def source_state(self, context: str, source: str) -> tuple[str, str | None]:
        """('ok' | 'missing' | 'ignored', the .gitignore rule) of a COPY source under a context."""
        relative = _normal(f"{context}/{source.lstrip('/')}")  # a leading / is the context's root to Docker
        try:
            matches = sorted(self.root.glob(relative)) if any(c in relative for c in "*?[") else (
                [self.root / relative] if relative else [self.root])
        except ValueError:
            return "missing", None
        matches = [m for m in matches if m.exists()]
        if not matches:
            return "missing", None
        last_rule: str | None = None
        for match in matches:
            if match == self.root:
                return "ok", None
            inside = match.relative_to(self.root).as_posix()
            rule = self.ignore.ignored_by(inside, match.is_dir())
            if rule is None and match.is_dir():
                # `artifacts/*` with a few exceptions: the folder is committed, what the image needs in it is not
                rule = next((r for r in (self.ignore.ignored_by(f"{inside}/{probe}") for probe in CONTENT_PROBES)
                             if r), None)
            if rule is None:
                return "ok", None
            last_rule = rule
        return "ignored", last_rule


def copy_sources(instruction: Instruction) -> list[str]:
    """The local sources of a COPY/ADD (none for ``--from`` copies; URLs and build arguments left out)."""
    if any(w.startswith("--from") for w in instruction.value.split()):
        return []
    words = instruction.words()[:-1]
    return [w for w in words if "://" not in w and "$" not in w]


def start_command(dockerfile: Dockerfile) -> tuple[Instruction | None, str]:
    """The final stage's CMD/ENTRYPOINT, inherited from an earlier stage it builds on, if any."""
    stages: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for instruction in dockerfile.instructions:
        if instruction.name == "FROM":
            current = [instruction]
            if stage_name(instruction):
                stages[stage_name(instruction).lower()] = current
        else:
            current.append(instruction)
    chain = dockerfile.final_stage()
    seen = 0
    while chain and seen < 10:
        starts = [i for i in chain if i.name in ("CMD", "ENTRYPOINT")]
        if starts:
            return starts[-1], " ".join(i.value.strip() for i in starts)[:300]
        base = chain[0].words()[0].lower() if chain[0].words() else ""
        chain, seen = stages.get(base, []), seen + 1
    return None, ""


def _serving_score(path: str, text: str, start: str, port: int, named: bool) -> int:
    score = 100 if named else 0
    lowered = f"{start}\n{text}".lower()
    if re.search(rf"\b{port}\b", lowered):
        score += 3
    if SERVING_WORDS.search(start.lower() or lowered):
        score += 2
    if INFRASTRUCTURE_WORDS.search(start.lower() or lowered):
        score -= 3
    if SERVING_NAMES.search(path.rsplit("/", 1)[-1] + "/" + path.rsplit("/", 2)[0]):
        score += 1
    if "/" not in path:
        score += 1
    return score


def review_dockerfile(root: Path, path: str, text: str, contexts: list[str], ignore: IgnoreRules, *,
                      port: int, named: bool = False, compose_services: tuple[str, ...] = ()) -> DockerfileReview:
    """What stops the Dockerfile at ``path`` from building an image that serves, judged from a fresh checkout.
    ``contexts``: the build contexts a compose file gives it; empty: its folder or one above it."""
    try:
        dockerfile = Dockerfile.parse(text)
    except Exception as exc:  # the parser's errors are not one type
        return DockerfileReview(path, "", (f"{path} cannot be parsed: {exc}",), "", -10)
    if not any(i.name == "FROM" for i in dockerfile.instructions):
        return DockerfileReview(path, "", (f"{path} has no FROM instruction: start it with a base image "
                                           "(e.g. FROM python:3.11-slim)",), "", -10)
    reader = _Reader(root, ignore)
    context = _pick_context(reader, dockerfile, path, contexts)
    problems: list[str] = []
    start, start_text = start_command(dockerfile)
    final_base = dockerfile.parent_images[-1] if dockerfile.parent_images else ""
    if start is None and not INHERITED_START_IMAGES.search(final_base):
        problems.append(f"{path} has no CMD or ENTRYPOINT, so the image starts nothing: add the command that "
                        "starts the server (e.g. CMD [\"uvicorn\", \"app:app\", \"--host\", \"0.0.0.0\"])")
    problems += _copy_problems(reader, dockerfile, path, context)
    problems += _missing_code(dockerfile, path, start_text)
    problems += _nothing_installed(dockerfile, path, start_text, final_base)
    score = _serving_score(path, text, start_text, port, named)
    return DockerfileReview(path, context, tuple(problems), start_text, score, compose_services)


def _pick_context(reader: _Reader, dockerfile: Dockerfile, path: str, contexts: list[str]) -> str:
    if contexts:
        return contexts[0]
    sources = [s for i in dockerfile.instructions if i.name in ("COPY", "ADD") for s in copy_sources(i)]
    folder = str(PurePosixPath(path).parent)
    options = [folder if folder != "." else ""]
    while options[-1]:
        parent = str(PurePosixPath(options[-1]).parent)
        options.append("" if parent == "." else parent)

    def resolved(option: str) -> int:
        return sum(reader.source_state(option, s)[0] != "missing" for s in sources)

    return max(options, key=lambda option: (resolved(option), -options.index(option)))


def _copy_problems(reader: _Reader, dockerfile: Dockerfile, path: str, context: str) -> list[str]:
    problems = []
    where = f"{context}/" if context else "the repository root"
    for instruction in dockerfile.instructions:
        if instruction.name not in ("COPY", "ADD"):
            continue
        for source in copy_sources(instruction):
            state, rule = reader.source_state(context, source)
            if state == "missing":
                problems.append(f"{path}:{instruction.line}: {instruction.name} {source} copies something that is "
                                f"not in the repository (build context {where}): commit it, create it in the "
                                "Dockerfile, or stop copying it")
            elif state == "ignored":
                problems.append(f"{path}:{instruction.line}: {instruction.name} {source} copies what .gitignore keeps "
                                f"out of git ({rule}): a fresh checkout cannot build this image; commit it, create it "
                                "in the Dockerfile, or stop copying it")
    return problems


def _missing_code(dockerfile: Dockerfile, path: str, start_text: str) -> list[str]:
    words = re.split(r"[\s\[\],\"']+", start_text)
    if not any(CODE_IN_COMMAND.search(w) for w in words if w):
        return []
    stage = dockerfile.final_stage()
    copies = [i for i in stage if i.name in ("COPY", "ADD")]
    if any(any(w.startswith("--from") for w in i.value.split()) for i in copies):
        return []
    code = [s for i in copies for s in copy_sources(i) if not DEPENDENCY_FILES.search(s)]
    if code:
        return []
    return [f"{path}: the start command runs your code ({start_text[:80]}) but the image copies none in: it only "
            "works with a bind mount; COPY the application into the image"]


def _nothing_installed(dockerfile: Dockerfile, path: str, start_text: str, final_base: str) -> list[str]:
    if not PYTHON_BASE.search(final_base) or len(dockerfile.parent_images) != 1:
        return []
    first = next((w for w in re.split(r"[\s\[\],\"']+", start_text) if w), "")
    program = first.rsplit("/", 1)[-1]
    if program not in SERVER_PROGRAMS:
        return []
    if any(i.name == "RUN" and INSTALLING.search(i.value) for i in dockerfile.instructions):
        return []
    return [f"{path}: starts {program} from {final_base} but installs nothing: {program} is not in that image; "
            "RUN pip install -r requirements.txt first"]
