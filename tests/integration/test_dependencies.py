"""The candidate dependency step against a real engine and the package index the host's pip uses: nothing to do,
already met, built and cached and importable offline, failing with the requirement named, and the egress
container kept away from the run's network and work area.

The only address outside this engine these tests reach is the package index (through the dependency step).
"""

from __future__ import annotations

import json
import shlex
import textwrap
import time
from pathlib import Path

import pytest

from grader.models import Limits
from grader.paths import project_paths
from grader.run.dependencies import DEPS_DIR, DependencyOutcome, prepare_dependencies
from grader.sandbox.base import RunSpec, Sandbox
from grader.sandbox.docker.containers import LABEL_RUN, DockerSandbox

RUNTIME_PINS = project_paths().sandboxes / "runtime" / "requirements.txt"
# Room to resolve and build (tmpfs counts against memory); far below DEPENDENCY_LIMITS' time.
STEP_LIMITS = Limits(memory="1g", cpus=1, pids=512, timeout=300, tmpfs="512m", output="1m")
EXTRA = "tabulate==0.9.0\nsix==1.16.0\nantlr4-python3-runtime==4.9.3\nscikit-learn==1.9.1\n"
IMPORT_CHECK = ("python3 -c 'import antlr4, six, sklearn, tabulate; "
                "print(tabulate.__version__, six.__version__, sklearn.__version__, antlr4.__file__)'")


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
    return prepare_dependencies(sandbox, root, cache, image=sandbox.image, limits=STEP_LIMITS,
                                runtime_requirements=RUNTIME_PINS, **options)


def test_a_submission_without_requirement_files_runs_no_container(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    runs = count_runs(sandbox)
    outcome = prepare(sandbox, write_submission(tmp_path / "s", None, **{"train.py": "print(1)\n"}), tmp_path / "c")
    assert outcome.status == "none" and outcome.env == {} and runs == []


def test_the_runtime_pins_themselves_are_satisfied_without_a_container(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    runs = count_runs(sandbox)
    outcome = prepare(sandbox, write_submission(tmp_path / "s", RUNTIME_PINS.read_text()), tmp_path / "c")
    assert outcome.status == "satisfied" and outcome.requirement_files == ["requirements.txt"]
    assert runs == [] and outcome.env == {}


def test_a_dvc_and_notebook_toolchain_is_skipped_by_the_labs_list(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    runs = count_runs(sandbox)
    requirements = "dvc==3.1.0\ndvc-s3\njupyter\nnotebook==7.0\nscikit-learn==1.9.1\nmlflow==3.17.2\n"
    outcome = prepare(sandbox, write_submission(tmp_path / "s", requirements), tmp_path / "c",
                      skip=["dvc", "dvc-*", "jupyter*", "notebook"])
    assert outcome.status == "satisfied" and runs == []
    assert outcome.skipped == ["dvc==3.1.0", "dvc-s3", "jupyter", "notebook==7.0"]
    assert "skipped as not needed for grading: dvc==3.1.0, dvc-s3, jupyter, notebook==7.0" in outcome.message


def test_extra_packages_are_built_cached_and_importable_with_no_network(sandbox_factory, tmp_path, capsys):
    root, cache = write_submission(tmp_path / "s", EXTRA), tmp_path / "cache"
    (root / ".grader-deps").mkdir()  # a submission's own folder of that name is replaced, not trusted
    (root / ".grader-deps" / "tabulate.py").write_text("raise SystemExit('stale copy')\n")
    sandbox = sandbox_factory()
    runs = count_runs(sandbox)
    started = time.monotonic()
    cold = prepare(sandbox, root, cache)
    cold_s = time.monotonic() - started
    assert cold.status == "installed", cold.message + "\n" + cold.log_tail
    assert [s.egress for s in runs] == [True, False]
    # scikit-learn==1.9.1 is the runtime's own: neither built nor installed. antlr4 exists only as source.
    assert sorted(w.split("-")[0] for w in cold.wheels) == ["antlr4_python3_runtime", "six", "tabulate"]
    assert cold.shadowed == ["six 1.17.0 -> 1.16.0"] and not cold.cached
    assert cold.env == {"PYTHONPATH": DEPS_DIR}
    assert (cache / "candidate-wheels" / cold.digest / ".complete").is_file()
    offline = sandbox.run(RunSpec(name="train", command=IMPORT_CHECK, image=sandbox.image, limits=sandbox.limits,
                                  env=cold.env, network=False))
    assert offline.stdout.split()[:3] == ["0.9.0", "1.16.0", "1.9.1"], offline.stderr
    assert offline.stdout.split()[3].startswith(f"{DEPS_DIR}/antlr4/")

    second = sandbox_factory()  # a later run: same requirements, same cache
    runs = count_runs(second)
    started = time.monotonic()
    warm = prepare(second, root, cache)
    warm_s = time.monotonic() - started
    assert warm.status == "installed" and warm.cached and warm.digest == cold.digest
    assert [s.egress for s in runs] == [False], "a cached set must not run the dependency step"
    offline = second.run(RunSpec(name="train", command=IMPORT_CHECK, image=second.image, limits=second.limits,
                                 env=warm.env, network=False))
    assert offline.stdout.split()[:3] == ["0.9.0", "1.16.0", "1.9.1"], offline.stderr
    with capsys.disabled():
        print(f"\ndependency step: cold {cold_s:.1f}s, cached {warm_s:.1f}s")


def test_an_impossible_pin_fails_naming_it_and_caches_nothing(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    cache = tmp_path / "cache"
    outcome = prepare(sandbox, write_submission(tmp_path / "s", "tabulate==0.9.0\nscikit-learn==0.0.1\n"), cache)
    assert outcome.status == "failed" and outcome.env == {}
    assert outcome.failed_requirements == ["scikit-learn==0.0.1"]
    assert outcome.message.startswith("scikit-learn==0.0.1: no version on the package index matches (available: ")
    assert "1.9.1" in outcome.message
    assert not (cache / "candidate-wheels" / str(outcome.digest)).exists()


def test_a_conflict_fails_naming_both_sides(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    outcome = prepare(sandbox, write_submission(tmp_path / "s", "requests==2.31.0\nurllib3==1.20\n"), tmp_path / "c")
    assert outcome.status == "failed"
    assert outcome.failed_requirements == ["requests==2.31.0", "urllib3==1.20"]
    assert "requests 2.31.0 depends on urllib3" in outcome.message


def test_a_source_package_that_needs_a_compiler_fails_naming_it(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    outcome = prepare(sandbox, write_submission(tmp_path / "s", "regex==2021.4.4\n"), tmp_path / "c")
    assert outcome.status == "failed" and outcome.failed_requirements == ["regex==2021.4.4"]
    assert outcome.message.startswith("regex==2021.4.4 failed to build: ") and "gcc" in outcome.message


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
