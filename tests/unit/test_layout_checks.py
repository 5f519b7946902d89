"""Checks that judge real repository layouts: ``dockerfile-found``, ``ci``, ``problem-statement`` and the
multi-linter ``lint``. Each submission below is our own, small, and reproduces a shape seen in real capstones
(a Dockerfile in a subfolder, a Jenkinsfile, a README whose overview is an emoji heading ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.checks.gitignore import IgnoreRules
from grader.models import Status, StepResult
from tests.unit import check_contract as contract


def judge(tmp_path: Path, check_type: str, files: dict[str, str], params: dict[str, Any] | None = None,
          manifest: dict[str, Any] | None = None, run_tool: Any = None):
    ctx = contract.make_context(tmp_path, files, manifest=manifest or {}, run_tool=run_tool)
    return contract.run_check(check_type, params or {}, ctx)


SERVING = """FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
"""


# --- gitignore -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rules", "path", "is_folder", "ignored"), [
    ("models/\n", "models/model.pkl", False, True),
    ("*.pkl\n", "api/models/m.pkl", False, True),
    ("/data\n", "src/data/x.csv", False, False),
    ("artifacts/*\n!artifacts/keep.txt\n", "artifacts/keep.txt", False, False),
    ("artifacts/*\n!artifacts/keep.txt\n", "artifacts/model.joblib", False, True),
    ("logs/\n", "logs", False, False),  # a file called logs is not the folder
    ("**/cache/**\n", "a/b/cache/x", False, True),
    ("# comment\n\n", "anything", False, False),
])
def test_gitignore_rules(tmp_path: Path, rules: str, path: str, is_folder: bool, ignored: bool) -> None:
    (tmp_path / ".gitignore").write_text(rules)
    assert (IgnoreRules.load(tmp_path).ignored_by(path, is_folder) is not None) is ignored


def test_nested_gitignore_applies_under_its_folder_only(tmp_path: Path) -> None:
    contract.write_files(tmp_path, {"api/.gitignore": "*.env\n"})
    rules = IgnoreRules.load(tmp_path)
    assert rules.ignored_by("api/prod.env") == "api/.gitignore:1: *.env"
    assert rules.ignored_by("prod.env") is None


# --- dockerfile-found ------------------------------------------------------------------------------


def test_a_dockerfile_in_a_subfolder_with_its_own_context_passes(tmp_path: Path) -> None:
    files = {"api/Dockerfile": SERVING.replace("main:app", "app:app"), "api/requirements.txt": "fastapi\n",
             "api/app.py": "app = None\n", "trainer/train.py": "print()\n"}
    outcome = judge(tmp_path, "dockerfile-found", files)
    assert outcome.status is Status.passed and outcome.score_fraction == 1
    assert outcome.message.startswith("api/Dockerfile (build context api/) builds an image from committed files")


def test_a_named_variant_built_from_the_root_is_found_and_the_serving_one_judged(tmp_path: Path) -> None:
    files = {"Dockerfile.model-api": SERVING.replace("COPY . .", "COPY src/ src/").replace("main:app", "src.app:app"),
             "Dockerfile.mlflow": "FROM python:3.11-slim\nRUN pip install mlflow\nCMD mlflow server\n",
             "docker/Dockerfile.api": SERVING, "requirements.txt": "flask\n", "src/app.py": "app = None\n"}
    outcome = judge(tmp_path, "dockerfile-found", files, manifest={"deploy": {"dockerfile": "Dockerfile.model-api"}})
    assert outcome.status is Status.passed, outcome.message
    assert outcome.evidence["judged"]["path"] == "Dockerfile.model-api"


def test_compose_gives_the_build_context(tmp_path: Path) -> None:
    files = {"deployment/Dockerfile.svc": SERVING.replace("COPY . .", "COPY app.py ."),
             "deployment/app.py": "app = None\n", "deployment/requirements.txt": "flask\n",
             "docker-compose.yml": "services:\n  svc:\n    build:\n      context: ./deployment\n"
                                   "      dockerfile: Dockerfile.svc\n    ports: ['8000:8000']\n"}
    outcome = judge(tmp_path, "dockerfile-found", files)
    assert outcome.status is Status.passed
    assert outcome.evidence["judged"]["compose_services"] == ["docker-compose.yml:svc"]


def test_copying_an_uncommitted_model_is_partial_naming_the_line(tmp_path: Path) -> None:
    dockerfile = SERVING.replace("COPY . .", "COPY app.py .\nCOPY models/vectorizer.pkl models/")
    outcome = judge(tmp_path, "dockerfile-found", {"Dockerfile": dockerfile, "requirements.txt": "", "app.py": ""})
    assert outcome.status is Status.failed and outcome.score_fraction == 0.5
    assert outcome.message.startswith("Dockerfile:6: COPY models/vectorizer.pkl copies something that is not in the "
                                      "repository")
    assert "commit it, create it in the Dockerfile, or stop copying it" in outcome.message


def test_copying_a_folder_whose_contents_are_git_ignored_is_partial(tmp_path: Path) -> None:
    dockerfile = SERVING.replace("COPY . .", "COPY app.py .\nCOPY artifacts/ artifacts/")
    files = {"Dockerfile": dockerfile, "requirements.txt": "", "app.py": "", "artifacts/shap/plot.png": "png",
             ".gitignore": "artifacts/*\n!artifacts/shap/\n"}
    outcome = judge(tmp_path, "dockerfile-found", files)
    assert outcome.score_fraction == 0.5 and "(.gitignore:1: artifacts/*)" in outcome.message


def test_no_cmd_is_partial(tmp_path: Path) -> None:
    dockerfile = "FROM python:3.11-slim\nCOPY . .\nRUN pip install -r requirements.txt\n"
    outcome = judge(tmp_path, "dockerfile-found", {"Dockerfile": dockerfile, "requirements.txt": ""})
    assert outcome.score_fraction == 0.5
    assert "has no CMD or ENTRYPOINT, so the image starts nothing" in outcome.message


def test_code_never_copied_in_is_partial(tmp_path: Path) -> None:
    dockerfile = ("FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
                  'CMD ["python", "-m", "uvicorn", "scripts.api:app"]\n')
    outcome = judge(tmp_path, "dockerfile-found", {"Dockerfile.inference": dockerfile, "requirements.txt": ""})
    assert outcome.score_fraction == 0.5 and "the image copies none in" in outcome.message


def test_a_server_from_a_bare_python_image_that_installs_nothing_is_partial(tmp_path: Path) -> None:
    dockerfile = 'FROM python:3.11\nCOPY app.py .\nCMD ["uvicorn", "app:app"]\n'
    outcome = judge(tmp_path, "dockerfile-found", {"Dockerfile": dockerfile, "app.py": ""})
    assert outcome.score_fraction == 0.5 and "installs nothing" in outcome.message


def test_dockerfiles_in_virtualenvs_and_node_modules_do_not_count(tmp_path: Path) -> None:
    files = {"node_modules/pkg/Dockerfile": SERVING, ".venv/lib/Dockerfile": SERVING,
             "docker-compose.yml": "services:\n  db:\n    image: postgres:16\n"}
    outcome = judge(tmp_path, "dockerfile-found", files)
    assert outcome.status is Status.failed and outcome.score_fraction == 0
    assert outcome.message.startswith("no Dockerfile in the repository; docker-compose.yml only runs images built "
                                      "elsewhere")


def test_a_manifest_naming_a_missing_dockerfile_fails_naming_it(tmp_path: Path) -> None:
    outcome = judge(tmp_path, "dockerfile-found", {"Dockerfile": SERVING},
                    manifest={"deploy": {"dockerfile": "docker/Dockerfile"}})
    assert outcome.status is Status.failed
    assert outcome.message.startswith("no docker/Dockerfile in the repository (named in capstone.yaml")


# --- ci --------------------------------------------------------------------------------------------

GITHUB = """name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install pytest flake8
      - run: |
          flake8 .
          {test}
"""


@pytest.mark.parametrize(("files", "fraction", "fragment"), [
    ({".github/workflows/ci.yml": GITHUB.format(test="python -m pytest tests -q")}, 1.0,
     ".github/workflows/ci.yml (GitHub Actions) runs the tests: `python -m pytest tests -q`"),
    ({".gitlab-ci.yml": "test:\n  image: python:3.11\n  script:\n    - pip install -r requirements.txt\n"
                        "    - make test\n"}, 1.0, ".gitlab-ci.yml (GitLab CI) runs the tests: `make test`"),
    ({".circleci/config.yml": "version: 2.1\njobs:\n  build:\n    steps:\n      - run:\n          command: tox\n"},
     1.0, "(CircleCI) runs the tests: `tox`"),
    ({"azure-pipelines.yml": "steps:\n  - script: pytest\n"}, 1.0, "(Azure Pipelines) runs the tests"),
    ({"Jenkinsfile": "pipeline {\n  stages {\n    stage('Test') {\n      steps { sh 'docker exec api pytest tests/' }"
                     "\n    }\n  }\n}\n"}, 0.5,
     "Jenkinsfile runs the tests (`steps { sh 'docker exec api pytest tests/' }`), but only on a Jenkins server"),
    ({".github/workflows/ci.yml": GITHUB.format(test="echo done")}, 0.5,
     ".github/workflows/ci.yml lints (`flake8 .`) but runs no tests: add a step that runs pytest"),
    ({".github/workflows/docker.yml": "on: push\njobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v5\n"},
     0.0, "only builds or deploys (`docker/build-push-action@v5`); it checks nothing"),
])
def test_ci_judges_what_the_pipeline_runs(tmp_path: Path, files: dict[str, str], fraction: float,
                                          fragment: str) -> None:
    outcome = judge(tmp_path, "ci", files)
    assert outcome.score_fraction == fraction and fragment in outcome.message, outcome.message
    assert (outcome.status is Status.passed) is (fraction == 1.0)


def test_installing_pytest_or_a_comment_about_it_is_not_running_it(tmp_path: Path) -> None:
    files = {".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pip install pytest\n"
                                         "      - run: |\n          # run pytest later\n          echo hi\n"}
    outcome = judge(tmp_path, "ci", files)
    assert outcome.status is Status.failed and "runs no tests, lint or build step" in outcome.message


def test_a_workflow_outside_github_workflows_is_named_as_inactive(tmp_path: Path) -> None:
    outcome = judge(tmp_path, "ci", {".github/workflows_stop/ci.yaml": GITHUB.format(test="pytest")})
    assert outcome.status is Status.failed
    assert outcome.message.startswith("no active CI pipeline: .github/workflows_stop/ci.yaml is outside")


def test_no_pipeline_fails_saying_what_to_add(tmp_path: Path) -> None:
    outcome = judge(tmp_path, "ci", {"Makefile": "test:\n\tpytest\n"})
    assert outcome.status is Status.failed and "add .github/workflows/ci.yml" in outcome.message


# --- problem-statement -----------------------------------------------------------------------------

PROSE = ("Hospitals lose money when patients are readmitted within thirty days, so this project predicts "
         "readmission risk from discharge records to let nurses plan follow-up calls for the riskiest patients "
         "first, and success means a recall above the current manual triage.")


@pytest.mark.parametrize(("readme", "status", "fraction", "fragment"), [
    (f"# Readmission\n\n## Problem statement\n\n{PROSE}\n\n## Setup\n\npip install\n", Status.passed, 1.0,
     '"Problem statement" describes the problem'),
    (f"# Project\n\n## 📌 1. Project Overview\n\n{PROSE}\n", Status.passed, 1.0, '"📌 1. Project Overview"'),
    (f"Readmission\n===========\n\nBusiness problem\n----------------\n\n{PROSE}\n", Status.passed, 1.0,
     '"Business problem"'),
    (f"# Readmission risk\n\n{PROSE}\n\n## Project structure\n\n```\nsrc/\n```\n", Status.passed, 1.0,
     "the opening paragraphs describe the project"),
    ("# Project\n\n## Overview\n\nAn MLOps pipeline.\n\n## Architecture Overview\n\n" + PROSE + "\n",
     Status.failed, 0.5, '"Overview" has only 3 words of prose'),
    ("# mlops\n\nA sentiment model served with Flask for a course project.\n\n## Run\n\n```\nmake\n```\n",
     Status.failed, 0.5, "only a short introduction"),
    ("# mlops\n\n## Run\n\n```bash\ndocker compose up -d --build\ncurl localhost:8000/ready\n```\n",
     Status.failed, 0.0, "has no section that states the problem"),
])
def test_problem_statement_reads_the_readme_structure(tmp_path: Path, readme: str, status: Status, fraction: float,
                                                      fragment: str) -> None:
    outcome = judge(tmp_path, "problem-statement", {"README.md": readme})
    assert outcome.status is status and outcome.score_fraction == fraction, outcome.message
    assert fragment in outcome.message


def test_problem_statement_without_a_readme_fails(tmp_path: Path) -> None:
    outcome = judge(tmp_path, "problem-statement", {"main.py": ""})
    assert outcome.status is Status.failed and outcome.message.startswith("no README in the repository")


def test_problem_statement_reads_a_nested_readme_when_the_root_has_none(tmp_path: Path) -> None:
    outcome = judge(tmp_path, "problem-statement", {"Readme.MD": f"## Goal\n\n{PROSE}\n"})
    assert outcome.status is Status.passed and outcome.message.startswith("Readme.MD:1:")
    outcome = judge(tmp_path / "n", "problem-statement", {"service/README.md": f"## Goal\n\n{PROSE}\n"})
    assert outcome.status is Status.passed and outcome.message.startswith("service/README.md:1:")


# --- lint: the candidate's own linter --------------------------------------------------------------


class FakeTools:
    """The sandbox's tool runner: answers per tool with an exit code and output, records each command."""

    def __init__(self, answers: dict[str, tuple[int, str]]) -> None:
        self.answers, self.commands = answers, []

    def __call__(self, name: str, command: str, tools: Any, inputs: Path) -> StepResult:
        self.commands.append(command)
        exit_code, output = next((v for k, v in self.answers.items() if k in name), (0, ""))
        return StepResult(id=name, command=command, exit_code=exit_code, duration_s=0.1, stdout=output)


@pytest.fixture
def python_linters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "python-linters"
    folder.mkdir()
    monkeypatch.setenv("GRADER_PYTHON_LINTERS", str(folder))
    return folder


FLAKE8_REPO = {"setup.cfg": "[flake8]\nmax-line-length = 100\n", "app.py": "import os\n"}


def test_a_flake8_configured_repository_runs_flake8_with_its_configuration(tmp_path: Path,
                                                                           python_linters: Path) -> None:
    tools = FakeTools({"flake8": (0, "")})
    outcome = judge(tmp_path, "lint", FLAKE8_REPO, run_tool=tools)
    assert outcome.status is Status.passed and outcome.message == "flake8 (setup.cfg [flake8]) passes"
    assert "python -m flake8 ." in tools.commands[0] and "PYTHONPATH=/opt/grader-tools/python-linters" in \
        tools.commands[0]


def test_flake8_findings_fail_with_the_first_one(tmp_path: Path, python_linters: Path) -> None:
    tools = FakeTools({"flake8": (1, "./app.py:1:1: F401 'os' imported but unused\n")})
    outcome = judge(tmp_path, "lint", FLAKE8_REPO, run_tool=tools)
    assert outcome.status is Status.failed
    assert outcome.message == "flake8 finds problems: ./app.py:1:1: F401 'os' imported but unused"


def test_a_configured_linter_the_grader_lacks_is_not_held_against_the_candidate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_PYTHON_LINTERS", str(tmp_path / "not-installed"))
    outcome = judge(tmp_path, "lint", FLAKE8_REPO, run_tool=contract.never)
    assert outcome.status is Status.skipped
    assert outcome.message.startswith("flake8 is configured (setup.cfg [flake8]) but not available in the grader's "
                                      "image")


def test_black_from_pre_commit_runs_in_check_mode(tmp_path: Path, python_linters: Path) -> None:
    files = {".pre-commit-config.yaml": "repos:\n  - repo: https://github.com/psf/black\n    hooks:\n"
                                        "      - id: black\n"}
    tools = FakeTools({"black": (1, "would reformat app.py\nOh no!")})
    outcome = judge(tmp_path, "lint", files, run_tool=tools)
    assert "python -m black --check" in tools.commands[0]
    assert outcome.status is Status.failed and outcome.message.startswith("black --check would reformat files")


def test_a_rubric_preferring_ruff_runs_only_ruff(tmp_path: Path, python_linters: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "ruff-binary"
    binary.write_bytes(b"\x7fELF fake")
    binary.chmod(0o755)
    monkeypatch.setenv("GRADER_RUFF", str(binary))
    tools = FakeTools({"ruff": (0, "All checks passed!")})
    files = {**FLAKE8_REPO, "ruff.toml": "line-length = 100\n"}
    outcome = judge(tmp_path, "lint", files, {"linters": ["ruff"]}, run_tool=tools)
    assert outcome.status is Status.passed and len(tools.commands) == 1 and "ruff check" in tools.commands[0]


def test_a_linter_only_ci_runs_is_run_with_the_ci_options(tmp_path: Path, python_linters: Path) -> None:
    workflow = ("jobs:\n  lint:\n    steps:\n      - run: pip install flake8\n"
                "      - run: flake8 src/ --count --select=E9,F63 --exit-zero --statistics && echo ok\n")
    tools = FakeTools({"flake8": (0, "")})
    outcome = judge(tmp_path, "lint", {".github/workflows/ci.yml": workflow, "src/app.py": ""}, run_tool=tools)
    assert outcome.status is Status.passed and outcome.message == "flake8 (run by .github/workflows/ci.yml) passes"
    assert "python -m flake8 --count --select=E9,F63 --statistics src/" in tools.commands[0]  # never --exit-zero


def test_a_configuration_file_wins_over_what_ci_runs(tmp_path: Path, python_linters: Path) -> None:
    files = {**FLAKE8_REPO, "Makefile": "fmt:\n\tblack .\n"}
    tools = FakeTools({"flake8": (0, "")})
    outcome = judge(tmp_path, "lint", files, run_tool=tools)
    assert outcome.message == "flake8 (setup.cfg [flake8]) passes" and len(tools.commands) == 1


def test_unreadable_inputs_give_a_defined_outcome(tmp_path: Path) -> None:
    files = {"Dockerfile": "FROM python:3.11\nCOPY [unclosed /x\nCOPY /app.py ../../etc/passwd .\nCMD python app.py\n",
             "app.py": "", "docker-compose.yml": "services: [unclosed\n", ".gitignore": "[\n\\\n!\n"}
    outcome = judge(tmp_path, "dockerfile-found", files)
    assert outcome.score_fraction == 0.5 and "COPY [unclosed copies something that is not in the repository" \
        in outcome.message
    outcome = judge(tmp_path / "b", "dockerfile-found", {"Dockerfile": "just some text\n"})
    assert outcome.score_fraction == 0.5 and "has no FROM instruction" in outcome.message
    outcome = judge(tmp_path / "c", "ci", {".gitlab-ci.yml": "test: [unclosed\n"})
    assert outcome.status is Status.failed and outcome.message.startswith(".gitlab-ci.yml is not valid YAML (line 2)")
