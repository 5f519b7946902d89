"""A service that dies at start-up is noticed when it exits, not when its readiness deadline runs out."""

from __future__ import annotations

import time

from grader.sandbox.base import RunSpec

DEADLINE_S = 120


def test_a_service_that_exits_after_a_second_is_reported_long_before_its_deadline(sandbox_factory):
    sandbox = sandbox_factory()
    spec = RunSpec(name="api", command="sleep 1; echo 'registered model not found' >&2; exit 1",
                   image=sandbox.image, limits=sandbox.limits, network=True)
    started = time.monotonic()
    result = sandbox.start_service(spec, port=9000, ready_timeout=DEADLINE_S)
    waited = time.monotonic() - started

    assert (result.ready, result.message) == (False, "exited before listening on port 9000")
    assert "registered model not found" in result.log_tail
    # The probe stopped when the service's name went away: nowhere near the deadline (a behaviour, not a speed).
    assert waited < DEADLINE_S / 4


def test_a_slow_service_is_still_waited_for(sandbox_factory):
    sandbox = sandbox_factory()
    spec = RunSpec(name="api", command="sleep 7; python3 -m http.server --bind 0.0.0.0 9000",
                   image=sandbox.image, limits=sandbox.limits, network=True)
    result = sandbox.start_service(spec, port=9000, ready_timeout=60)

    assert result.ready, result.message
    assert result.ready_after_s is not None and result.ready_after_s >= 6
