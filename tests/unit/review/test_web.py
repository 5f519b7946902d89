"""The workspace's HTTP layer through Flask's test client: sign-in, CSRF, headers, refusals shown as
messages, hostile text escaped. What a reviewer does in a real browser is in
tests/integration/test_review_workspace.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from grader.models import StepResult, SubmissionInfo
from grader.results.store import ResultStore
from grader.review.web import create_app
from grader.review.web.access import CONTENT_SECURITY_POLICY, ServeRefused, ServeSettings

from .conftest import sample_report

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> \x1b[31mred\x1b[0m \u202eevil\u202c"
TOKEN = "s3cret-token-0123456789"


def _store(db_path: Path) -> None:
    submission = SubmissionInfo(source=f"/subs/alice{HOSTILE}", kind="directory", digest="sha256:00", files=3,
                                bytes=10)
    step = StepResult(id="train", command="python train.py", exit_code=1, duration_s=1.0,
                      stdout=f"epoch 1 {HOSTILE}", stderr="Traceback\nValueError: bad")
    report = sample_report(submission=submission, steps=(step,), error=None)
    hostile_check = report.checks[0].model_copy(update={"message": f"README says {HOSTILE}",
                                                        "evidence": {"excerpt": HOSTILE}})
    with ResultStore(db_path) as store:
        store.save(report.model_copy(update={"checks": (hostile_check, *report.checks[1:])}))


@pytest.fixture
def client(db_path: Path) -> Iterator[FlaskClient]:
    _store(db_path)
    app = create_app(ServeSettings(db_path=db_path))
    with app.test_client() as client:
        yield client


def _csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _sign_in(client: FlaskClient, name: str = "Ada", **extra: str) -> None:
    answer = client.post("/login", data={"name": name, "csrf_token": _csrf(client, "/login"), **extra})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def test_every_page_needs_a_reviewer_name_first(client: FlaskClient) -> None:
    answer = client.get("/runs/run-1")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=/runs/run-1")


def test_pages_carry_a_strict_content_security_policy_and_no_inline_script(client: FlaskClient) -> None:
    _sign_in(client)
    answer = client.get("/runs/run-1")
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "script-src 'self'" in CONTENT_SECURITY_POLICY
    page = answer.get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/review.js" defer>']
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [t for t in tags if re.search(r"\s(style|on\w+)=", t)] and "<style" not in page


def test_hostile_text_from_a_submission_is_escaped_and_stripped(client: FlaskClient) -> None:
    _sign_in(client)
    for path in ("/", "/runs/run-1", "/rates"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "\x1b" not in page and "[31m" not in page and "\u202e" not in page, path
    page = client.get("/runs/run-1").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "evil" in page


def test_a_post_without_the_session_csrf_token_is_refused(client: FlaskClient) -> None:
    _sign_in(client)
    answer = client.post("/runs/run-1/checks/problem/score", data={"points": "1", "csrf_token": "forged"})
    assert answer.status_code == 400 and "reload the page" in answer.get_data(as_text=True)
    assert client.get("/runs/run-1/review.json").get_json()["audit"] == []


def test_changing_state_needs_a_post(client: FlaskClient) -> None:
    _sign_in(client)
    assert client.get("/runs/run-1/release").status_code == 405


def test_points_out_of_bounds_are_refused_with_a_message_on_the_page(client: FlaskClient) -> None:
    _sign_in(client)
    token = _csrf(client, "/runs/run-1")
    answer = client.post("/runs/run-1/checks/problem/score", data={"points": "5", "csrf_token": token},
                         follow_redirects=True)
    assert "problem: points must be between 0 and 2, not 5" in answer.get_data(as_text=True)
    assert client.get("/runs/run-1/review.json").get_json()["audit"] == []


def test_score_override_and_release_are_recorded_under_the_reviewers_name(client: FlaskClient) -> None:
    _sign_in(client, "Grace")
    token = _csrf(client, "/runs/run-1")
    client.post("/runs/run-1/checks/problem/score", data={"points": "2", "comment": "ok", "csrf_token": token,
                                                          "seen_entries": "0"})
    client.post("/runs/run-1/checks/tests-pass/override",
                data={"points": "3", "reason": "flaky", "csrf_token": token, "seen_entries": "1"})
    client.post("/runs/run-1/release", data={"csrf_token": token, "seen_entries": "2"})
    review = client.get("/runs/run-1/review.json").get_json()
    assert [(e["action"], e["reviewer"]) for e in review["audit"]] == [("score", "Grace"), ("override", "Grace"),
                                                                       ("release", "Grace")]
    assert review["status"] == "released" and review["reviewed"]["total"] == 10
    assert "## Review" in client.get("/runs/run-1/candidate.md").get_data(as_text=True)


def test_an_unknown_run_is_a_404_naming_it(client: FlaskClient) -> None:
    _sign_in(client)
    answer = client.get("/runs/nope")
    assert answer.status_code == 404 and "no graded run &#39;nope&#39;" in answer.get_data(as_text=True)


def test_sign_in_goes_back_only_to_a_page_of_this_server(client: FlaskClient) -> None:
    answer = client.post("/login", data={"name": "Ada", "next": "//evil.invalid/x",
                                         "csrf_token": _csrf(client, "/login")})
    assert answer.headers["Location"] == "/"


def test_another_host_header_is_refused_on_loopback(client: FlaskClient) -> None:
    assert client.get("/login", headers={"Host": "rebound.invalid"}).status_code == 400


def test_off_loopback_the_server_refuses_to_start_without_a_token(db_path: Path) -> None:
    with pytest.raises(ServeRefused, match="not a loopback address"):
        ServeSettings(db_path=db_path, host="0.0.0.0")
    with pytest.raises(ServeRefused, match="too short"):
        ServeSettings(db_path=db_path, host="0.0.0.0", token="short")


def test_off_loopback_signing_in_needs_the_token(db_path: Path) -> None:
    _store(db_path)
    app = create_app(ServeSettings(db_path=db_path, host="0.0.0.0", token=TOKEN))
    with app.test_client() as client:
        refused = client.post("/login", data={"name": "Ada", "token": "wrong-token-0000000",
                                              "csrf_token": _csrf(client, "/login")})
        assert refused.status_code == 403 and "not the one" in refused.get_data(as_text=True)
        assert client.get("/").status_code == 302
        _sign_in(client, token=TOKEN)
        assert client.get("/").status_code == 200
