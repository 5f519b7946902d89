"""The counter window's size varies per run and is never the documented number, so a counter that adds a fixed
amount per scrape cannot match what was sent; the checks compare with the requests actually sent."""

from __future__ import annotations

import random

from grader.evidence.request import EvidenceRequest
from grader.evidence.serving_observation import counter_window_size, probe_actions
from grader.probe.labels import COUNTER_WINDOW


def test_the_window_is_larger_than_asked_bounded_and_varies():
    rng = random.Random(7)
    sizes = {counter_window_size(20, rng) for _ in range(200)}
    assert min(sizes) > 20 and max(sizes) <= 33 and len(sizes) > 5


def test_the_probe_sends_the_drawn_number_of_requests_in_the_window():
    actions = probe_actions(EvidenceRequest(metrics_scrapes=True, counter_requests=20), "http://s/predict",
                            "http://s/metrics", [{"features": [1]}, {"features": [2]}], [], rng=random.Random(3))
    window = next(a for a in actions if a["label"] == COUNTER_WINDOW)
    assert len(window["bodies"]) == counter_window_size(20, random.Random(3))
    assert [a["label"] for a in actions] == ["scrape-before", COUNTER_WINDOW, "scrape-after"]
