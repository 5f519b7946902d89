"""The client-consistency check: the probe's answers beside a second client's, row by row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from grader.evidence.answers import HttpAnswer
from grader.evidence.serving_observation import ServingObservation
from tests.unit.check_contract import make_context, run_check

URL = "http://model-server:8000/predict"
BODIES = tuple({"features": [i, i + 1]} for i in range(6))


def answer(label: str, status: int = 200) -> HttpAnswer:
    return HttpAnswer(status=status, body=json.dumps({"prediction": label}))


@dataclass
class TwoClients:
    """The probe's parity answers, and what the second client will be answered."""

    probe: list[HttpAnswer]
    other: list[dict[str, Any]]
    plans: list[dict[str, Any]] = field(default_factory=list)

    def serving(self) -> ServingObservation:
        empty = HttpAnswer(status=None)
        return ServingObservation(predict_url=URL, metrics_url="", bodies=BODIES, scrape_before=empty,
                                  scrape_after=empty, parity=tuple(self.probe))

    @property
    def data(self) -> SimpleNamespace:
        def run_probe(script: str, plan: dict[str, Any], arguments: list[str], folder: Any) -> list[dict[str, Any]]:
            assert script == "second_client"
            self.plans.append(plan)
            return [{"responses": self.other}]

        return SimpleNamespace(run_probe=run_probe)


def raw(label: str, status: int = 200) -> dict[str, Any]:
    return {"status": status, "body": json.dumps({"prediction": label})}


def test_the_same_answers_for_both_clients_pass_and_only_the_asked_rows_are_resent(tmp_path):
    facts = TwoClients([answer("ok"), answer("fault"), answer("ok"), answer("ok")], [raw("ok"), raw("fault"),
                                                                                      raw("ok")])
    outcome = run_check("client-consistency", {"requests": 3}, make_context(tmp_path, facts=facts))
    assert outcome.status.value == "pass"
    assert outcome.message == "the same 6 answers for the probe and another client"  # from two containers
    assert facts.plans == [{"url": URL, "bodies": list(BODIES[:3]), "timeout": 10}] * 2


def test_a_server_that_answers_the_probe_differently_fails_with_the_row(tmp_path):
    facts = TwoClients([answer("ok"), answer("fault")], [raw("ok"), raw("ok")])
    outcome = run_check("client-consistency", {"requests": 2}, make_context(tmp_path, facts=facts))
    assert outcome.status.value == "fail"
    assert outcome.message == ("the server answered the grader's probe differently from another client on 2 of 4 "
                               "requests (row 2: the probe got 200 'fault', the other client 200 'ok'): answer "
                               "every client alike")


def test_an_error_for_the_other_client_only_is_a_difference(tmp_path):
    facts = TwoClients([answer("ok")], [{"status": 403, "body": "forbidden"}])
    outcome = run_check("client-consistency", {"requests": 1}, make_context(tmp_path, facts=facts))
    assert outcome.status.value == "fail" and "the other client 403" in outcome.message


def test_nothing_to_compare_is_a_failure_that_says_so(tmp_path):
    outcome = run_check("client-consistency", {}, make_context(tmp_path, facts=TwoClients([], [])))
    assert outcome.message == "the probe sent no prediction request to compare with another client"
