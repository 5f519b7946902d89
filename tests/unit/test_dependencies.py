"""The candidate dependency step without an engine: reading requirement files, comparing them with the
runtime pins, reading pip's output and configuration, and the step's flow against a scripted sandbox."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.errors import InfrastructureError
from grader.models import Limits, StepResult
from grader.paths import project_paths
from grader.run.dependencies import (
    CA_MOUNT,
    DEPS_DIR,
    OUT_MOUNT,
    REQ_MOUNT,
    RESULT_MARKER,
    SELECTED_MARKER,
    WHEELS_MOUNT,
    IndexSettings,
    explain_pip_failure,
    parse_pip_config,
    prepare_dependencies,
    read_requirements,
    requirement_digest,
    runtime_pins,
    unmet,
)
from grader.sandbox.base import Mount, RunSpec, Sandbox
from grader.sandbox.docker.containers import container_options

RUNTIME_PINS = project_paths().sandboxes / "runtime" / "requirements.txt"
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
    ("six==1.16.0 --hash=sha256:1e61c374", "per-requirement options are ignored"),
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


def test_pyproject_dependencies_are_read_when_there_is_no_requirements_txt(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml=(
        '[project]\nname = "capstone"\ndependencies = ["tabulate==0.9.0", "DVC[s3]>=3"]\n'
        '[project.optional-dependencies]\ndev = ["black"]\n'
    ))
    found = read_requirements(root, skip=["dvc"])
    assert found.files == ["pyproject.toml"] and found.requirements == ["tabulate==0.9.0"]
    assert found.skipped == ["DVC[s3]>=3"]


def test_requirements_txt_wins_over_pyproject(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="six\n",
                      pyproject_dot_toml='[project]\nname = "x"\ndependencies = ["tabulate"]\n')
    assert read_requirements(root).requirements == ["six"]


def test_a_pyproject_without_project_dependencies_falls_through_to_the_lock_file(tmp_path):
    root = submission(tmp_path, pyproject_dot_toml='[tool.poetry.dependencies]\npython = "^3.11"\n',
                      requirements_dot_lock="-e file:.\ntabulate==0.9.0\n")
    found = read_requirements(root)
    assert found.files == ["requirements.lock"] and found.requirements == ["tabulate==0.9.0"]


def test_an_unsupported_lock_file_is_named_in_the_notes(tmp_path):
    found = read_requirements(submission(tmp_path, poetry_dot_lock="[[package]]\n"))
    assert found.files == [] and found.notes == ["poetry.lock: lock format not supported"]


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


# --- the runtime pins --------------------------------------------------------------------------------------


def test_the_runtime_stack_meets_its_own_pins_and_ranges_around_them():
    pins = runtime_pins(RUNTIME_PINS)
    assert pins["scikit-learn"] == "1.9.1" and pins["prometheus-client"]
    same = [f"{name}=={version}" for name, version in pins.items()]
    assert unmet(same, pins) == []
    assert unmet(["scikit-learn>=1.0", "numpy", 'pywin32==306; sys_platform == "win32"'], pins) == []


def test_unknown_packages_other_versions_and_extras_are_unmet():
    pins = runtime_pins(RUNTIME_PINS)
    assert unmet(["scikit-learn==1.5.0", "tabulate", "uvicorn[standard]==0.54.0"], pins) == [
        "scikit-learn==1.5.0", "tabulate", "uvicorn[standard]==0.54.0"]


def test_the_digest_ignores_order_and_depends_on_the_image():
    assert requirement_digest(["a", "b"], "img:1") == requirement_digest(["b", "a"], "img:1")
    assert requirement_digest(["a"], "img:1") != requirement_digest(["a"], "img:2")
    assert requirement_digest(["a"], "img:1") != requirement_digest(["a==1"], "img:1")


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


# --- reading pip's output (pip 23.0.1 in the runtime image, captured) --------------------------------------


NO_VERSION = """ERROR: Could not find a version that satisfies the requirement scikit-learn==0.0.1 (from versions: \
0.9, 0.10, 0.11, 0.12, 1.9.0rc1, 1.9.0, 1.9.1)
ERROR: No matching distribution found for scikit-learn==0.0.1
"""
CONFLICT = """Collecting requests==2.31.0
Collecting urllib3==1.20
ERROR: Cannot install -r /req/requirements.txt (line 1) and urllib3==1.20 because these package versions have \
conflicting dependencies.

The conflict is caused by:
    The user requested urllib3==1.20
    requests 2.31.0 depends on urllib3<3 and >=1.21.1

To fix this you could try to:
1. loosen the range of package versions you've specified

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
"""
BUILD = """Building wheels for collected packages: regex
  Building wheel for regex (pyproject.toml): finished with status 'error'
  error: subprocess-exited-with-error

  \u00d7 Building wheel for regex (pyproject.toml) did not run successfully.
  \u2502 exit code: 1
  \u2570\u2500> [3 lines of output]
      running build_ext
      error: [Errno 2] No such file or directory: 'x86_64-linux-gnu-gcc'
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
  ERROR: Failed building wheel for regex
Failed to build regex
ERROR: Failed to build one or more wheels
"""
METADATA = """Collecting six==1.16.0
Collecting psycopg2==2.9.9
  Downloading psycopg2-2.9.9.tar.gz (384 kB)
  Preparing metadata (setup.py): finished with status 'error'
  error: subprocess-exited-with-error

  \u00d7 python setup.py egg_info did not run successfully.
  \u2502 exit code: 1
  \u2570\u2500> [4 lines of output]
      running egg_info
      Error: pg_config executable not found.
      For further information please check the 'doc/src/install.rst' file
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: metadata-generation-failed
"""
UNREACHABLE = """WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError('<...>: Failed to establish a new connection')': /simple/six/
ERROR: Could not find a version that satisfies the requirement six==1.16.0 (from versions: none)
ERROR: No matching distribution found for six==1.16.0
"""


def test_a_pin_with_no_such_version_is_named_with_what_exists():
    failure = explain_pip_failure(NO_VERSION, ["tabulate", "scikit-learn==0.0.1"])
    assert failure.requirements == ["scikit-learn==0.0.1"] and not failure.index_unreachable
    assert failure.reason == ("scikit-learn==0.0.1: no version on the package index matches "
                              "(available: 0.9, 0.10, ..., 1.9.0rc1, 1.9.0, 1.9.1)")


def test_a_conflict_names_both_requirements_and_the_cause():
    failure = explain_pip_failure(CONFLICT, ["requests==2.31.0", "urllib3==1.20"])
    assert failure.requirements == ["requests==2.31.0", "urllib3==1.20"]
    assert failure.reason == ("requests==2.31.0 and urllib3==1.20 cannot be installed together: The user requested "
                              "urllib3==1.20; requests 2.31.0 depends on urllib3<3 and >=1.21.1")


def test_a_failed_build_names_the_package_and_the_compiler_error():
    failure = explain_pip_failure(BUILD, ["regex==2021.4.4"])
    assert failure.requirements == ["regex==2021.4.4"]
    assert failure.reason == ("regex==2021.4.4 failed to build: error: [Errno 2] No such file or directory: "
                              "'x86_64-linux-gnu-gcc'")


def test_a_dependency_that_fails_to_build_is_named_as_a_dependency():
    failure = explain_pip_failure(BUILD, ["something-needing-regex"])
    assert failure.requirements == ["regex (a dependency of the requirements)"]


def test_failed_metadata_names_the_package_pip_was_collecting():
    failure = explain_pip_failure(METADATA, ["six==1.16.0", "psycopg2==2.9.9"])
    assert failure.requirements == ["psycopg2==2.9.9"]
    assert failure.reason == ("psycopg2==2.9.9 failed to build (its package metadata could not be generated): "
                              "Error: pg_config executable not found.")


def test_an_unreachable_index_is_not_the_candidates_fault():
    assert explain_pip_failure(UNREACHABLE, ["six==1.16.0"]).index_unreachable
    assert not explain_pip_failure(UNREACHABLE.splitlines(True)[1], ["six==1.16.0"]).index_unreachable


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


def result(spec: RunSpec, exit_code: int = 0, stdout: str = "") -> StepResult:
    return StepResult(id=spec.name, command=spec.command, exit_code=exit_code, duration_s=1.0, stdout=stdout)


def mount(spec: RunSpec, target: str) -> Path:
    return next(m.source for m in spec.mounts if m.target == target)


def pip_builds(*wheels: str, extra: Callable[[Path], None] = lambda out: None) -> Callable[[RunSpec], StepResult]:
    """A handler playing both containers: the build writes ``wheels``, the install reports them installed."""
    def handle(spec: RunSpec) -> StepResult:
        if spec.egress:
            out = mount(spec, OUT_MOUNT)
            for wheel in wheels:
                (out / wheel).write_bytes(b"PK")
            extra(out)
            return result(spec, stdout=f"Would install ...\n{SELECTED_MARKER} {' '.join(wheels)}\n")
        names = sorted(p.name for p in mount(spec, WHEELS_MOUNT).glob("*.whl"))
        done = {"installed": names, "shadowed": ["six 1.17.0 -> 1.16.0"]}
        return result(spec, stdout=RESULT_MARKER + json.dumps(done))
    return handle


def prepare(sandbox: Sandbox, root: Path, cache: Path, **options) -> object:
    options.setdefault("runtime_requirements", RUNTIME_PINS)
    options.setdefault("index", IndexSettings())
    return prepare_dependencies(sandbox, root, cache, image="img:1", limits=LIMITS, **options)


def test_no_requirement_file_runs_no_container(tmp_path):
    sandbox = ScriptedSandbox(pip_builds())
    outcome = prepare(sandbox, submission(tmp_path, train_dot_py="print()"), tmp_path / "cache")
    assert outcome.status == "none" and outcome.env == {} and sandbox.specs == []


def test_requirements_the_runtime_meets_run_no_container(tmp_path):
    root = submission(tmp_path, requirements_dot_txt=RUNTIME_PINS.read_text() + "dvc==3.1\n")
    sandbox = ScriptedSandbox(pip_builds())
    outcome = prepare(sandbox, root, tmp_path / "cache", skip=["dvc"])
    assert outcome.status == "satisfied" and outcome.skipped == ["dvc==3.1"] and sandbox.specs == []
    assert "skipped as not needed for grading: dvc==3.1" in outcome.message


def test_built_wheels_are_cached_and_installed_without_network(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\nsix==1.16.0\n")
    wheels = ("six-1.16.0-py2.py3-none-any.whl", "tabulate-0.9.0-py3-none-any.whl")
    sandbox = ScriptedSandbox(pip_builds(*wheels))
    first = prepare(sandbox, root, tmp_path / "cache")
    build, install = sandbox.specs
    assert build.egress and not build.mount_work and not build.network
    assert {m.target: m.read_only for m in build.mounts} == {REQ_MOUNT: True, OUT_MOUNT: False}
    assert not install.egress and not install.network and install.mount_work
    assert (first.status, first.wheels, first.cached) == ("installed", list(wheels), False)
    assert first.env == {"PYTHONPATH": DEPS_DIR} and first.shadowed == ["six 1.17.0 -> 1.16.0"]
    assert "they replace the runtime's six 1.17.0 -> 1.16.0" in first.message
    cached_dir = tmp_path / "cache" / "candidate-wheels" / first.digest
    assert sorted(p.name for p in cached_dir.iterdir()) == [".complete", *wheels]
    assert oct(cached_dir.stat().st_mode & 0o777) == "0o755"

    sandbox.specs.clear()
    second = prepare(sandbox, root, tmp_path / "cache")
    assert [s.egress for s in sandbox.specs] == [False] and second.cached and second.status == "installed"
    assert not any(p.name.startswith(".") for p in cached_dir.parent.iterdir()), "scratch folders left behind"


def test_the_requirement_file_the_container_sees_is_the_normalised_set(tmp_path):
    seen: list[str] = []

    def handle(spec: RunSpec) -> StepResult:
        seen.append((mount(spec, REQ_MOUNT) / "requirements.txt").read_text())
        return result(spec, 1, NO_VERSION)

    root = submission(tmp_path, requirements_dot_txt="-e .\nTabulate==0.9.0\nscikit-learn==0.0.1\n")
    outcome = prepare(ScriptedSandbox(handle), root, tmp_path / "cache")
    assert seen == ["tabulate==0.9.0\nscikit-learn==0.0.1\n"]
    assert outcome.status == "failed" and outcome.failed_requirements == ["scikit-learn==0.0.1"]
    assert outcome.env == {} and "no version on the package index" in outcome.message
    assert not (tmp_path / "cache" / "candidate-wheels" / outcome.digest).exists()


def test_an_invalid_requirement_fails_before_any_container(tmp_path):
    sandbox = ScriptedSandbox(pip_builds())
    outcome = prepare(sandbox, submission(tmp_path, requirements_dot_txt="numpy>=>2\n"), tmp_path / "cache")
    assert outcome.status == "failed" and outcome.failed_requirements == ["numpy>=>2"] and sandbox.specs == []


def test_links_and_odd_files_in_the_output_are_never_taken(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host file")

    def plant(out: Path) -> None:
        (out / "evil-1.0-py3-none-any.whl").symlink_to(secret)
        os.mkfifo(out / "fifo-1.0-py3-none-any.whl")
        (out / "notes.txt").write_text("x")

    root = submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\n")
    outcome = prepare(ScriptedSandbox(pip_builds("tabulate-0.9.0-py3-none-any.whl", extra=plant)), root,
                      tmp_path / "cache")
    assert outcome.wheels == ["tabulate-0.9.0-py3-none-any.whl"]
    cached = tmp_path / "cache" / "candidate-wheels" / outcome.digest
    assert sorted(p.name for p in cached.iterdir()) == [".complete", "tabulate-0.9.0-py3-none-any.whl"]


def test_fewer_wheels_than_pip_selected_is_a_failure_not_a_cache_entry(tmp_path):
    def handle(spec: RunSpec) -> StepResult:
        return result(spec, stdout=f"{SELECTED_MARKER} tabulate==0.9.0\n")

    root = submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\n")
    outcome = prepare(ScriptedSandbox(handle), root, tmp_path / "cache")
    assert outcome.status == "failed" and "left 0 of 1 wheels" in outcome.message
    assert not (tmp_path / "cache" / "candidate-wheels" / outcome.digest).exists()


def test_a_timeout_is_a_failure_saying_where_pip_was(tmp_path):
    def handle(spec: RunSpec) -> StepResult:
        return StepResult(id=spec.name, command=spec.command, exit_code=137, duration_s=900, timed_out=True,
                          stdout="Collecting huge-package==1.0\n")

    outcome = prepare(ScriptedSandbox(handle), submission(tmp_path, requirements_dot_txt="huge-package==1.0\n"),
                      tmp_path / "cache")
    assert outcome.status == "failed"
    assert outcome.message == "the dependency step timed out after 900s while at huge-package==1.0"


def test_an_unreachable_index_raises_an_infrastructure_error(tmp_path):
    root = submission(tmp_path, requirements_dot_txt="six==1.16.0\n")
    with pytest.raises(InfrastructureError, match="could not reach the package index"):
        prepare(ScriptedSandbox(lambda spec: result(spec, 1, UNREACHABLE)), root, tmp_path / "cache")


def test_the_host_ca_bundle_and_index_go_to_the_build_container_only(tmp_path):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("certs")
    sandbox = ScriptedSandbox(pip_builds("tabulate-0.9.0-py3-none-any.whl"))
    index = IndexSettings(index_url="https://mirror.invalid/simple", cert=bundle)
    prepare(sandbox, submission(tmp_path, requirements_dot_txt="tabulate==0.9.0\n"), tmp_path / "cache", index=index)
    build, install = sandbox.specs
    assert mount(build, CA_MOUNT) == bundle
    assert build.env["PIP_CERT"] == CA_MOUNT and build.env["PIP_INDEX_URL"] == "https://mirror.invalid/simple"
    assert install.env == {} and [m.target for m in install.mounts] == [WHEELS_MOUNT]
