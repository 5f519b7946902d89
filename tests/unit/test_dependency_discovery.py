"""Which files make a candidate's environment (pure functions over a file tree), read as one set; the fallback
from a lock that does not install to its unpinned spec; the manifest's ``dependencies`` section; the grader's
MLflow default hook as a file in the environment; and the report's Environment section.

Each tree reproduces a layout seen in real capstones (docs/real-capstones): pyproject + uv.lock beside a
requirements.txt for the API image; a Pipfile.lock for Python 3.9 with sub-folder requirements; no root file, only
``airflow/`` and ``inference/`` ones; requirements-dev.txt and a CI that installs another file.
"""

from __future__ import annotations

import json

import pytest

from grader.labs.manifest import SubmissionManifest
from grader.models import Report
from grader.results.report.markdown import render
from grader.run.dependencies import RESULT_MARKER, DependencyWish, discover_sources, read_requirements
from grader.run.dependencies.discovery import command_folders, declared_python, root_requirement_files
from grader.run.dependencies.reading import read_sources
from grader.run.dependencies.site_hooks import ENVIRONMENT_DEFAULTS, HOOKS, install_site_hooks
from tests.unit.test_dependencies import LIMITS, ScriptedSandbox, prepare, result, submission, uv_builds

UV_LOCK = ('version = 1\n[[package]]\nname = "capstone"\nversion = "0.1.0"\nsource = { editable = "." }\n'
           '[[package]]\nname = "scikit-learn"\nversion = "1.5.2"\nsource = { registry = "https://pypi.org/simple" }\n'
           '[[package]]\nname = "gunicorn"\nversion = "23.0.0"\nsource = { registry = "https://pypi.org/simple" }\n')
PIPFILE_LOCK = json.dumps({"_meta": {"requires": {"python_version": "3.9"}},
                           "default": {"mlflow": {"version": "==2.6.0"}, "numpy": {"version": "==1.21.0"}},
                           "develop": {"pytest": {"version": "==7.4.0"}}})
PIPFILE = '[packages]\nmlflow = "*"\nnumpy = "*"\n[dev-packages]\npytest = "*"\n[requires]\npython_version = "3.9"\n'


def test_a_uv_project_is_read_from_its_lock_and_a_requirements_txt_only_adds_what_the_lock_does_not_name(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml=(
        '[project]\nname = "capstone"\ndependencies = ["scikit-learn==1.5.2", "prefect>=3"]\n'
        '[dependency-groups]\ndev = ["pytest>=8"]\n'), uv_dot_lock=UV_LOCK,
        requirements_dot_txt="scikit-learn==1.5.1\ngunicorn==22.0.0\nwaitress==3.0.0\n")
    sources = discover_sources(root)
    assert sources.files == ("pyproject.toml", "requirements.txt") and sources.lock == "uv.lock"
    assert sources.unpinned == ("pyproject.toml",)
    found = read_sources(root, sources)
    assert found.files == ["pyproject.toml", "uv.lock", "requirements.txt"]
    assert found.requirements == ["scikit-learn==1.5.2", "prefect>=3", "pytest>=8", "waitress==3.0.0"]
    assert found.constraints == ["gunicorn==23.0.0", "scikit-learn==1.5.2"]
    assert found.overridden == ["requirements.txt:1: scikit-learn==1.5.1", "requirements.txt:2: gunicorn==22.0.0"]


def test_a_pipfile_lock_comes_first_with_the_requirements_of_the_folders_the_commands_run_in(tmp_path):
    root = submission(tmp_path, Pipfile_dot_lock=PIPFILE_LOCK, Pipfile=PIPFILE,
                      deployment__requirements_dot_txt="mlflow==2.6.0\ngunicorn==20.1.0\n",
                      deployment__app_dot_py="", pipeline__training_pipeline_dot_py="",
                      pipeline__requirements_mlflow_dot_txt="mlflow==2.6.0\n",
                      monitoring__requirements_dot_txt="evidently\n")
    commands = ["python pipeline/training_pipeline.py", "cd deployment && python -m gunicorn app:app"]
    sources = discover_sources(root, commands)
    assert sources.files == ("Pipfile.lock", "pipeline/requirements_mlflow.txt", "deployment/requirements.txt")
    assert sources.lock == "Pipfile.lock" and sources.unpinned == ("Pipfile",)
    found = read_sources(root, sources)
    assert found.requirements == ["mlflow==2.6.0", "numpy==1.21.0", "pytest==7.4.0", "gunicorn==20.1.0"]
    assert declared_python(root) == "3.9"


def test_the_unpinned_spec_replaces_the_lock_and_keeps_the_other_sources(tmp_path):
    root = submission(tmp_path, Pipfile_dot_lock=PIPFILE_LOCK, Pipfile=PIPFILE,
                      deployment__requirements_dot_txt="gunicorn==20.1.0\nmlflow==2.6.0\n")
    sources = discover_sources(root, ["cd deployment && gunicorn app:app"])
    found = read_sources(root, sources, unpinned=True)
    assert found.files == ["Pipfile", "deployment/requirements.txt"]
    assert found.requirements == ["mlflow", "numpy", "pytest", "gunicorn==20.1.0", "mlflow==2.6.0"]
    (tmp_path / "uv").mkdir()
    uv_project = submission(tmp_path / "uv", pyproject_dot_toml='[project]\nname = "x"\ndependencies = ["six"]\n',
                            uv_dot_lock=UV_LOCK)
    unpinned = read_sources(uv_project, discover_sources(uv_project), unpinned=True)
    assert unpinned.files == ["pyproject.toml"] and unpinned.constraints == [] and unpinned.requirements == ["six"]


def test_without_a_root_file_the_requirements_beside_the_commands_are_read_together(tmp_path):
    root = submission(tmp_path, airflow__requirements_dot_txt="apache-airflow==2.9.1\n",
                      airflow__dags__housing_dag_dot_py="", inference__requirements_dot_txt="fastapi\n",
                      inference__app__main_dot_py="", jenkins__requirements_dot_txt="never-read\n")
    commands = ["export AIRFLOW__CORE__DAGS_FOLDER=$PWD/airflow/dags && airflow dags test housing_dag",
                "cd inference && python -m uvicorn app.main:app --port 8000", "pytest inference/tests"]
    assert discover_sources(root, commands).files == ("airflow/requirements.txt", "inference/requirements.txt")
    assert read_requirements(root, commands=commands).requirements == ["apache-airflow==2.9.1", "fastapi"]


def test_root_files_are_requirements_txt_the_dev_and_test_ones_and_what_the_ci_installs(tmp_path):
    root = submission(tmp_path, **{
        "requirements.txt": "", "requirements-dev.txt": "", "test-requirements.txt": "", "requirements-gpu.txt": "",
        "requirements-docker.txt": "", "docs/requirements.txt": "",
        ".github/workflows/ci.yml": "steps:\n  - run: pip install -r ./requirements-docker.txt\n"
                                    "  - run: pip install -r ../outside.txt\n"})
    assert root_requirement_files(root) == ["requirements.txt", "requirements-dev.txt", "test-requirements.txt",
                                            "requirements-docker.txt"]


@pytest.mark.parametrize("command, folders", [
    ("python -m src.train", ["src"]),
    ("cd api && uvicorn main:app", ["api"]),
    ("python ../elsewhere/train.py; python /etc/x.py; python ~/x.py", []),
    ("python train.py", []),  # the root itself is never a command folder
    ("bash -c 'cd api && python serve.py'", ["api"]),
])
def test_command_folders_are_the_sub_folders_a_command_runs_in_or_names(tmp_path, command, folders):
    root = submission(tmp_path, src__train_dot_py="", api__main_dot_py="", api__serve_dot_py="", train_dot_py="")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "train.py").write_text("")
    assert [p.relative_to(root).as_posix() for p in command_folders(root, [command])] == folders


def test_the_manifest_names_the_sources_and_adds_requirements(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="flask\n", trainer__requirements_dot_txt="scikit-learn\n",
                      pyproject_dot_toml='[project]\nname = "x"\ndependencies = ["six"]\n', uv_dot_lock=UV_LOCK)
    named = discover_sources(root, named=["trainer/requirements.txt", "missing.txt"])
    assert named.files == ("trainer/requirements.txt",) and named.missing == ("missing.txt",)
    assert named.origin == "manifest" and named.lock is None
    with_lock = discover_sources(root, named=["pyproject.toml"])
    assert with_lock.lock == "uv.lock" and with_lock.unpinned == ("pyproject.toml",)
    found = read_requirements(root, named=["trainer/requirements.txt"], extra=["gunicorn==22.0.0"])
    assert found.requirements == ["scikit-learn", "gunicorn==22.0.0"]


def test_the_manifest_section_takes_paths_inside_the_repository_only():
    section = SubmissionManifest.model_validate(
        {"dependencies": {"files": ["api/requirements.txt"], "extra": ["gunicorn"], "python": "3.9"}}).dependencies
    assert section.files == ["api/requirements.txt"] and section.python == "3.9"
    for bad in ({"files": ["../x.txt"]}, {"files": ["/etc/passwd"]}, {"python": "python3"}, {"unknown": 1}):
        with pytest.raises(ValueError):
            SubmissionManifest.model_validate({"dependencies": bad})


def test_poetry_dev_and_test_groups_are_read_with_the_main_dependencies(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml=(
        '[tool.poetry.dependencies]\npython = "^3.11"\nmlflow = "^2.14"\n'
        '[tool.poetry.group.test.dependencies]\npytest = "^8"\n[tool.poetry.group.docs.dependencies]\nmkdocs = "*"\n'
        '[tool.poetry.dev-dependencies]\nblack = "*"\n'))
    assert read_requirements(root).requirements == ["mlflow<3.0,>=2.14", "black", "pytest<9,>=8"]


# --- the step: a lock that does not install falls back to its unpinned spec ---------------------------------


def _lock_fails_then_builds(spec):
    requirements = (next(m.source for m in spec.mounts if m.target == "/req") / "requirements.in").read_text()
    if "numpy==1.21.0" in requirements:
        error = "error: Failed to build `numpy==1.21.0`\n  Caused by: numpy 1.21.0 does not support Python 3.11\n"
        return result(spec, 1, RESULT_MARKER + json.dumps({"stage": "install", "error": error}) + "\n")
    return uv_builds(["mlflow==2.9.2", "numpy==1.26.4", "pytest==7.4.4"])(spec)


def test_a_lock_for_another_python_falls_back_to_its_unpinned_spec_and_says_so(tmp_path):
    root = submission(tmp_path, Pipfile_dot_lock=PIPFILE_LOCK, Pipfile=PIPFILE)
    sandbox = ScriptedSandbox(_lock_fails_then_builds)
    outcome = prepare(sandbox, root, tmp_path / "cache")
    assert outcome.status == "installed" and len(sandbox.specs) == 2
    assert outcome.requirement_files == ["Pipfile"] and outcome.lock_file is None
    assert outcome.python == "3.11" and outcome.python_requested == "3.9"
    assert outcome.fallbacks == [
        "Pipfile.lock (written for Python 3.9) did not install on Python 3.11 (the resolved packages could not be "
        "installed: Failed to build `numpy==1.21.0` — Caused by: numpy 1.21.0 does not support Python 3.11); "
        "resolved the unpinned Pipfile instead (no cut-off date: the newest versions that satisfy it)"]
    assert "Python 3.9 asked for, 3.11 ran" in outcome.message
    assert outcome.adjustments == []  # MLflow 2: its default format is not touched


def test_when_the_unpinned_spec_fails_too_the_outcome_carries_the_resolvers_reason(tmp_path):
    def always_fails(spec):
        error = "error: No solution found when resolving dependencies:\n  Because mlflow==9 was not found, fails.\n"
        return result(spec, 1, RESULT_MARKER + json.dumps({"stage": "resolve", "error": error}) + "\n")

    root = submission(tmp_path, Pipfile_dot_lock=PIPFILE_LOCK, Pipfile=PIPFILE)
    outcome = prepare(ScriptedSandbox(always_fails), root, tmp_path / "cache")
    assert outcome.status == "failed" and len(outcome.fallbacks) == 1
    assert outcome.reason.startswith("the requirements could not be resolved: No solution found")
    assert outcome.env == {} and outcome.mounts() == ()


def test_a_file_the_manifest_names_that_is_not_there_fails_before_any_container(tmp_path):
    sandbox = ScriptedSandbox(uv_builds())
    outcome = prepare(sandbox, submission(tmp_path, requirements_dot_txt="six\n"), tmp_path / "cache",
                      wish=DependencyWish(files=("api/requirements.txt",)))
    assert outcome.status == "failed" and sandbox.specs == [] and outcome.origin == "manifest"
    assert outcome.reason == "dependencies.files names api/requirements.txt, not a file in the submission"


def test_an_mlflow_3_environment_gets_the_default_format_hook_and_the_report_says_so(tmp_path):
    def builds_with_site_packages(spec):
        env = next(m.source for m in spec.mounts if m.target == "/opt/candidate-env")
        (env / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
        return uv_builds(["mlflow==3.6.0", "scikit-learn==1.7.2", "pandas==2.3.3"])(spec)

    outcome = prepare(ScriptedSandbox(builds_with_site_packages), submission(tmp_path, requirements_dot_txt="mlflow\n"),
                      tmp_path / "cache")
    assert outcome.status == "installed" and outcome.adjustments == list(HOOKS.values())
    site = outcome.mounts()[0].source / "lib" / "python3.11" / "site-packages"
    assert (site / "grader_mlflow_defaults.pth").read_text() == "import grader_mlflow_defaults\n"
    assert "serialization_format" in (site / "grader_mlflow_defaults.py").read_text()
    report = Report(grader_version="t", run_id="r", lab={"id": "lab"}, rubric={"id": "r"}, started_at="now",
                    dependencies=outcome.for_report())
    markdown = render(report)
    assert "## Environment" in markdown and "mlflow 3.6.0, scikit-learn 1.7.2, pandas 2.3.3" in markdown
    assert "Adjusted by the grader: mlflow.sklearn" in markdown


def test_a_failed_environment_is_told_apart_from_the_candidates_code_in_report_md(tmp_path):
    outcome = {"status": "failed", "requirement_files": ["requirements.txt"], "python": "3.11",
               "reason": "the requirements could not be resolved: Because there is no version of mlflow==9.9",
               "fallbacks": [], "lock": []}
    report = Report(grader_version="t", run_id="r", lab={"id": "lab"}, rubric={"id": "r"}, started_at="now",
                    dependencies=outcome)
    markdown = render(report)
    assert "Why it failed (the resolver's words): the requirements could not be resolved: Because there is no " \
           "version of mlflow==9.9" in markdown
    assert "not necessarily from your code" in markdown


def test_site_hooks_need_a_site_packages_folder(tmp_path):
    assert install_site_hooks(tmp_path) == []
    assert LIMITS is not None


def test_instructions_and_requirement_files_linked_from_outside_the_submission_are_not_read(tmp_path):
    outside = tmp_path / "outside"
    (outside / "workflows").mkdir(parents=True)
    (outside / "workflows" / "ci.yml").write_text("run: pip install -r requirements-extra.txt\n")
    (outside / "requirements.txt").write_text("secret-package\n")
    root = submission(tmp_path, **{"requirements-extra.txt": "six\n", "api/main.py": ""})
    (root / ".github").mkdir()
    (root / ".github" / "workflows").symlink_to(outside / "workflows")
    (root / "api" / "requirements.txt").symlink_to(outside / "requirements.txt")
    assert root_requirement_files(root) == []
    found = read_requirements(root, commands=["cd api && uvicorn main:app"])
    assert found.requirements == [] and "secret-package" not in found.text()


def test_a_prefect_environment_gives_its_temporary_server_time_to_start(tmp_path):
    outcome = prepare(ScriptedSandbox(uv_builds(["prefect==3.4.7", "mlflow==2.9.2"])),
                      submission(tmp_path, requirements_dot_txt="prefect\n"), tmp_path / "cache")
    assert outcome.env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "180"
    assert outcome.adjustments == [ENVIRONMENT_DEFAULTS["prefect"][1]]
    (tmp_path / "other").mkdir()
    plain = prepare(ScriptedSandbox(uv_builds(["six==1.16.0"])),
                    submission(tmp_path / "other", requirements_dot_txt="six\n"),
                    tmp_path / "cache2")
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" not in plain.env and plain.adjustments == []


def test_in_the_locks_place_its_spec_decides_the_versions_it_gives_and_other_files_narrow_the_rest(tmp_path):
    root = submission(tmp_path, Pipfile_dot_lock=PIPFILE_LOCK,
                      Pipfile='[packages]\nmlflow = "*"\ngunicorn = "==21.2.0"\npsycopg2 = "*"\n',
                      deployment__requirements_dot_txt="mlflow==2.6.0\ngunicorn==20.1.0\n")
    found = read_sources(root, discover_sources(root, ["cd deployment && gunicorn app:app"]), unpinned=True)
    assert found.requirements == ["mlflow", "gunicorn==21.2.0", "psycopg2-binary", "mlflow==2.6.0"]
    assert found.overridden == ["deployment/requirements.txt:2: gunicorn==20.1.0"]
    assert found.substituted == ['Pipfile: packages.psycopg2: psycopg2 → psycopg2-binary']
