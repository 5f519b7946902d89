"""The candidate dependency step against a real engine and the package index the host's pip uses: nothing to do,
an environment of the candidate's own (built, cached, mounted read-only, nothing of the runtime stack in it), the
resolver's reason for a set that cannot be satisfied, a source package built with the image's compiler, a full
grading of a capstone pinned to MLflow 2.x, and the egress container kept away from the run's network and work area.

The only address outside this engine these tests reach is the package index (through the dependency step).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.models import Limits, Status
from grader.paths import project_paths
from grader.run.dependencies import DependencyOutcome, prepare_dependencies
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox.base import RunSpec, Sandbox
from grader.sandbox.docker.containers import LABEL_RUN, DockerSandbox
from grader.sandbox.docker.engine import DockerEngine

SUBMISSIONS = Path(__file__).parent / "submissions"
# Room to resolve and build (tmpfs counts against memory); far below DEPENDENCY_LIMITS' time.
STEP_LIMITS = Limits(memory="1g", cpus=1, pids=512, timeout=600, tmpfs="256m", fsize="2g", output="1m")
VERSIONS = ("python -c 'import importlib.metadata as m, sys; "
            "print(sys.prefix, *(m.version(n) for n in sys.argv[1:]))' ")


def count_runs(sandbox: Sandbox) -> list[RunSpec]:
    """The specs of every container the sandbox runs from now on."""
    specs: list[RunSpec] = []
    run = sandbox.run

    def counted(spec: RunSpec):
        specs.append(spec)
        return run(spec)

    sandbox.run = counted  # type: ignore[method-assign]
    return specs


def write_submission(folder: Path, requirements: str | None, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def prepare(sandbox: DockerSandbox, root: Path, cache: Path, **options) -> DependencyOutcome:
    sandbox.copy_in(root)
    return prepare_dependencies(sandbox, root, cache, image=sandbox.image, limits=STEP_LIMITS, **options)


def run_in_environment(sandbox: DockerSandbox, outcome: DependencyOutcome, command: str):
    """A candidate-like container (no network) with the outcome's environment variables and mount."""
    return sandbox.run(RunSpec(name="train", command=command, image=sandbox.image, limits=sandbox.limits,
                               env=outcome.env, mounts=outcome.mounts(), network=False))


def test_a_submission_without_requirement_files_runs_no_container(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    runs = count_runs(sandbox)
    outcome = prepare(sandbox, write_submission(tmp_path / "s", None, **{"train.py": "print(1)\n"}), tmp_path / "c")
    assert outcome.status == "none" and outcome.env == {} and runs == []


def test_a_pinned_mlflow2_set_gets_its_own_environment_built_once_and_cached(sandbox_factory, tmp_path, capsys):
    root, cache = SUBMISSIONS / "pinned-mlflow2", tmp_path / "cache"
    sandbox = sandbox_factory()
    runs = count_runs(sandbox)
    started = time.monotonic()
    cold = prepare(sandbox, root, cache, skip=["dvc"])
    cold_s = time.monotonic() - started
    assert cold.status == "installed", cold.message + "\n" + cold.log_tail
    assert [s.egress for s in runs] == [True] and not cold.cached
    assert {"mlflow==2.14.3", "scikit-learn==1.5.2", "fastapi==0.111.1"} <= set(cold.lock)
    # Nothing of the runtime image's stack: its FastAPI (0.165), its MLflow (3.17), its /opt/venv on the path.
    seen = run_in_environment(sandbox, cold, VERSIONS + "mlflow scikit-learn fastapi setuptools && which uvicorn "
                              "&& python -c 'import skops' || echo no-skops")
    prefix, mlflow, sklearn, fastapi, setuptools = seen.stdout.split()[:5]
    assert (prefix, mlflow, sklearn, fastapi) == ("/opt/candidate-env", "2.14.3", "1.5.2", "0.111.1"), seen.stderr
    assert int(setuptools.split(".")[0]) < 81
    assert "/opt/candidate-env/bin/uvicorn" in seen.stdout and "no-skops" in seen.stdout

    second = sandbox_factory()  # a later run: same requirements, same cache
    runs = count_runs(second)
    started = time.monotonic()
    warm = prepare(second, root, cache, skip=["dvc"])
    warm_s = time.monotonic() - started
    assert warm.status == "installed" and warm.cached and warm.digest == cold.digest and warm.lock == cold.lock
    assert runs == [], "a cached environment must not run the dependency step"
    assert run_in_environment(second, warm, VERSIONS + "mlflow").stdout.split()[1] == "2.14.3"
    with capsys.disabled():
        print(f"\ncandidate environment (pinned-mlflow2): cold {cold_s:.1f}s, cached {warm_s:.2f}s")


def test_the_cutoff_date_keeps_unpinned_packages_to_their_time(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    root = write_submission(tmp_path / "s", "tabulate\nsix\n")
    outcome = prepare(sandbox, root, tmp_path / "c", as_of=datetime(2021, 6, 1, tzinfo=UTC))
    assert outcome.status == "installed", outcome.message
    assert outcome.cutoff == "2021-06-01T00:00:00Z"
    assert "tabulate==0.8.9" in outcome.lock and "six==1.16.0" in outcome.lock  # both released before that day


def test_an_unsatisfiable_set_fails_with_the_resolvers_reason_and_caches_nothing(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    cache = tmp_path / "cache"
    outcome = prepare(sandbox, SUBMISSIONS / "unsatisfiable", cache)
    assert outcome.status == "failed" and outcome.env == {} and outcome.mounts() == ()
    assert outcome.failed_requirements == ["scikit-learn==1.5.2", "numpy<1.19"]
    assert outcome.message.startswith("the requirements could not be resolved: No solution found when resolving "
                                      "dependencies")
    assert "scikit-learn==1.5.2 depends on numpy>=1.19.5" in outcome.message
    assert not (cache / "candidate-envs" / str(outcome.digest)).exists()


def test_an_impossible_pin_fails_naming_it(sandbox_factory, tmp_path):
    outcome = prepare(sandbox_factory(), write_submission(tmp_path / "s", "tabulate==0.9.0\nscikit-learn==0.0.1\n"),
                      tmp_path / "c")
    assert outcome.status == "failed" and outcome.failed_requirements == ["scikit-learn==0.0.1"]
    assert "there is no version of scikit-learn==0.0.1" in outcome.message


def test_a_source_only_package_is_built_with_the_images_compiler(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    outcome = prepare(sandbox, write_submission(tmp_path / "s", "regex==2021.4.4\n"), tmp_path / "c")
    assert outcome.status == "installed", outcome.message + "\n" + outcome.log_tail
    seen = run_in_environment(sandbox, outcome, "python -c 'import regex._regex as r; print(r.__file__)'")
    assert seen.stdout.strip().endswith(".so"), seen.stderr


def test_a_capstone_pinned_to_mlflow2_trains_registers_serves_and_is_evaluated_in_its_environment(
        docker_client, runtime_image, tmp_path):
    """Graded as a git repository committed in autumn 2024: the whole pipeline runs on its own stack."""
    repository = tmp_path / "repo"
    subprocess.run(["cp", "-r", str(SUBMISSIONS / "pinned-mlflow2"), str(repository)], check=True)
    when = {"GIT_AUTHOR_DATE": "2024-10-01T12:00:00Z", "GIT_COMMITTER_DATE": "2024-10-01T12:00:00Z"}
    git = ["git", "-C", str(repository), "-c", "user.name=candidate", "-c", "user.email=c@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "capstone"], check=True, env={**when, "PATH": "/usr/bin:/bin"})
    paths = project_paths()
    options = GradeOptions(out_dir=tmp_path / "report", store=False, ref="HEAD")
    report = grade_submission(str(repository), "mlops-capstone", paths, DockerEngine(paths, docker_client),
                              options).report
    dependencies = report.dependencies or {}
    assert dependencies.get("status") == "installed", dependencies.get("message")
    assert dependencies["cutoff"] == "2024-10-01T12:00:00Z"  # scikit-learn 1.5.2 is of 2024-09-11
    assert {"mlflow==2.14.3", "scikit-learn==1.5.2"} <= set(dependencies["lock"])
    checks = {c.id: c for c in report.checks}
    must_pass = ["training-runs", "run-created", "params-logged", "model-registered", "model-alias",
                 "holdout-accuracy", "server-ready", "predictions-match", "request-counter"]
    assert {i: checks[i].message for i in must_pass if checks[i].status != Status.passed} == {}
    train = next(s for s in report.steps if s.id == "train")
    assert "mlflow 2.14.3: registered fault-classifier" in train.stdout


def test_the_egress_container_sees_neither_the_run_network_nor_the_work_area(sandbox_factory, docker_client,
                                                                             tmp_path):
    sandbox = sandbox_factory()
    sandbox.copy_in(write_submission(tmp_path / "s", None, **{"secret.txt": "hidden\n"}))
    # The service lists a file named by a token, so "reached" means reached *this* server: on machines whose
    # upstream accepts every TCP connection, a bare connect succeeding proves nothing.
    token = f"run-network-{sandbox.run_id}"
    serve = f"mkdir -p /tmp/www && touch /tmp/www/{token} && python3 -m http.server --bind 0.0.0.0 -d /tmp/www 8000"
    service = RunSpec(name="web", command=f"sh -c {shlex.quote(serve)}", image=sandbox.image,
                      limits=sandbox.limits, network=True, mount_work=False)
    assert sandbox.start_service(service, port=8000, ready_timeout=20).ready
    [web] = docker_client.containers.list(filters={"label": f"{LABEL_RUN}={sandbox.run_id}", "name": "-web-"})
    address = web.attrs["NetworkSettings"]["Networks"][sandbox.network_name]["IPAddress"]
    # No name lookup is sent anywhere: the run's aliases live only in the engine's embedded DNS (127.0.0.11),
    # which a container on the default bridge is not given.
    script = textwrap.dedent(f"""
        import json, os
        import urllib.request
        def connect(host):
            try:
                body = urllib.request.urlopen(f"http://{{host}}:8000/", timeout=3).read().decode(errors="replace")
            except OSError as error:
                return f"failed: {{error}}"
            return "reached the run's server" if {token!r} in body else "failed: some other answer"
        resolv = open("/etc/resolv.conf").read()
        print(json.dumps({{"connect": connect({address!r}), "embedded_dns": "127.0.0.11" in resolv,
                          "hosts_web": "web" in open("/etc/hosts").read().split(), "work": os.listdir("/work"),
                          "interfaces": sorted(os.listdir("/sys/class/net"))}}))
    """)
    command = f"python3 -c {shlex.quote(script)}"
    run = sandbox.run(RunSpec(name="dependencies", command=command, image=sandbox.image, limits=sandbox.limits,
                              egress=True, mount_work=False))
    seen = json.loads(run.stdout)
    assert seen["connect"].startswith("failed"), seen
    assert not seen["embedded_dns"] and not seen["hosts_web"]
    assert seen["work"] == [] and "eth0" in seen["interfaces"]
    control = sandbox.run(RunSpec(name="check", command=command, image=sandbox.image, limits=sandbox.limits,
                                  network=True))
    assert json.loads(control.stdout)["connect"] == "reached the run's server", control.stdout


@pytest.fixture(autouse=True)
def _nothing_written_to_the_real_cache(monkeypatch, tmp_path):
    """Every test passes its own cache folder; make sure nothing falls back to the user's."""
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "grader-cache-must-stay-unused"))
