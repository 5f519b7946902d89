"""Pure logic of faults and runtimes: which runtime a run gets, how an engine failure is classified, and how a
run that failed on the grader's side still gives every check a result (never ``fail``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests.exceptions
import urllib3.exceptions
from docker.errors import APIError
from pydantic import ValidationError

from grader.errors import BadInputError, EngineLostError, InfrastructureError, RuntimeUnavailableError
from grader.models import CheckResult, Lab, Limits, Rubric, SandboxPolicy, Status, StepResult
from grader.run.attempts import results_in_rubric_order
from grader.run.state import QuietObserver, RunState
from grader.sandbox.base import RunSpec
from grader.sandbox.docker.containers import container_options
from grader.sandbox.docker.health import engine_failure, engine_lost, read_timed_out
from grader.sandbox.runtimes import choose_runtime

OFFERED_WITHOUT_GVISOR = {"runc", "io.containerd.runc.v2"}
OFFERED_WITH_GVISOR = {"runc", "runsc"}


# --- which runtime -------------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "policy", "offered", "expected"), [
    (None, SandboxPolicy(), OFFERED_WITHOUT_GVISOR, "runc"),
    (None, SandboxPolicy(runtime="runsc"), OFFERED_WITH_GVISOR, "runsc"),
    (None, SandboxPolicy(runtime="runsc"), OFFERED_WITHOUT_GVISOR, "runc"),  # preferred only: falls back
    (None, SandboxPolicy(runtime="runsc", require=True), OFFERED_WITH_GVISOR, "runsc"),
    ("runsc", SandboxPolicy(), OFFERED_WITH_GVISOR, "runsc"),
    ("runc", SandboxPolicy(runtime="runsc"), OFFERED_WITH_GVISOR, "runc"),  # the operator overrides a preference
])
def test_runtime_is_the_operators_else_the_labs_else_the_default(requested, policy, offered, expected):
    assert choose_runtime(requested, policy, offered, "runc") == expected


def test_required_runtime_the_engine_lacks_is_refused_naming_what_it_offers():
    with pytest.raises(RuntimeUnavailableError) as refusal:
        choose_runtime(None, SandboxPolicy(runtime="runsc", require=True), OFFERED_WITHOUT_GVISOR, "runc")
    assert str(refusal.value).startswith(
        "refusing to grade: this lab requires the gVisor (runsc) runtime, which this Docker engine does not offer "
        "(it offers: io.containerd.runc.v2, runc)")
    assert refusal.value.exit_code == 3


def test_runtime_the_operator_asks_for_but_the_engine_lacks_is_refused():
    with pytest.raises(RuntimeUnavailableError, match=r"--runtime \(or GRADER_RUNTIME\) asks for the gVisor"):
        choose_runtime("runsc", SandboxPolicy(), OFFERED_WITHOUT_GVISOR, "runc")


def test_operator_cannot_override_a_labs_requirement():
    with pytest.raises(BadInputError, match=r"requires the gVisor .* the requested runtime 'runc'") as refusal:
        choose_runtime("runc", SandboxPolicy(runtime="runsc", require=True), OFFERED_WITH_GVISOR, "runc")
    assert refusal.value.exit_code == 2


def test_lab_fields_for_runtime_and_retries_are_validated():
    with pytest.raises(ValidationError, match="require: true needs a runtime"):
        SandboxPolicy(require=True)
    with pytest.raises(ValidationError, match="runtime"):
        SandboxPolicy(runtime="run sc; rm -rf /")
    with pytest.raises(ValidationError, match="retry_on_infrastructure_error"):
        Lab(id="l", title="t", rubric="r", retry_on_infrastructure_error=4)
    lab = Lab(id="l", title="t", rubric="r", sandbox={"runtime": "runsc"}, retry_on_infrastructure_error=1)
    assert (lab.sandbox.runtime, lab.sandbox.require, lab.retry_on_infrastructure_error) == ("runsc", False, 1)
    assert Lab(id="l", title="t", rubric="r").retry_on_infrastructure_error == 0


def test_chosen_runtime_is_passed_to_the_engine_and_absent_otherwise():
    spec = RunSpec(name="train", command="true", image="img:1", limits=Limits())
    chosen = container_options(spec, name="c", labels={}, network=None, volume=None, runtime="runsc")
    assert chosen["runtime"] == "runsc"
    assert "runtime" not in container_options(spec, name="c", labels={}, network=None, volume=None)


# --- engine failures -------------------------------------------------------------------------------


def test_engine_that_stopped_answering_is_told_apart_from_one_that_answered_with_an_error():
    refused = requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
    cut = requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")
    assert engine_lost(refused) and engine_lost(cut)
    assert not engine_lost(APIError("409 Conflict"))
    assert isinstance(engine_failure("cannot create container x", refused), EngineLostError)
    answered = engine_failure("cannot create container x", APIError("500 Server Error"))
    assert type(answered) is InfrastructureError and str(answered) == "cannot create container x: 500 Server Error"
    assert "cannot create container x: the Docker engine stopped answering" in str(
        engine_failure("cannot create container x", refused))


def test_only_a_read_timeout_counts_as_a_steps_time_limit():
    # docker-py over a unix socket reports a read timeout as a ConnectionError wrapping urllib3's error.
    wrapped = requests.exceptions.ConnectionError(urllib3.exceptions.ReadTimeoutError(None, "/wait", "Read timed out."))
    assert read_timed_out(wrapped) and read_timed_out(requests.exceptions.ReadTimeout())
    aborted = requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted."))
    assert not read_timed_out(aborted)


# --- a run that failed on the grader's side ----------------------------------------------------------


RUBRIC = Rubric.model_validate({"id": "r", "title": "r", "sections": [
    {"id": "a", "title": "A", "checks": [{"id": "one", "title": "One", "type": "file", "points": 2},
                                         {"id": "two", "title": "Two", "type": "file", "points": 3, "needs": ["one"]}]},
    {"id": "b", "title": "B", "checks": [{"id": "three", "title": "Three", "type": "command", "points": 5}]},
]})


def test_checks_not_evaluated_get_error_with_the_reason_in_rubric_order_and_evaluated_ones_stay():
    one = CheckResult(id="one", title="One", section="a", type="file", status=Status.passed, points=2, max_points=2,
                      message="found")
    checks = results_in_rubric_order(RUBRIC, {"one": one},
                                     "cannot start x: the Docker engine stopped answering (reset)")
    assert [(c.id, c.status, c.points, c.max_points) for c in checks] == [
        ("one", Status.passed, 2, 2), ("two", Status.error, 0, 3), ("three", Status.error, 0, 5)]
    assert checks[2].section == "b" and checks[2].message == (
        "not evaluated: the run ended in error on the grader's side, not the submission's fault "
        "(cannot start x: the Docker engine stopped answering (reset))")


def test_a_retry_starts_clean_and_every_try_is_recorded(tmp_path: Path):
    run = RunState(run_id="r", lab=None, backend="fake", observer=QuietObserver(),  # type: ignore[arg-type]
                   clock=lambda: 0.0, scratch=tmp_path, started_at="2026-01-01T00:00:00+00:00",
                   timing={"intake": 0.1, "steps": 3.0}, manifest_file={"path": "capstone.yaml", "error": None})
    run.steps["train"] = StepResult(id="train", command="train", exit_code=0, duration_s=3.0)
    run.error = "engine gone"
    run.record_attempt(1, 4.25)
    retry = run.next_attempt(2)
    assert retry is not run and [a.number for a in run.attempts] == [1]  # the failed try's state is left as it was
    assert (retry.error, retry.checks, retry.steps, retry.timing) == (None, {}, {}, {"intake": 0.1})
    assert (retry.run_id, retry.started_at, retry.manifest_file) == (run.run_id, run.started_at, run.manifest_file)
    assert retry.scratch == tmp_path / "attempt-2" and retry.scratch.is_dir()
    retry.record_attempt(2, 1.5)
    assert [(a.number, a.outcome, a.error, a.duration_s) for a in retry.attempts] == [
        (1, "error", "engine gone", 4.25), (2, "graded", None, 1.5)]
