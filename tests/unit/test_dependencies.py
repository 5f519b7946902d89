"""The candidate dependency step without an engine: reading requirement files and lock files (pip, pyproject,
Poetry, uv, Pipenv), the cache key and the cut-off date, reading uv's output and the host's pip configuration,
taking the built environment, and the step's flow against a scripted sandbox."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.errors import InfrastructureError
from grader.models import DependencyPolicy, Limits, StepResult
from grader.run.dependencies import (
    CA_MOUNT,
    ENV_DIR,
    INJECTED,
    REQ_MOUNT,
    RESULT_MARKER,
    UV_CACHE_MOUNT,
    DependencyOutcome,
    IndexSettings,
    cutoff_text,
    environment_key,
    explain_build_failure,
    parse_pip_config,
    poetry_constraint,
    prepare_dependencies,
    read_requirements,
    resolution_cutoff,
    resolver_reason,
    take_environment,
)
from grader.run.dependencies.build import BuildReport
from grader.sandbox.base import Mount, RunSpec, Sandbox
from grader.sandbox.docker.containers import container_options

LIMITS = Limits()


def submission(tmp_path: Path, **files: str | bytes) -> Path:
    """A submission folder holding ``files`` (keyword names use __ for / and _dot_ for .)."""
    root = tmp_path / "submission"
    root.mkdir(exist_ok=True)
    for name, content in files.items():
        path = root / name.replace("__", "/").replace("_dot_", ".")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


# --- reading requirement files ------------------------------------------------------------------------------


def test_requirements_are_normalised_and_deduplicated(tmp_path):
    root = submission(tmp_path, requirements_dot_txt=(
        "# training\nScikit_Learn == 1.9.1\nPyYAML>=6,<7  # comment\nrequests[SOCKS,Security]\n"
        "scikit-learn==1.9.1\ntyping-extensions ; python_version < '3.12'\nnumpy>=1.0,\\\n  <3\n\n"
        "# a comment ending in a backslash does not swallow the next line \\\njoblib\n"
    ))
    found = read_requirements(root)
    assert found.files == ["requirements.txt"]
    assert found.requirements == [
        "scikit-learn==1.9.1", "pyyaml<7,>=6", "requests[security,socks]",
        'typing-extensions; python_version < "3.12"', "numpy<3,>=1.0", "joblib",
    ]
    assert found.ignored == [] and found.invalid == [] and found.skipped == []


def test_includes_are_followed_inside_the_submission_only(tmp_path):
    (tmp_path / "outside.txt").write_text("secret-package==1\n")
    root = submission(tmp_path, requirements_dot_txt="-r reqs/base.txt\n--requirement=../outside.txt\ntabulate\n",
                      reqs__base_dot_txt="-r ../requirements.txt\n-rextra.txt\nsix==1.16.0\n",
                      reqs__extra_dot_txt="joblib\n")
    found = read_requirements(root)
    assert found.files == ["requirements.txt", "reqs/base.txt", "reqs/extra.txt"]
    assert found.requirements == ["joblib", "six==1.16.0", "tabulate"]
    assert "reqs/base.txt:1: -r ../requirements.txt (already read)" in found.ignored
    assert any("../outside.txt (only files inside the submission are read)" in i for i in found.ignored)
    assert "secret-package==1" not in found.requirements


@pytest.mark.parametrize("line, why", [
    ("-e .", "editable installs are not made"),
    ("--editable git+https://example.invalid/x.git#egg=x", "editable installs are not made"),
    ("--index-url https://example.invalid/simple", "index options are ignored"),
    ("-i https://example.invalid/simple", "index options are ignored"),
    ("--extra-index-url=https://example.invalid/simple", "index options are ignored"),
    ("--find-links ./wheels", "index options are ignored"),
    ("--trusted-host example.invalid", "index options are ignored"),
    ("-c constraints.txt", "constraint files are not read"),
    ("--pre", "pip options are ignored"),
    ("git+https://example.invalid/x.git", "direct URLs and local paths are not installed"),
    ("./vendored/pkg", "direct URLs and local paths are not installed"),
    ("dist/model-1.0-py3-none-any.whl", "direct URLs and local paths are not installed"),
    ("mypkg @ https://example.invalid/mypkg-1.0.tar.gz", "direct URLs and local paths are not installed"),
    ("six==1.16.0 --global-option=--no-cython", "per-requirement options are ignored"),
])
def test_options_urls_and_paths_are_ignored_and_said_so(tmp_path, line, why):
    root = submission(tmp_path, requirements_dot_txt=f"tabulate==0.9.0\n{line}\n")
    found = read_requirements(root)
    assert found.requirements in (["tabulate==0.9.0"], ["tabulate==0.9.0", "six==1.16.0"])
    assert len(found.ignored) == 1 and found.ignored[0].startswith("requirements.txt:2: ")
    assert why in found.ignored[0]


def test_an_invalid_line_is_recorded_with_its_place(tmp_path):
    found = read_requirements(submission(tmp_path, requirements_dot_txt="tabulate\nnot a requirement!\n"))
    assert [text for text, _ in found.invalid] == ["not a requirement!"]
    assert found.invalid[0][1].startswith("requirements.txt:2: 'not a requirement!' is not a valid requirement")


def test_a_windows_utf16_freeze_is_read(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\r\nsix==1.16.0\r\n".encode("utf-16"))
    assert read_requirements(root).requirements == ["tabulate==0.9.0", "six==1.16.0"]


def test_pyproject_dependencies_are_read_with_their_dev_and_test_extras_and_groups(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml=(
        '[project]\nname = "capstone"\ndependencies = ["tabulate==0.9.0", "DVC[s3]>=3"]\n'
        '[project.optional-dependencies]\ndev = ["black"]\ngpu = ["torch"]\n'
        '[dependency-groups]\ntest = ["pytest>=8"]\ndocs = ["mkdocs"]\n'
    ))
    found = read_requirements(root, skip=["dvc"])
    assert found.files == ["pyproject.toml"] and found.requirements == ["tabulate==0.9.0", "pytest>=8", "black"]
    assert found.skipped == ["DVC[s3]>=3"]


def test_without_a_lock_pyproject_and_requirements_txt_are_read_together(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="six\n",
                      pyproject_dot_toml='[project]\nname = "x"\ndependencies = ["tabulate"]\n')
    found = read_requirements(root)
    assert found.files == ["pyproject.toml", "requirements.txt"] and found.requirements == ["tabulate", "six"]


def test_a_pyproject_without_project_dependencies_falls_through_to_the_lock_file(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml='[tool.poetry.dependencies]\npython = "^3.11"\n',
                      requirements_dot_lock="-e file:.\ntabulate==0.9.0\n")
    found = read_requirements(root)
    assert found.files == ["requirements.lock"] and found.requirements == ["tabulate==0.9.0"]


def test_an_unsupported_environment_file_is_named_in_the_notes(tmp_path):
    found = read_requirements(submission(tmp_path, environment_dot_yml="dependencies: [python=3.11]\n"))
    assert found.files == [] and found.notes == ["environment.yml: conda environments not supported"]


def test_a_requirement_file_linking_outside_the_submission_is_not_read(tmp_path):
    (tmp_path / "elsewhere.txt").write_text("tabulate\n")
    root = submission(tmp_path)
    (root / "requirements.txt").symlink_to(tmp_path / "elsewhere.txt")
    found = read_requirements(root)
    assert found.files == [] and found.notes == ["requirements.txt: links outside the submission, not read"]


def test_an_oversized_requirement_file_is_not_read(tmp_path):
    found = read_requirements(submission(tmp_path, requirements_dot_txt="six\n" * 100_000))
    assert found.files == [] and "not a regular file of at most 256 KiB" in found.notes[0]


def test_the_skip_list_takes_names_and_globs_in_any_spelling(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="dvc==3.1\ndvc_s3\nJupyterLab\njupyter-core\nnotebook\nsix\n")
    found = read_requirements(root, skip=["DVC", "dvc-*", "jupyter*", "notebook"])
    assert found.requirements == ["six"]
    assert found.skipped == ["dvc==3.1", "dvc_s3", "JupyterLab", "jupyter-core", "notebook"]


# --- lock files and the other formats --------------------------------------------------------------------------


def test_a_hashed_lock_is_read_as_pins_and_its_hashes_are_said_once(tmp_path):
    root = submission(tmp_path, requirements_dot_txt=(
        "six==1.16.0 \\\n    --hash=sha256:1e61c374 \\\n    --hash=sha256:8abb2f1d\n"
        "tabulate==0.9.0 --hash=sha256:0095b12b\n"))
    found = read_requirements(root)
    assert found.requirements == ["six==1.16.0", "tabulate==0.9.0"]
    assert found.ignored == ["2 requirement(s) carry --hash: the versions they pin are installed, the hashes are "
                             "not checked"]


def test_poetry_dependencies_are_read_with_carets_tildes_extras_and_markers(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml=(
        '[tool.poetry]\nname = "capstone"\n[tool.poetry.dependencies]\npython = "^3.11"\nmlflow = "^2.14.1"\n'
        'scikit-learn = "~1.5"\npandas = "*"\nnumpy = "1.26.4"\n'
        'uvicorn = {version = "^0.30", extras = ["standard"]}\n'
        'pywin32 = {version = ">=306", markers = "sys_platform == \'win32\'"}\n'
        'mylib = {path = "../mylib"}\ntool = {git = "https://example.invalid/tool.git"}\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "^8"\n'))
    found = read_requirements(root)
    assert found.files == ["pyproject.toml"]
    assert found.requirements == ["mlflow<3.0.0,>=2.14.1", "scikit-learn<1.6,>=1.5", "pandas", "numpy==1.26.4",
                                  "uvicorn[standard]<0.31,>=0.30", 'pywin32>=306; sys_platform == "win32"',
                                  "pytest<9,>=8"]
    assert found.ignored == [
        "pyproject.toml: tool.poetry.dependencies.mylib (path dependencies are not installed)",
        "pyproject.toml: tool.poetry.dependencies.tool (git dependencies are not installed)"]


@pytest.mark.parametrize("poetry, pep440", [
    ("^1.2.3", ">=1.2.3,<2.0.0"), ("^0.2.3", ">=0.2.3,<0.3.0"), ("^0.0.3", ">=0.0.3,<0.0.4"), ("^0", ">=0,<1"),
    ("^1.2", ">=1.2,<2.0"), ("~1.2.3", ">=1.2.3,<1.3"), ("~1", ">=1,<2"), ("~=1.4", "~=1.4"), ("*", ""),
    ("1.2.3", "==1.2.3"), (">=1.0, <2.0", ">=1.0,<2.0"), (">=1.0 <2.0", ">=1.0,<2.0"), ("1.2.*", "==1.2.*"),
])
def test_poetry_constraints_become_pep_440(poetry, pep440):
    assert poetry_constraint(poetry) == pep440


def test_alternative_poetry_ranges_are_refused():
    with pytest.raises(ValueError, match="no pip equivalent"):
        poetry_constraint("^1.0 || ^2.0")


def test_a_poetry_lock_gives_its_index_pins_as_constraints(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml='[tool.poetry.dependencies]\npython = "^3.11"\nmlflow = "^2.14"\n',
                      poetry_dot_lock=(
                          '[[package]]\nname = "MLflow"\nversion = "2.14.3"\n\n[[package]]\nname = "SQLAlchemy"\n'
                          'version = "2.0.31"\n\n[[package]]\nname = "mylib"\nversion = "0.1.0"\n'
                          '[package.source]\ntype = "directory"\nurl = "../mylib"\n'))
    found = read_requirements(root)
    assert found.files == ["pyproject.toml", "poetry.lock"]
    assert found.requirements == ["mlflow<3.0,>=2.14"]
    assert found.constraints == ["mlflow==2.14.3", "sqlalchemy==2.0.31"]


def test_a_uv_lock_gives_its_registry_pins_as_constraints_and_leaves_the_project_out(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml='[project]\nname = "capstone"\ndependencies = ["mlflow>=2"]\n',
                      uv_dot_lock=(
                          'version = 1\n[[package]]\nname = "capstone"\nversion = "0.1.0"\n'
                          'source = { editable = "." }\n\n[[package]]\nname = "mlflow"\nversion = "2.14.3"\n'
                          'source = { registry = "https://pypi.org/simple" }\n\n[[package]]\nname = "pywin32"\n'
                          'version = "306"\nsource = { registry = "https://pypi.org/simple" }\n'))
    found = read_requirements(root)
    assert found.files == ["pyproject.toml", "uv.lock"]
    assert found.requirements == ["mlflow>=2"] and found.constraints == ["mlflow==2.14.3", "pywin32==306"]
    assert found.constraints_text() == "mlflow==2.14.3\npywin32==306\n"


def test_a_broken_lock_file_is_noted_and_the_requirements_still_read(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml='[project]\nname = "x"\ndependencies = ["six"]\n',
                      uv_dot_lock="this is not = = toml\n")
    found = read_requirements(root)
    assert found.requirements == ["six"] and found.constraints == []
    assert found.notes[0].startswith("uv.lock: not a lock file the grader reads")


def test_a_pipfile_lock_gives_its_default_packages_pinned_with_markers(tmp_path):
    lock = {"_meta": {}, "default": {
        "mlflow": {"hashes": ["sha256:x"], "version": "==2.14.3"},
        "colorama": {"version": "==0.4.6", "markers": "platform_system == 'Windows'"},
        "uvicorn": {"extras": ["standard"], "version": "==0.30.1"},
        "mylib": {"editable": True, "path": "."}},
        "develop": {"pytest": {"version": "==8.2.0"}}}
    found = read_requirements(submission(tmp_path, Pipfile_dot_lock=json.dumps(lock),
                                         Pipfile='[packages]\nsix = "*"\n'))
    assert found.files == ["Pipfile.lock"]
    assert found.requirements == ["mlflow==2.14.3", 'colorama==0.4.6; platform_system == "Windows"',
                                  "uvicorn[standard]==0.30.1", "pytest==8.2.0"]
    assert found.ignored == ["Pipfile.lock: default.mylib (editable dependencies are not installed)"]


def test_a_pipfile_without_a_lock_gives_its_packages(tmp_path):
    found = read_requirements(submission(tmp_path, Pipfile=(
        '[packages]\nmlflow = "==2.14.3"\nscikit-learn = "*"\nfastapi = {version = ">=0.110", extras = ["all"]}\n'
        '[dev-packages]\npytest = "*"\n')))
    assert found.files == ["Pipfile"]
    assert found.requirements == ["mlflow==2.14.3", "scikit-learn", "fastapi[all]>=0.110", "pytest"]


def test_a_pipfile_lock_decides_the_versions_it_pins_and_requirements_txt_only_adds(tmp_path):
    found = read_requirements(submission(tmp_path, requirements_dot_txt="six\ntabulate==0.8.0\n",
                                         Pipfile_dot_lock='{"default": {"tabulate": {"version": "==0.9.0"}}}'))
    assert found.files == ["Pipfile.lock", "requirements.txt"]
    assert found.requirements == ["tabulate==0.9.0", "six"]
    assert found.overridden == ["requirements.txt:2: tabulate==0.8.0"]


# --- the cache key and the cut-off date -------------------------------------------------------------------------


def test_the_key_ignores_order_and_depends_on_requirements_constraints_python_and_cutoff():
    key = environment_key(["a", "b"], ["c==1"], "3.11", "2024-06-01T00:00:00Z")
    assert key == environment_key(["b", "a", "a"], ["c==1"], "3.11", "2024-06-01T00:00:00Z")
    assert key != environment_key(["a", "b==1"], ["c==1"], "3.11", "2024-06-01T00:00:00Z")
    assert key != environment_key(["a", "b"], ["c==2"], "3.11", "2024-06-01T00:00:00Z")
    assert key != environment_key(["a", "b"], ["c==1"], "3.12", "2024-06-01T00:00:00Z")
    assert key != environment_key(["a", "b"], ["c==1"], "3.11", "2024-06-02T00:00:00Z")
    assert key != environment_key(["a", "b"], ["c==1"], "3.11", None)
    assert environment_key(["a"], [], "3.11", None) != environment_key([], ["a"], "3.11", None)


def test_the_cutoff_is_utc_in_whole_seconds_and_a_naive_time_counts_as_utc():
    paris = timezone(timedelta(hours=2))
    assert cutoff_text(datetime(2024, 6, 1, 14, 30, 5, 999, tzinfo=paris)) == "2024-06-01T12:30:05Z"
    assert cutoff_text(datetime(2024, 6, 1, 12, 0)) == "2024-06-01T12:00:00Z"
    assert cutoff_text(None) is None


def test_the_cutoff_is_the_last_commit_only_when_the_lab_allows_and_intake_knows_it():
    assert resolution_cutoff("last-commit", "2024-06-01T14:30:05+02:00") == \
        datetime(2024, 6, 1, 12, 30, 5, tzinfo=UTC)
    assert resolution_cutoff("now", "2024-06-01T14:30:05+02:00") is None
    assert resolution_cutoff("last-commit", None) is None
    assert resolution_cutoff("last-commit", "not a date") is None
    assert DependencyPolicy().resolve_as_of == "last-commit"


# --- reading uv's output (uv 0.13.9 in the runtime image, captured) ---------------------------------------------


NO_VERSION = """error: No solution found when resolving dependencies
  cause: Because there is no version of scikit-learn==0.0.1 and you require scikit-learn==0.0.1, we can \
conclude that your requirements are unsatisfiable.
"""
CONFLICT = """error: No solution found when resolving dependencies
  cause: Because requests==2.31.0 depends on urllib3>=1.21.1,<3 and you require requests==2.31.0, we can \
conclude that you require urllib3>=1.21.1,<3.
         And because you require urllib3==1.20, we can conclude that your requirements are unsatisfiable.
"""
NOT_FOUND = """error: No solution found when resolving dependencies
  cause: Because no-such-package-xyz was not found in the package registry and you require no-such-package-xyz==1.0, \
we can conclude that your requirements are unsatisfiable.
"""
BUILD = """   Building regex==2021.4.4
error: Failed to build `regex==2021.4.4`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.build_wheel` failed (exit status: 1)

[stderr]
error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory

hint: This usually indicates a problem with the package or the build environment.
"""
UNREACHABLE = """error: Request failed after 3 retries in 7.7s
  cause: Failed to fetch: https://pypi.org/simple/six/
  cause: error sending request for url (https://pypi.org/simple/six/)
  cause: client error (Connect)
  cause: dns error
"""
UNTRUSTED = """error: Failed to fetch: https://pypi.org/simple/six/
  cause: error sending request for url (https://pypi.org/simple/six/)
  cause: client error (Connect)
  cause: invalid peer certificate: UnknownIssuer

hint: Consider enabling use of system TLS certificates with the `--system-certs` command-line flag
"""


def failed_build(stage: str, error: str) -> tuple[StepResult, BuildReport]:
    return StepResult(id="dependencies", command="", exit_code=1, duration_s=1.0), BuildReport(stage, error=error)


def test_a_pin_with_no_such_version_fails_in_the_resolvers_words():
    reason, failed = explain_build_failure(*failed_build("resolve", NO_VERSION), ["tabulate", "scikit-learn==0.0.1"])
    assert failed == ["scikit-learn==0.0.1"]
    assert reason == ("the requirements could not be resolved: No solution found when resolving dependencies — "
                      "Because there is no version of scikit-learn==0.0.1 and you require scikit-learn==0.0.1, we "
                      "can conclude that your requirements are unsatisfiable.")


def test_a_conflict_names_both_requirements_and_keeps_the_whole_explanation():
    reason, failed = explain_build_failure(*failed_build("resolve", CONFLICT), ["requests==2.31.0", "urllib3==1.20"])
    assert failed == ["requests==2.31.0", "urllib3==1.20"]
    assert "requests==2.31.0 depends on urllib3>=1.21.1,<3" in reason
    assert reason.endswith("And because you require urllib3==1.20, we can conclude that your requirements are "
                           "unsatisfiable.")


def test_a_package_missing_from_the_index_is_named():
    _, failed = explain_build_failure(*failed_build("resolve", NOT_FOUND), ["six", "no-such-package-xyz==1.0"])
    assert failed == ["no-such-package-xyz==1.0"]


def test_a_failed_build_names_the_package_and_the_builds_error():
    reason, failed = explain_build_failure(*failed_build("install", BUILD), ["regex==2021.4.4"])
    assert failed == ["regex==2021.4.4"]
    assert reason.startswith("the resolved packages could not be installed: Failed to build `regex==2021.4.4` — ")
    assert "Call to `setuptools.build_meta:__legacy__.build_wheel` failed" in reason
    assert reason.endswith("— error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory")
    assert "gcc" not in resolver_reason(BUILD.split("[stderr]")[0])


@pytest.mark.parametrize("error", [UNREACHABLE, UNTRUSTED], ids=["dns", "certificate"])
def test_an_unreachable_or_untrusted_index_is_not_the_candidates_fault(error):
    with pytest.raises(InfrastructureError, match="could not reach the package index"):
        explain_build_failure(*failed_build("resolve", error), ["six==1.16.0"])


def test_a_container_that_says_nothing_is_an_infrastructure_error_but_a_timeout_is_a_failure():
    silent = StepResult(id="dependencies", command="", exit_code=125, duration_s=0.1, stderr="no such image")
    with pytest.raises(InfrastructureError, match="without a result"):
        explain_build_failure(silent, None, ["six"])
    slow = StepResult(id="dependencies", command="", exit_code=137, duration_s=900, timed_out=True,
                      stderr="   Building huge-package==1.0\n")
    reason, failed = explain_build_failure(slow, None, ["huge-package==1.0"])
    assert reason == "the dependency step timed out after 900s while at huge-package==1.0" and failed == []


# --- the host's pip configuration ----------------------------------------------------------------------------


HOST_CONFIG = """:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/opt/wheels'
"""


def test_file_indexes_of_the_host_are_left_out_and_its_ca_bundle_is_kept(tmp_path):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("certs")
    settings = parse_pip_config(HOST_CONFIG.replace("/etc/ssl/certs/ca-certificates.crt", str(bundle)), {})
    assert settings == IndexSettings(index_url=None, extra_index_urls=(), trusted_hosts=(), cert=bundle.resolve())
    assert settings.environment() == {"PIP_CERT": CA_MOUNT, "SSL_CERT_FILE": CA_MOUNT}


def test_the_environment_overrides_the_wheel_section_which_overrides_global(tmp_path):
    text = ("global.index-url='https://global.invalid/simple'\nwheel.index-url='https://wheel.invalid/simple'\n"
            "global.extra-index-url='https://extra.invalid/simple file:///local'\nglobal.trusted-host='a b'\n")
    settings = parse_pip_config(text, {"SSL_CERT_FILE": "/nonexistent"})
    assert settings.index_url == "https://wheel.invalid/simple"
    assert settings.extra_index_urls == ("https://extra.invalid/simple",) and settings.trusted_hosts == ("a", "b")
    env_first = parse_pip_config(text + ":env:.index-url='https://env.invalid/simple'\n", {})
    assert env_first.environment()["PIP_INDEX_URL"] == "https://env.invalid/simple"
    assert env_first.environment()["UV_DEFAULT_INDEX"] == "https://env.invalid/simple"
    assert env_first.environment()["UV_INDEX"] == "https://extra.invalid/simple"
    assert env_first.environment()["UV_INSECURE_HOST"] == "a b"


# --- the egress network mode in the Docker backend -----------------------------------------------------------


def test_an_egress_spec_joins_the_default_bridge_and_never_the_run_network(tmp_path):
    spec = RunSpec(name="dependencies", command="true", image="img:1", limits=LIMITS, egress=True, network=True,
                   mount_work=False, mounts=(Mount(tmp_path, "/req"), Mount(tmp_path, "/out", read_only=False)))
    options = container_options(spec, name="grader-r1-dependencies-1", labels={}, network="grader-r1",
                                volume="grader-r1-work")
    assert options["network_mode"] == "bridge"
    assert "network" not in options and "networking_config" not in options
    assert [(m["Target"], m["ReadOnly"]) for m in options["mounts"]] == [("/req", True), ("/out", False)]
    plain = container_options(RunSpec(name="dependencies", command="true", image="img:1", limits=LIMITS,
                                      mount_work=False, mounts=spec.mounts[:1]),
                              name="grader-r1-dependencies-1", labels={}, network="grader-r1", volume="grader-r1-work")
    assert plain["network_mode"] == "none"
    hardening = {k: v for k, v in plain.items() if k not in ("network_mode", "mounts")}
    assert hardening == {k: v for k, v in options.items() if k not in ("network_mode", "mounts")}


# --- taking the built environment ---------------------------------------------------------------------------------


def test_the_environment_is_copied_with_links_as_links_and_plain_modes(tmp_path):
    built = tmp_path / "built"
    (built / "bin").mkdir(parents=True)
    (built / "lib").mkdir()
    (built / "bin" / "tool").write_text("#!/bin/sh\n")
    (built / "bin" / "tool").chmod(0o4777)
    (built / "bin" / "python").symlink_to("/usr/bin/python3")
    (built / "lib" / "data.txt").write_text("x")
    os.utime(built / "lib" / "data.txt", ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    (built / "lib64").symlink_to("lib")
    assert take_environment(built, tmp_path / "taken") is None
    taken = tmp_path / "taken"
    assert os.readlink(taken / "bin" / "python") == "/usr/bin/python3"
    assert os.readlink(taken / "lib64") == "lib"
    assert oct((taken / "bin" / "tool").stat().st_mode & 0o7777) == "0o755"
    assert oct((taken / "lib" / "data.txt").stat().st_mode & 0o7777) == "0o644"
    # Modification times kept: compiled bytecode stays valid for its source.
    assert (taken / "lib" / "data.txt").stat().st_mtime_ns == 1_600_000_000_123_456_789


def test_a_fifo_in_the_environment_refuses_it(tmp_path):
    built = tmp_path / "built"
    built.mkdir()
    os.mkfifo(built / "pipe")
    assert take_environment(built, tmp_path / "taken") == "pipe is not a file, folder or link"


# --- the step's flow, against a scripted sandbox -----------------------------------------------------------


class ScriptedSandbox(Sandbox):
    """Runs nothing: each spec goes to ``handler``, which may write into the spec's mounts."""

    def __init__(self, handler: Callable[[RunSpec], StepResult]) -> None:
        super().__init__("unit", "img:1", LIMITS)
        self.handler = handler
        self.specs: list[RunSpec] = []

    def open(self) -> None: ...
    def copy_in(self, source_dir: Path) -> None: ...
    def copy_out(self, path: str, dest_dir: Path, max_bytes: int = 0) -> Path | None: return None
    def start(self, spec: RunSpec) -> None: ...
    def service_logs(self, name: str, max_bytes: int = 0) -> str: return ""
    def service_running(self, name: str) -> bool: return False
    def close(self) -> None: ...

    def run(self, spec: RunSpec) -> StepResult:
        self.specs.append(spec)
        return self.handler(spec)


def result(spec: RunSpec, exit_code: int = 0, stdout: str = "", stderr: str = "") -> StepResult:
    return StepResult(id=spec.name, command=spec.command, exit_code=exit_code, duration_s=1.0, stdout=stdout,
                      stderr=stderr)


def mount(spec: RunSpec, target: str) -> Path:
    return next(m.source for m in spec.mounts if m.target == target)


LOCK = ["mlflow==2.14.3", "pandas==2.2.2", "scikit-learn==1.5.2", "pytest==8.2.2"]


def uv_builds(lock: list[str] = LOCK, *, plant: Callable[[Path], None] = lambda env: None,
              cutoff_dropped: str | None = None) -> Callable[[RunSpec], StepResult]:
    """A handler playing the dependency container: writes a small environment and reports ``lock``."""
    def handle(spec: RunSpec) -> StepResult:
        env = mount(spec, ENV_DIR)
        (env / "bin").mkdir()
        (env / "bin" / "python").symlink_to("/usr/bin/python3")
        (env / "pyvenv.cfg").write_text("home = /usr/bin\n")
        plant(env)
        cutoff = spec.command.split()[-2] if "Z" in spec.command.split()[-2] else None
        done = {"stage": "done", "lock": lock, "cutoff": None if cutoff_dropped else cutoff,
                "cutoff_dropped": cutoff_dropped}
        return result(spec, stdout=RESULT_MARKER + json.dumps(done) + "\n")
    return handle


def prepare(sandbox: Sandbox, root: Path, cache: Path, **options) -> DependencyOutcome:
    options.setdefault("index", IndexSettings())
    return prepare_dependencies(sandbox, root, cache, image="img:1", limits=LIMITS, **options)


def test_no_requirement_file_runs_no_container(tmp_path):
    sandbox = ScriptedSandbox(uv_builds())
    outcome = prepare(sandbox, submission(tmp_path, train_dot_py="print()"), tmp_path / "cache")
    assert outcome.status == "none" and outcome.env == {} and sandbox.specs == [] and outcome.mounts() == ()
    assert outcome.evaluator_python() is None


def test_an_environment_is_built_once_cached_and_mounted_read_only(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="mlflow==2.14.3\nscikit-learn==1.5.2\ndvc==3.1\n")
    sandbox = ScriptedSandbox(uv_builds())
    first = prepare(sandbox, root, tmp_path / "cache", skip=["dvc"])
    [build] = sandbox.specs
    assert build.egress and not build.mount_work and not build.network
    assert {m.target: m.read_only for m in build.mounts} == {REQ_MOUNT: True, ENV_DIR: False, UV_CACHE_MOUNT: False}
    assert (first.status, first.lock, first.cached) == ("installed", LOCK, False)
    assert first.injected == [INJECTED["pip"], INJECTED["setuptools"], INJECTED["pytest"]]
    assert first.env == {"PATH": f"{ENV_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         "VIRTUAL_ENV": ENV_DIR}
    entry = tmp_path / "cache" / "candidate-envs" / first.digest
    assert first.mounts() == (Mount(entry / "env", ENV_DIR),)
    assert first.evaluator_python() == f"{ENV_DIR}/bin/python"
    assert os.readlink(entry / "env" / "bin" / "python") == "/usr/bin/python3"
    assert "skipped as not needed for grading: dvc==3.1" in first.message

    sandbox.specs.clear()
    second = prepare(sandbox, root, tmp_path / "cache", skip=["dvc"])
    assert sandbox.specs == [] and second.cached and second.lock == LOCK and second.mounts() == first.mounts()
    assert not any(p.name.startswith(".") for p in entry.parent.iterdir()), "scratch folders left behind"


def test_the_report_shows_the_lock_and_never_the_host_path(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="mlflow==2.14.3\n")
    outcome = prepare(ScriptedSandbox(uv_builds()), root, tmp_path / "cache")
    shown = outcome.for_report()
    assert shown["lock"] == LOCK and "env" not in shown
    assert str(tmp_path) not in json.dumps(shown) and str(tmp_path) not in json.dumps(asdict(outcome))


def test_the_container_sees_the_normalised_set_the_injected_packages_and_the_lock_pins(tmp_path):
    seen: dict[str, str] = {}

    def handle(spec: RunSpec) -> StepResult:
        for name in ("requirements.in", "constraints.txt"):
            seen[name] = (mount(spec, REQ_MOUNT) / name).read_text()
        return uv_builds()(spec)

    root = submission(tmp_path, pyproject_dot_toml='[project]\nname = "x"\ndependencies = ["MLflow>=2", "pytest"]\n',
                      uv_dot_lock='[[package]]\nname = "mlflow"\nversion = "2.14.3"\n'
                                  'source = { registry = "https://pypi.org/simple" }\n')
    outcome = prepare(ScriptedSandbox(handle), root, tmp_path / "cache")
    assert seen == {"requirements.in": "mlflow>=2\npytest\npip\nsetuptools<81\n", "constraints.txt": "mlflow==2.14.3\n"}
    assert outcome.constraints == 1 and outcome.requirement_files == ["pyproject.toml", "uv.lock"]


def test_the_cutoff_reaches_the_resolver_and_the_message(tmp_path):
    commands: list[str] = []

    def handle(spec: RunSpec) -> StepResult:
        commands.append(spec.command)
        return uv_builds()(spec)

    root = submission(tmp_path, requirements_dot_txt="mlflow\n")
    outcome = prepare(ScriptedSandbox(handle), root, tmp_path / "cache", as_of=datetime(2024, 7, 1, 9, 30, tzinfo=UTC))
    assert "2024-07-01T09:30:00Z" in commands[0].split()
    assert outcome.cutoff == "2024-07-01T09:30:00Z" and "nothing newer than 2024-07-01T09:30:00Z" in outcome.message
    other = prepare(ScriptedSandbox(uv_builds()), root, tmp_path / "cache", as_of=datetime(2025, 1, 1, tzinfo=UTC))
    assert other.digest != outcome.digest and not other.cached


def test_a_set_that_resolves_only_without_the_cutoff_says_why(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="mlflow==2.14.3\n")
    dropped = "error: No solution found when resolving dependencies\n  cause: mlflow==2.14.3 is newer than the date"
    outcome = prepare(ScriptedSandbox(uv_builds(cutoff_dropped=dropped)), root, tmp_path / "cache",
                      as_of=datetime(2020, 1, 1, tzinfo=UTC))
    assert outcome.status == "installed" and outcome.cutoff is None
    assert "resolved without the cut-off date because with it the resolver said: error: No solution found" in \
        outcome.message


def test_an_unsatisfiable_set_fails_with_the_resolvers_reason_and_caches_nothing(tmp_path):
    def handle(spec: RunSpec) -> StepResult:
        return result(spec, 1, RESULT_MARKER + json.dumps({"stage": "resolve", "error": NO_VERSION}) + "\n")

    root = submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\nscikit-learn==0.0.1\n")
    outcome = prepare(ScriptedSandbox(handle), root, tmp_path / "cache")
    assert outcome.status == "failed" and outcome.failed_requirements == ["scikit-learn==0.0.1"]
    assert outcome.env == {} and outcome.mounts() == () and outcome.lock == []
    assert "there is no version of scikit-learn==0.0.1" in outcome.message
    assert not (tmp_path / "cache" / "candidate-envs" / str(outcome.digest)).exists()


def test_an_invalid_requirement_fails_before_any_container(tmp_path):
    sandbox = ScriptedSandbox(uv_builds())
    outcome = prepare(sandbox, submission(tmp_path, requirements_dot_txt="numpy>=>2\n"), tmp_path / "cache")
    assert outcome.status == "failed" and outcome.failed_requirements == ["numpy>=>2"] and sandbox.specs == []


def test_odd_files_in_the_built_environment_refuse_it_and_cache_nothing(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\n")
    outcome = prepare(ScriptedSandbox(uv_builds(plant=lambda env: os.mkfifo(env / "fifo"))), root,
                      tmp_path / "cache")
    assert outcome.status == "failed" and "refused: fifo is not a file, folder or link" in outcome.message
    assert not (tmp_path / "cache" / "candidate-envs" / str(outcome.digest)).exists()


def test_an_environment_without_mlflow_leaves_the_evaluator_on_the_images_python(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\n")
    outcome = prepare(ScriptedSandbox(uv_builds(["tabulate==0.9.0", "pytest==8.2.2"])), root, tmp_path / "cache")
    assert outcome.mounts() and outcome.evaluator_python() is None


def test_an_unreachable_index_raises_an_infrastructure_error(tmp_path):
    def handle(spec: RunSpec) -> StepResult:
        return result(spec, 1, RESULT_MARKER + json.dumps({"stage": "resolve", "error": UNREACHABLE}) + "\n")

    root = submission(tmp_path, requirements_dot_txt="six==1.16.0\n")
    with pytest.raises(InfrastructureError, match="could not reach the package index"):
        prepare(ScriptedSandbox(handle), root, tmp_path / "cache")


def test_the_host_ca_bundle_and_index_go_to_the_build_container(tmp_path):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("certs")
    sandbox = ScriptedSandbox(uv_builds())
    index = IndexSettings(index_url="https://mirror.invalid/simple", cert=bundle)
    prepare(sandbox, submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\n"), tmp_path / "cache", index=index)
    [build] = sandbox.specs
    assert mount(build, CA_MOUNT) == bundle
    assert build.env["SSL_CERT_FILE"] == CA_MOUNT and build.env["UV_DEFAULT_INDEX"] == "https://mirror.invalid/simple"
    assert build.env["UV_CACHE_DIR"].startswith(UV_CACHE_MOUNT) and build.env["TMPDIR"].startswith(UV_CACHE_MOUNT)


# --- the environment reaches the candidate's containers and the model evaluator -----------------------------------


def pipeline_run(tmp_path: Path, outcome: DependencyOutcome):
    from grader.labs.loading import load_lab
    from grader.paths import project_paths
    from grader.run.state import QuietObserver, RunState

    lab = load_lab("mlops-capstone", project_paths())
    run = RunState(run_id="unit", lab=lab, backend="scripted", observer=QuietObserver(), clock=lambda: 0.0,
                   scratch=tmp_path, started_at="2026-12-03T00:00:00+00:00")
    run.dependencies, run.candidate_env = outcome, dict(outcome.env)
    return run


def built_outcome(tmp_path: Path, lock: list[str] = LOCK) -> DependencyOutcome:
    root = submission(tmp_path, requirements_dot_txt="mlflow==2.14.3\n")
    return prepare(ScriptedSandbox(uv_builds(lock)), root, tmp_path / "cache")


def test_steps_and_the_model_evaluator_run_in_the_candidates_environment(tmp_path):
    from grader.probe import RESULT_MARKER as PROBE_MARKER
    from grader.run.pipeline import probe_runner
    from grader.run.steps import run_steps

    outcome = built_outcome(tmp_path)
    run = pipeline_run(tmp_path, outcome)
    sandbox = ScriptedSandbox(lambda spec: result(spec, stdout=PROBE_MARKER + '{"key": "model"}\n'))
    run_steps(run, sandbox)
    runner = probe_runner(run, sandbox)
    runner("evaluate_model", None, ["--wait", "/plan/go.json"], None)
    runner("agent", {"actions": []}, [], None)
    train, evaluator, agent = sandbox.specs
    assert train.env["PATH"].startswith(f"{ENV_DIR}/bin:") and train.env["VIRTUAL_ENV"] == ENV_DIR
    assert "/opt/venv" not in train.env["PATH"]
    assert outcome.mounts()[0] in train.mounts
    assert evaluator.command.startswith(f"{ENV_DIR}/bin/python ") and outcome.mounts()[0] in evaluator.mounts
    assert agent.command.startswith("python3 ") and outcome.mounts()[0] not in agent.mounts


def test_without_mlflow_in_the_environment_the_evaluator_keeps_the_images_python(tmp_path):
    from grader.probe import RESULT_MARKER as PROBE_MARKER
    from grader.run.pipeline import probe_runner

    run = pipeline_run(tmp_path, built_outcome(tmp_path, ["tabulate==0.9.0"]))
    sandbox = ScriptedSandbox(lambda spec: result(spec, stdout=PROBE_MARKER + '{"key": "model"}\n'))
    probe_runner(run, sandbox)("evaluate_model", None, ["--wait", "/plan/go.json"], None)
    [evaluator] = sandbox.specs
    assert evaluator.command.startswith("python3 ") and not any(m.target == ENV_DIR for m in evaluator.mounts)
