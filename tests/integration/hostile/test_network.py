"""Hostile corpus, network: steps of ``sandbox-breaker`` try to leave the run's network — by name, by HTTP,
by raw IP, to the host through the gateways and its own addresses, to another run — and servers bind
where the grader cannot reach them. Canaries the test started record who reached them (conftest.py)."""

from __future__ import annotations

import re

import pytest

from grader.models import Status

NETWORK_CASES = [
    ("egress-dns", Status.passed, "step 'egress-dns' exited with code 0"),
    ("egress-http", Status.passed, "step 'egress-http' exited with code 0"),
    ("egress-ip", Status.passed, "step 'egress-ip' exited with code 0"),
    ("run-gateway", Status.passed, "step 'run-gateway' exited with code 0"),
    ("docker0-gateway", Status.passed, "step 'docker0-gateway' exited with code 0"),
    ("host-address", Status.passed, "step 'host-address' exited with code 0"),
    ("other-run", Status.passed, "step 'other-run' exited with code 0"),
    ("no-network", Status.passed, "step 'no-network' exited with code 0"),
    ("wrong-port", Status.failed, "wrong-port: not listening on port 9000 within 3s"),
    ("loopback-only", Status.failed, "loopback-only: not listening on port 9000 within 3s"),
]


@pytest.mark.parametrize(("check_id", "status", "message"), NETWORK_CASES, ids=[c[0] for c in NETWORK_CASES])
def test_network_attack_gets_its_exact_outcome(sandbox_breaker, check_id, status, message):
    check = sandbox_breaker.check(check_id)
    assert (check.status, check.message) == (status, message), check.evidence


def test_no_canary_was_reached_during_grading(sandbox_breaker):
    assert sandbox_breaker.reached == {"host": [], "container": [], "other-run": []}


def _attempts(sandbox_breaker, step_id: str) -> list[str]:
    return [line for line in sandbox_breaker.step(step_id).stdout.splitlines() if not line.startswith("interfaces")]


def _targets(sandbox_breaker, step_id: str) -> list[str]:
    t = sandbox_breaker.targets
    canary, host_port = t["canary_container"], t["host_canary_port"]
    hosts = [f"{address}:{host_port}" for address in t["host_addresses"]]
    return {
        "egress-dns": ["example.com", "exfiltrate-the-holdout.example.com", canary["name"]],
        "egress-http": [f"http://{canary['name']}:{canary['port']}/", "http://example.com/"],
        "egress-ip": [f"{canary['ip']}:{canary['port']}"],
        "docker0-gateway": [f"{t['docker0_gateway']}:{host_port}"],
        "host-address": hosts,
        "other-run": [f"{t['other_run']['ip']}:{t['other_run']['port']}"],
        "no-network": [f"{canary['ip']}:{canary['port']}", f"{t['docker0_gateway']}:{host_port}", *hosts],
    }[step_id]


@pytest.mark.parametrize("step_id", ["egress-dns", "egress-http", "egress-ip", "docker0-gateway", "host-address",
                                     "other-run", "no-network"])
def test_every_escape_attempt_was_blocked(sandbox_breaker, step_id):
    attempts = _attempts(sandbox_breaker, step_id)
    targets = [line.split(" ")[1].rstrip(":") for line in attempts]
    assert targets == _targets(sandbox_breaker, step_id)
    assert all(re.search(r": blocked \(\w+", line) for line in attempts), attempts


def test_the_host_is_not_reachable_through_the_run_networks_own_gateway(sandbox_breaker):
    port = sandbox_breaker.targets["host_canary_port"]
    [attempt] = _attempts(sandbox_breaker, "run-gateway")
    assert re.fullmatch(rf"run-gateway (\d+\.){{3}}1:{port}: blocked \(\w+.*", attempt), attempt
    assert not sandbox_breaker.reached["host"]


def test_a_step_without_network_has_only_loopback(sandbox_breaker):
    assert sandbox_breaker.step("no-network").stdout.splitlines()[0] == "interfaces: lo"
    assert all("Network is unreachable" in line for line in _attempts(sandbox_breaker, "no-network"))


@pytest.mark.parametrize(("service_id", "log"), [
    ("wrong-port", "Serving HTTP on 0.0.0.0 port 9001"),
    ("loopback-only", "Serving HTTP on 127.0.0.1 port 9000"),
])
def test_a_server_the_grader_cannot_reach_is_reported_within_its_deadline_with_its_log(
        sandbox_breaker, service_id, log):
    service = sandbox_breaker.service(service_id)
    assert not service.ready and service.ready_after_s is None
    assert log in sandbox_breaker.check(service_id).evidence["log_tail"]
    # Waited for up to its declared 3 s, not the lab's 10 s step limit or the 300 s default: the whole phase
    # (three services, each with its own readiness probe container) stays far below those.
    assert sandbox_breaker.report.timing["services"] < 60


def test_a_server_on_its_declared_port_is_ready(sandbox_breaker):
    check = sandbox_breaker.check("good-server")
    assert check.status == Status.passed
    assert check.message.startswith("good-server: listening on port 8000 after ")
