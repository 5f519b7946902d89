"""Check types and labs from other packages, through the `capstone_grader.checks` and `capstone_grader.labs`
entry-point groups: found once importable (the registries follow sys.path), named by distribution and
version, and refused with a message naming the plug-in when broken. The distributions here are real
`.dist-info` folders on sys.path, as pip would leave them; tests/integration/test_authoring.py installs
the example plug-in with pip."""

from __future__ import annotations

import json
import shutil
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.checks import all_check_types, check_type_origins, rubric_evidence_request
from grader.cli import main
from grader.errors import BadInputError
from grader.evidence.request import EvidenceRequest
from grader.labs.loading import lab_directory, lab_origins, list_lab_ids, load_lab
from grader.labs.plugins import plugin_labs
from grader.labs.provenance import plugin_check_types
from grader.models import Status
from grader.paths import project_paths
from grader.probe.labels import COUNTER_WINDOW, LOAD, MALFORMED, PARITY
from tests.unit.check_contract import ScriptedProbe, make_context, make_facts, run_check

PATHS = project_paths()
EXAMPLE_LAB = (PATHS.root / "examples" / "plugin-example" / "grader_example_plugin" / "labs" / "example-changelog")

CHECK_MODULE = '''\
"""``{name}``: a test plug-in check type that always passes."""
from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.models import CheckOutcome


class Params(CheckParams):
    path: str = "README.md"


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    return CheckOutcome.passed("ok")


CHECK = CheckType(name="{name}", params=Params, evaluate=evaluate, summary=__doc__)
'''


def install(site: Path, dist: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]) -> None:
    """A distribution as pip installs it: modules, plus a dist-info folder with its entry points."""
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = []
    for group, entries in entry_points.items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in entries.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    for module, text in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(text))


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """A folder put on sys.path for one test (prepended; undone after it)."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_a_check_type_plugin_is_found_once_importable_and_named_by_its_distribution(tmp_path, monkeypatch):
    module, type_name = unique("plugin_checks"), unique("always").replace("_", "-")
    assert type_name not in all_check_types()  # the registry is filled (and cached) before the plug-in exists
    folder = tmp_path / "site"
    folder.mkdir()
    install(folder, "fake-checks", {"capstone_grader.checks": {type_name: f"{module}:CHECK"}},
            {module: CHECK_MODULE.format(name=type_name)})
    monkeypatch.syspath_prepend(str(folder))
    assert all_check_types()[type_name].name == type_name
    assert check_type_origins()[type_name] == "fake-checks 1.2.3"
    assert check_type_origins()["file"] == "built-in"


def test_a_lab_plugin_offers_its_labs_by_id_and_the_home_labs_win(site):
    labs = site / unique("labs")
    shutil.copytree(EXAMPLE_LAB, labs / "example-changelog")
    shutil.copytree(EXAMPLE_LAB, labs / "train-and-test")  # the same id as a lab of the home
    module = unique("plugin_labs")
    install(site, "fake-labs", {"capstone_grader.labs": {"course": f"{module}:LABS"}},
            {module: f"LABS = {str(labs)!r}\n"})
    assert plugin_labs()["example-changelog"].directory == (labs / "example-changelog").resolve()
    assert lab_origins(PATHS)["example-changelog"] == "fake-labs 1.2.3"
    assert lab_origins(PATHS)["train-and-test"] == "labs/"
    assert lab_directory("train-and-test", PATHS) == PATHS.labs / "train-and-test"
    assert "example-changelog" in list_lab_ids(PATHS)


def test_a_lab_plugin_may_name_one_lab_folder_through_a_function(site, capsys):
    lab = site / unique("one") / "example-changelog"
    shutil.copytree(EXAMPLE_LAB, lab)
    module = unique("plugin_one_lab")
    install(site, "fake-one-lab", {"capstone_grader.labs": {"one": f"{module}:lab_folder"}},
            {module: f"from pathlib import Path\n\ndef lab_folder():\n    return Path({str(lab)!r})\n"})
    assert main(["lab", "show", "example-changelog"]) == 2  # its line-count check type is not installed here
    assert "unknown check type 'line-count'" in " ".join(capsys.readouterr().err.split())
    assert plugin_labs()["example-changelog"].provider == "fake-one-lab 1.2.3"


@pytest.mark.parametrize(("target", "message"), [
    ("'/nonexistent/labs'", "names /nonexistent/labs, which is no lab folder and holds none"),
    ("42", "must name a folder (str or Path), not int"),
    ("1 / 0", "failed to load: division by zero"),
], ids=["missing-folder", "not-a-path", "import-error"])
def test_a_broken_lab_plugin_is_refused_naming_it(site, capsys, target, message):
    module = unique("broken_labs")
    install(site, "fake-broken", {"capstone_grader.labs": {"broken": f"{module}:LABS"}}, {module: f"LABS = {target}\n"})
    with pytest.raises(BadInputError, match="lab plug-in 'broken'") as raised:
        plugin_labs()
    assert message in str(raised.value) and "fake-broken 1.2.3" in str(raised.value)
    assert main(["lab", "list"]) == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_two_plugins_offering_one_lab_id_are_refused(site):
    for dist in ("fake-first", "fake-second"):
        labs = site / unique("labs")
        shutil.copytree(EXAMPLE_LAB, labs / "example-changelog")
        module = unique("labs_of")
        install(site, dist, {"capstone_grader.labs": {dist: f"{module}:LABS"}}, {module: f"LABS = {str(labs)!r}\n"})
    clash = r"offers lab 'example-changelog', which fake-(first|second) 1\.2\.3 offers"
    with pytest.raises(BadInputError, match=clash):
        plugin_labs()


def test_a_check_plugin_that_is_not_a_check_type_is_refused(site, capsys):
    module = unique("not_a_check")
    install(site, "fake-wrong", {"capstone_grader.checks": {"wrong": f"{module}:CHECK"}}, {module: "CHECK = 'no'\n"})
    assert main(["checks"]) == 2
    assert "is not a grader.checks.base.CheckType" in " ".join(capsys.readouterr().err.split())


def test_reports_name_the_plugin_check_types_a_rubric_uses(site):
    module = unique("line_count_plugin")
    install(site, "fake-line-count", {"capstone_grader.checks": {"line-count": f"{module}:CHECK"}},
            {module: (EXAMPLE_LAB.parents[2] / "grader_example_plugin" / "line_count.py").read_text()})
    lab = load_lab(str(EXAMPLE_LAB), PATHS)
    assert plugin_check_types(lab) == {"line-count": "fake-line-count 1.2.3"}
    assert plugin_check_types(load_lab("train-and-test", PATHS)) == {}


def lab_using(check: str, tmp_path: Path) -> Path:
    """The mlops-capstone lab (its task, services and hidden data) graded by a one-check rubric."""
    lab = tmp_path / "lab"
    source = PATHS.labs / "mlops-capstone"
    for part in ("data", "hidden"):
        shutil.copytree(source / part, lab / part)
    text = (source / "lab.yaml").read_text().replace("rubric: mlops-capstone", "rubric: rubric.yaml")
    (lab / "lab.yaml").write_text(text)
    (lab / "rubric.yaml").write_text(textwrap.dedent(f"""\
        id: plugin-evidence
        version: "1.0"
        title: A rubric with a plug-in check type that needs the model server's answers
        sections:
          - id: serving
            title: Serving
            checks:
              - {check}
        """))
    return lab


def served_answers(labels: list[str]) -> Callable[..., list[dict[str, Any]]]:
    """A probe whose model server answers each prediction request with the next of ``labels``."""
    def run_probe(script: str, plan: dict[str, Any] | None, arguments: list[str], files: Path | None) -> list[dict]:
        assert script == "agent" and plan is not None
        answers: dict[str, Any] = {}
        for action in plan["actions"]:
            if action["do"] == "predict":
                answers[action["label"]] = {"responses": [
                    {"status": 200, "body": json.dumps({"prediction": labels[i % len(labels)]})}
                    for i in range(len(action["bodies"]))]}
            else:
                answers[action["label"]] = {"status": 200, "body": ""}
        return [answers]

    return run_probe


@pytest.mark.parametrize(("answers", "status", "fragment"), [
    (["none", "bearing", 2], Status.passed, "77/77 answers are labels of the task"),
    (["none", "unknown-fault"], Status.failed, "38/77 answers are not one of"),
])
def test_a_plugin_check_type_gets_the_served_answers_its_plan_asks_for(site, tmp_path, answers, status, fragment):
    module = unique("answers_plugin")
    install(site, "fake-answers", {"capstone_grader.checks": {"answers-are-labels": f"{module}:CHECK"}},
            {module: (EXAMPLE_LAB.parents[2] / "grader_example_plugin" / "answers_are_labels.py").read_text()})
    check = "{id: labels, title: Answers are labels, type: answers-are-labels, points: 1, rows: 77}"
    lab = load_lab(str(lab_using(check, tmp_path)), PATHS)
    request = rubric_evidence_request(lab)
    assert request == EvidenceRequest(parity_rows=77)  # the plan, merged: nothing else is collected

    probe = ScriptedProbe(served_answers(answers))
    facts = make_facts(tmp_path, lab, probe)
    outcome = run_check("answers-are-labels", lab.rubric.params["labels"].model_dump(),
                        make_context(tmp_path, facts=facts, manifest=facts.manifest))

    sent = [label for script, labels in probe.calls for label in labels]
    assert PARITY in sent and COUNTER_WINDOW not in sent and MALFORMED not in sent and LOAD not in sent
    assert outcome.status == status, outcome.message
    assert fragment in outcome.message
    assert outcome.evidence["answers"] == 77
