"""Every registered check type through the same steps, as the run drives them: its parameters validate from
the rubrics that use it, its plan is an ``EvidenceRequest``, and evaluated against a run whose services answer
nothing it returns an outcome with a message (or an infrastructure error, which the run reports as ``error``)
— never a crash, and never a look at evidence its plan did not ask for."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.checks import BUILTIN_CHECKS, all_check_types, get_check_type
from grader.checks.base import CheckType
from grader.errors import InfrastructureError
from grader.evidence.request import EvidenceRequest
from grader.labs.loading import LoadedLab, list_lab_ids, load_lab
from grader.models import CheckOutcome, CheckSpec, StepResult
from grader.paths import project_paths
from tests.unit.check_contract import ScriptedProbe, make_context, make_facts

PATHS = project_paths()
LABS = {lab_id: load_lab(lab_id, PATHS) for lab_id in list_lab_ids(PATHS)}


DOC_EXAMPLE_LAB = "mlops-capstone"  # a task and every service: where a type no rubric uses is tried


def docstring_example(check: CheckType) -> dict[str, Any]:
    """The rubric keys of a check type's documented ``Example::`` (its parameters only)."""
    _, _, example = (check.summary or "").partition("Example::")
    entries = yaml.safe_load(textwrap.dedent(example.strip("\n")))
    assert isinstance(entries, list) and entries, f"check type {check.name!r} documents no Example::"
    return {key: value for key, value in entries[0].items() if key not in CheckSpec.model_fields}


def examples() -> list[tuple[str, str, dict[str, Any]]]:
    """(check type, lab, rubric keys) for each distinct use of a check type in the project's rubrics, and the
    documented example of every registered type no rubric uses (e.g. one from an installed plug-in)."""
    found: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}
    for lab_id, lab in LABS.items():
        for check in lab.rubric.rubric.checks:
            params = lab.rubric.params[check.id]
            found.setdefault((check.type, repr(params)), (check.type, lab_id, params.model_dump(exclude_unset=True)))
    used = {check_type for check_type, _ in found}
    for name, check in all_check_types().items():
        if name not in used:
            found[(name, "doc")] = (name, DOC_EXAMPLE_LAB, docstring_example(check))
    return sorted(found.values(), key=lambda e: (e[0], e[1], repr(e[2])))


EXAMPLES = examples()


def silent_run(script: str, plan: dict[str, Any] | None, arguments: list[str], files: Path | None) -> list[dict]:
    """A run whose services answer nothing: refused connections, an unreadable registry, no evaluator lines."""
    if script == "evaluate_model":
        return []
    if script == "register_sentinel":
        return [{"error": "ConnectionRefusedError"}]
    answers: dict[str, Any] = {}
    for action in (plan or {}).get("actions", []):
        refused = {"status": None, "error": "ConnectionRefusedError: [Errno 111]"}
        answers[action["label"]] = {"error": "ConnectionRefusedError"} if action["do"] == "mlflow" else (
            {"responses": [refused] * len(action.get("bodies", action.get("requests", [])))}
            if action["do"] in ("predict", "raw") else refused)
    return [answers]


def reference_files(lab: LoadedLab) -> dict[str, str]:
    """The lab's reference solution as text files (a lab without one: a bare README), so checks get far."""
    root = lab.directory / "reference"
    if not root.is_dir():
        return {"README.md": "# A submission with nothing in it\n"}
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.stat().st_size < 1_000_000:
            try:
                files[path.relative_to(root).as_posix()] = path.read_text()
            except UnicodeDecodeError:
                continue
    return files


def failed_step(name: str, command: str, env: Any = None) -> StepResult:
    return StepResult(id=name, command=command, exit_code=1, duration_s=0.1, stderr="nothing here")


def no_tools(*args: Any) -> StepResult:
    raise InfrastructureError("no tools in the contract run")


def test_every_builtin_check_type_is_used_by_some_rubric():
    assert set(BUILTIN_CHECKS) <= {check.type for lab in LABS.values() for check in lab.rubric.rubric.checks}


def test_every_builtin_check_type_documents_an_example_that_validates():
    for name in BUILTIN_CHECKS:
        check = get_check_type(name)
        check.params.model_validate(docstring_example(check))


@pytest.mark.parametrize(("check_type", "lab_id", "keys"), EXAMPLES,
                         ids=[f"{t}-{lab}-{i}" for i, (t, lab, _) in enumerate(EXAMPLES)])
def test_check_type_contract(tmp_path, check_type, lab_id, keys):
    lab: LoadedLab = LABS[lab_id]
    check = get_check_type(check_type)
    params = check.params.model_validate(keys)

    request = check.evidence_request(params)
    assert isinstance(request, EvidenceRequest)

    probe = ScriptedProbe(silent_run)
    facts = make_facts(tmp_path, lab, probe, request=request) if lab.lab.task is not None else None
    ctx = make_context(tmp_path, reference_files(lab), facts=facts,
                       manifest=facts.manifest if facts else lab.lab.manifest, run_in_sandbox=failed_step,
                       copy_from_sandbox=lambda path, dest: None, run_tool=no_tools)
    try:
        outcome = check.evaluate(params, ctx)
    except InfrastructureError as exc:
        assert str(exc), "an infrastructure error must say what went wrong"
    else:
        assert isinstance(outcome, CheckOutcome)
        assert outcome.message.strip()
    if request == EvidenceRequest():
        assert probe.calls == [], f"{check_type} looked at run evidence its plan did not ask for"


def test_a_plan_must_take_the_params_and_return_an_evidence_request():
    def evaluate(params: Any, ctx: Any) -> CheckOutcome:
        return CheckOutcome.passed("ok")

    file_params = get_check_type("file").params
    with pytest.raises(TypeError, match="plan must take \\(params\\)"):
        CheckType(name="broken", params=file_params, evaluate=evaluate, plan=lambda: EvidenceRequest())
    wrong = CheckType(name="wrong", params=file_params, evaluate=evaluate, plan=lambda params: {"parity_rows": 5})
    with pytest.raises(TypeError, match="plan returned dict, not an EvidenceRequest"):
        wrong.evidence_request(file_params(path="x"))
    assert CheckType(name="none", params=file_params, evaluate=evaluate).evidence_request(
        file_params(path="x")) == EvidenceRequest()
