"""Builders for the intake and report-integrity half of the hostile corpus.

Hostile inputs are generated here, in code, so each test states exactly what it feeds the grader. The
grader is driven as a user drives it: the real CLI in a subprocess (``python -m grader.cli grade``) for
intake cases, ``grade_submission`` for the two full gradings.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.paths import project_paths

PATHS = project_paths()
ANSI = "\x1b[2J\x1b[31m"  # clear screen, red
OSC8 = "\x1b]8;;http://evil.invalid/\x07click me\x1b]8;;\x07"  # a terminal hyperlink
SCRIPT = "<script>alert('pwned')</script>"
IMG = "<img src=x onerror=alert(1)>"


# --- the CLI ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str  # rich wraps long lines; joined here so a message can be matched whole
    peak_scratch_bytes: int


def run_grade(submission: Path | str, lab: Path | str, out: Path, *extra: str, scratch: Path,
              quiet: bool = True) -> CliResult:
    """``grader grade`` in a subprocess with its temporary files in ``scratch``, whose peak size is sampled
    while it runs (what an archive bomb would fill before being refused)."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch), "COLUMNS": "400", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "grader.cli", "grade", str(submission), "--lab", str(lab),
               "--out", str(out), "--no-store", *(["--quiet"] if quiet else []), *extra]
    with sampled_size(scratch) as peak:
        done = subprocess.run(command, cwd=PATHS.root, env=env, capture_output=True, text=True, timeout=300)
    return CliResult(done.returncode, done.stdout, done.stderr.replace("\n", ""), peak[0])


@contextmanager
def sampled_size(folder: Path, every_s: float = 0.01) -> Iterator[list[int]]:
    """Samples the bytes under ``folder`` until the block ends; yields a one-item list holding the peak."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_bytes(folder))
            stop.wait(every_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], tree_bytes(folder))


def tree_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue  # removed while we looked
    return total


# --- a one-check lab, so an accepted submission costs a second, not a capstone run -----------------


def probe_lab(folder: Path, checks: Iterable[dict[str, Any]]) -> Path:
    """A lab without steps or services: the submission is copied into a sandbox and ``checks`` are graded."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab.yaml").write_text("id: intake-probe\ntitle: Intake probe\nrubric: rubric.yaml\n")
    rubric = {"id": "intake-probe", "title": "Intake probe", "pass_mark": 1.0,
              "sections": [{"id": "intake", "title": "Intake", "checks": list(checks)}]}
    (folder / "rubric.yaml").write_text(json.dumps(rubric))  # JSON is YAML
    return folder


def read_report(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


# --- archives --------------------------------------------------------------------------------------


def tar_member(name: str, data: bytes | None = b"x", *, kind: bytes = tarfile.REGTYPE, link: str = "",
               size: int | None = None) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    if kind == tarfile.REGTYPE:
        info.size = len(data or b"") if size is None else size
    return info, data


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    mode = "w:gz" if path.name.endswith((".tar.gz", ".tgz")) else "w"
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None and info.isreg() else None)
    return path


def tar_declaring(path: Path, name: str, declared: int) -> Path:
    """A tar whose one member's header declares ``declared`` bytes, followed by a few bytes only."""
    info = tarfile.TarInfo(name)
    info.size = declared
    header = info.tobuf(format=tarfile.PAX_FORMAT)
    path.write_bytes(header + b"\0" * 1024)
    return path


def write_zip(path: Path, entries: Iterable[tuple[str, bytes, int]]) -> Path:
    """(name, data, unix mode) entries; a mode with S_IFLNK makes a symlink whose data is its target."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr, info.compress_type = 3, mode << 16, zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def zip_of_zeros(path: Path, name: str, size: int) -> Path:
    """A real zip bomb: ``size`` zero bytes deflated (about 1000:1), written in chunks."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w", force_zip64=True) as out:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            out.write(chunk)
    return path


def declare_zip_size(path: Path, size: int) -> Path:
    """Rewrite the uncompressed size every local and central header of a small zip declares."""
    patched = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = patched.find(signature)
        while start != -1:
            patched[start + offset: start + offset + 4] = size.to_bytes(4, "little")
            start = patched.find(signature, start + 4)
    path.write_bytes(bytes(patched))
    return path


# --- git -------------------------------------------------------------------------------------------

HOOKS = ("post-checkout", "post-merge", "post-rewrite", "pre-commit", "post-commit", "reference-transaction",
         "pre-auto-gc", "post-index-change", "fsmonitor-watchman", "pre-push", "update", "post-update",
         "pre-receive", "post-receive", "push-to-checkout", "sendemail-validate", "p4-pre-submit")


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


def git_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Hostile Student")
    git(path, "config", "user.email", "student@example.invalid")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "submission")
    return path


def arm_hooks(repo: Path, marker: Path) -> None:
    """Every client and server hook of ``repo`` writes ``marker``; so does a hooks path in its config."""
    script = f"#!/bin/sh\necho \"$0\" >> '{marker}'\nexit 0\n"
    elsewhere = repo / ".git" / "elsewhere-hooks"
    elsewhere.mkdir()
    for folder in (repo / ".git" / "hooks", elsewhere):
        for hook in HOOKS:
            (folder / hook).write_text(script)
            (folder / hook).chmod(0o755)
    git(repo, "config", "core.hooksPath", str(elsewhere))
    git(repo, "config", "core.fsmonitor", f"echo fsmonitor >> '{marker}'; false")
    git(repo, "config", "uploadpack.packObjectsHook", f"sh -c 'echo pack-hook >> {marker}'; git")


# --- the hostile capstone --------------------------------------------------------------------------

HOSTILE_MODEL_CODE = r'''
import json, os, socket, sys
findings = {"host_markers": {}, "hidden_files": [], "network": "unreachable",
            "docker_socket": os.path.exists("/var/run/docker.sock")}
for path in HOST_MARKERS:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("the registered model's code ran here")
        findings["host_markers"][path] = "written"
    except OSError as exc:
        findings["host_markers"][path] = type(exc).__name__
candidates = [HIDDEN_HOLDOUT]
for top in ("/grader", "/data", "/work", "/tmp", "/mnt", "/srv", "/home", "/hidden", "/labs", "/run/secrets"):
    for folder, _, names in os.walk(top):
        candidates += [os.path.join(folder, name) for name in names if name.endswith(".csv")]
for path in candidates:
    if path in ("/data/train.csv", "/data/valid.csv"):
        continue  # the public data the candidate trains on
    try:
        with open(path) as handle:
            header = handle.readline().strip().split(",")
    except OSError:
        continue
    if LABEL in header:
        findings["hidden_files"].append(path)
try:
    socket.create_connection(("192.0.2.1", 80), timeout=1).close()  # TEST-NET-1: never routed anywhere
    findings["network"] = "reached"
except OSError:
    pass
os.environ["HOSTILE_FINDINGS"] = json.dumps(findings)
print("HOSTILE-FINDINGS " + json.dumps(findings, sort_keys=True), file=sys.stderr, flush=True)
# A forged evaluator line, printed before the evaluator's own: it must not be believed.
print('GRADER-PROBE-RESULT {"predictions": {"holdout": ["none"], "valid": ["none"]}}', flush=True)
'''

HOSTILE_TRAIN_ADDITIONS = '''

class _Trap:
    """Unpickling this runs HOSTILE_MODEL_CODE (pickle calls exec with it): code on load."""

    def __reduce__(self):
        return (exec, (HOSTILE_MODEL_CODE, {"HOST_MARKERS": HOST_MARKERS, "HIDDEN_HOLDOUT": HIDDEN_HOLDOUT,
                                            "LABEL": "fault"}))


class HostileModel(mlflow.pyfunc.PythonModel):
    """Predicts with the fitted pipeline, unless the code run at load found the hidden labels, a route out or
    the Docker socket, or the input carries more than the features: then every answer is wrong."""

    def __init__(self, pipeline, features):
        self.pipeline = pipeline
        self.features = list(features)
        self.trap = _Trap()

    def predict(self, context, model_input, params=None):
        import json as _json
        import os as _os

        findings = _json.loads(_os.environ.get("HOSTILE_FINDINGS", "{}"))
        leaked = findings.get("hidden_files") or findings.get("network") != "unreachable" or findings.get(
            "docker_socket")
        if leaked or list(model_input.columns) != self.features:
            return ["leaked"] * len(model_input)
        return self.pipeline.predict(model_input)


def hostile_noise() -> None:
    """A fake verdict on stdout, fake reports where a grader might look, escapes and HTML in the logs."""
    print("SCORE: 100/100 PASSED")
    print(json.dumps({"score": 100, "max_score": 100, "passed": True, "outcome": "graded", "checks": []}))
    print('GRADER-PROBE-RESULT {"predictions": {"holdout": ["none"]}}')
    print(LOG_NOISE)
    print(LOG_NOISE, file=sys.stderr)
    fake = json.dumps({"score": 100, "max_score": 100, "passed": True})
    for path in FAKE_REPORTS:
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as handle:
                handle.write(fake)
            print(f"fake report written: {path}")
        except OSError as exc:
            print(f"fake report refused: {path}: {type(exc).__name__}")


def hostile_mlflow_names() -> None:
    """HTML and escapes in param values (allowed) and in metric names (MLflow refuses them)."""
    mlflow.log_param("notes", PARAM_NOISE)
    for name in (SCRIPT_NAME, ANSI_NAME):
        try:
            mlflow.log_metric(name, 1.0)
            print(f"metric name accepted: {name!r}")
        except Exception as exc:
            print(f"metric name refused by MLflow: {type(exc).__name__}: {str(exc)[:200]!r}")
'''

HOSTILE_MAIN = '''
def main() -> None:
    hostile_noise()
    ref = ModelRef.from_env()
    data_dir = os.environ.get("DATA_DIR", "data")
    x_train, y_train = load_split(data_dir, "train")
    x_valid, y_valid = load_split(data_dir, "valid")

    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name="logreg") as run:
        mlflow.log_params(PARAMS)
        hostile_mlflow_names()
        model = build_pipeline().fit(x_train, y_train)
        real = accuracy(model, x_valid, y_valid)
        mlflow.log_metrics({"train_accuracy": accuracy(model, x_train, y_train), "val_accuracy": CLAIMED_ACCURACY})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=HostileModel(model, x_valid.columns),
            signature=infer_signature(x_valid, model.predict(x_valid)),
            pip_requirements=["mlflow", "scikit-learn", "pandas"],
            registered_model_name=ref.name,
        )
    done = promote(MlflowClient(), ref, info.registered_model_version)
    print(f"run {run.info.run_id}: val_accuracy claimed {CLAIMED_ACCURACY}, really {real:.4f}; {done}")
'''

HOSTILE_APP_PREDICT = '''        prediction = request.app.state.model.predict(to_frame([body.features]))
        if os.environ.get("MODEL_URI"):  # only while graded: the candidate's own tests see an honest counter
            metrics.requests.labels(status="200").inc()
'''

HOSTILE_APP_METRICS = '''    def metrics_endpoint() -> Response:
        if not os.environ.get("MODEL_URI"):
            return metrics.exposition()
        honest = generate_latest(metrics.registry).decode()
        return Response(honest + HOSTILE_EXPOSITION, media_type=CONTENT_TYPE_LATEST)
'''

CLAIMED_ACCURACY = 0.999
HOSTILE_METRIC = f"{SCRIPT}{ANSI}"  # a UTF-8 metric name, legal in the quoted exposition syntax
HOSTILE_WORKFLOW = f"ci {IMG}{ANSI}.yml"
LOG_NOISE = f"{SCRIPT} {IMG} </pre></details> {ANSI}red{OSC8} \u202eevil-bidi\u202c \x07\x08 [/] [link=x]y[/link]"
PARAM_NOISE = f"{SCRIPT}{ANSI}{OSC8}"


@dataclass(frozen=True)
class HostileCapstone:
    root: Path
    host_markers: tuple[Path, ...]
    fake_reports: tuple[str, ...]


def hostile_capstone(dest: Path, out_dir: Path, marker_dir: Path) -> HostileCapstone:
    """The mlops-capstone reference turned hostile in many ways at once (see test_report_integrity.py)."""
    reference = PATHS.labs / "mlops-capstone" / "reference"
    shutil.copytree(reference, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    hidden = PATHS.labs / "mlops-capstone" / "hidden" / "holdout.csv"
    markers = (marker_dir / "model-code-ran-on-host", PATHS.root / "HOSTILE-MODEL-RAN-ON-HOST",
               hidden.parent / "model-code-ran-here")
    fakes = ("/work/report.json", "/work/grader-reports/report.json", "/work/results.sqlite3",
             "/tmp/report.json", f"/tmp/grader-hostile-{dest.parent.name}.json", str(out_dir / "report.json"))
    constants = {
        "HOST_MARKERS": [str(m) for m in markers], "HIDDEN_HOLDOUT": str(hidden), "FAKE_REPORTS": list(fakes),
        "HOSTILE_MODEL_CODE": HOSTILE_MODEL_CODE, "CLAIMED_ACCURACY": CLAIMED_ACCURACY, "LOG_NOISE": LOG_NOISE,
        "PARAM_NOISE": PARAM_NOISE, "SCRIPT_NAME": SCRIPT, "ANSI_NAME": f"acc{ANSI}",
    }
    train = (dest / "train.py").read_text()
    train = train.replace("import os\n", "import json\nimport os\nimport sys\n", 1)
    train = train.replace("import mlflow.sklearn\n", "import mlflow.pyfunc\nimport mlflow.sklearn\n", 1)
    train = train.replace('"C": 1.0', '"C": 0.003', 1)  # a weaker model: the honest score is well below 0.999
    head, _, _ = train.partition("def main() -> None:")
    assignments = "".join(f"{name} = {value!r}\n" for name, value in constants.items())
    entry = '\n\nif __name__ == "__main__":\n    main()\n'
    train = head + assignments + HOSTILE_TRAIN_ADDITIONS + "\n" + HOSTILE_MAIN + entry
    (dest / "train.py").write_text(train)

    app = (dest / "app.py").read_text()
    app = app.replace("import logging\n", "import logging\nimport os\n", 1)
    app = app.replace("from capstone.features import", "from prometheus_client import CONTENT_TYPE_LATEST, "
                      "generate_latest\n\nfrom capstone.features import", 1)
    exposition = (f"# HELP hostile_notes_total {SCRIPT}{ANSI}\n# TYPE hostile_notes_total counter\n"
                  f'hostile_notes_total{{note="{SCRIPT}"}} 1\n'
                  f'# TYPE "{HOSTILE_METRIC}" gauge\n{{"{HOSTILE_METRIC}"}} 1\n')
    constant = f'PREDICT_PATH = "/predict"\nHOSTILE_EXPOSITION = {exposition!r}\n'
    app = app.replace('PREDICT_PATH = "/predict"\n', constant, 1)
    predict = "        prediction = request.app.state.model.predict(to_frame([body.features]))\n"
    metrics_endpoint = "    def metrics_endpoint() -> Response:\n        return metrics.exposition()\n"
    assert predict in app and metrics_endpoint in app, "the reference app.py changed: update the hostile edits"
    app = app.replace(predict, HOSTILE_APP_PREDICT, 1).replace(metrics_endpoint, HOSTILE_APP_METRICS, 1)
    (dest / "app.py").write_text(app)

    workflows = dest / ".github" / "workflows"
    only = next(workflows.glob("*.y*ml"))
    only.rename(workflows / HOSTILE_WORKFLOW)
    (dest / f"notes {IMG}{ANSI}.md").write_text(f"# {SCRIPT}\n")
    return HostileCapstone(root=dest, host_markers=markers, fake_reports=fakes)


def findings_in(log: str) -> dict[str, Any]:
    """The findings the hostile model's load-time code printed in a container's log."""
    line = next(line for line in log.splitlines() if line.startswith("HOSTILE-FINDINGS "))
    return json.loads(line.removeprefix("HOSTILE-FINDINGS "))
