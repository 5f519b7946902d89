"""The serving collector: one probe sequence gathers every serving and metrics observation the rubric asks for.

The sequence: scrape the metrics, send exactly ``counter_requests`` valid predictions and nothing else,
scrape again (so the counters' deltas can be compared with what was really sent); then the parity rows,
the malformed requests and one valid request after them, and the load.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from grader.evidence.answers import HttpAnswer, LoadRun, batch
from grader.evidence.request import EvidenceRequest
from grader.evidence.run_data import RunData
from grader.evidence.serving import MalformedRequest, encode_row, malformed_bodies
from grader.probe.labels import (
    AFTER_MALFORMED,
    COUNTER_WINDOW,
    LOAD,
    MALFORMED,
    PARITY,
    SCRAPE_AFTER,
    SCRAPE_BEFORE,
)

_RANDOM = random.SystemRandom()

@dataclass(frozen=True)
class ServingObservation:
    """What the model server answered to the grader's traffic, and what its metrics said around it."""

    predict_url: str
    metrics_url: str
    bodies: tuple[Any, ...]  # the request bodies of the parity rows, in order
    scrape_before: HttpAnswer
    scrape_after: HttpAnswer  # after the counter window: the server has seen the grader's own traffic
    counter_window: tuple[HttpAnswer, ...] = ()
    parity: tuple[HttpAnswer, ...] = ()
    malformed_sent: tuple[MalformedRequest, ...] = ()
    malformed: tuple[HttpAnswer, ...] = ()
    after_malformed: tuple[HttpAnswer, ...] = ()
    load: LoadRun | None = None


def counter_window_size(requested: int, rng: random.Random) -> int:
    """How many requests the counter window holds this run: more than ``requested``, up to half as many more,
    drawn per run, so a counter that adds a fixed amount per scrape cannot match what was sent (the checks
    compare with the number actually sent, which the evidence records)."""
    return rng.randint(requested + 1, requested + requested // 2 + 3)


def probe_actions(request: EvidenceRequest, predict_url: str, metrics_url: str, bodies: list[Any],
                  malformed: list[MalformedRequest], rng: random.Random | None = None) -> list[dict[str, Any]]:
    """The probe's sequence for ``request``. The counter window holds a varied number (at least
    ``counter_requests``) of valid predictions and nothing else."""
    actions: list[dict[str, Any]] = [{"label": SCRAPE_BEFORE, "do": "get", "url": metrics_url}]
    if request.counter_requests:
        size = counter_window_size(request.counter_requests, rng or _RANDOM)
        window = [bodies[i % len(bodies)] for i in range(size)]
        actions.append({"label": COUNTER_WINDOW, "do": "predict", "url": predict_url, "bodies": window})
    actions.append({"label": SCRAPE_AFTER, "do": "get", "url": metrics_url})
    if request.parity_rows:
        actions.append({"label": PARITY, "do": "predict", "url": predict_url, "bodies": bodies[: request.parity_rows]})
    if request.malformed:
        actions.append({"label": MALFORMED, "do": "raw", "url": predict_url,
                        "requests": [{"body": m.body, "content_type": m.content_type} for m in malformed]})
        actions.append({"label": AFTER_MALFORMED, "do": "predict", "url": predict_url, "bodies": bodies[:1]})
    if request.load_requests:
        actions.append({"label": LOAD, "do": "load", "url": predict_url, "bodies": bodies,
                        "requests": request.load_requests, "concurrency": request.load_concurrency})
    return actions


def observe_serving(data: RunData, request: EvidenceRequest) -> ServingObservation:
    """Run the serving sequence against the candidate's server and type what came back."""
    serve = data.manifest.serve
    features = data.task.features
    rows = data.feature_rows(data.first_hidden)
    bodies = [encode_row(serve.request_format, features, row) for row in rows]
    malformed = malformed_bodies(serve.request_format, features, rows[0])
    predict_url, metrics_url = data.predict_url(), data.metrics_url()
    actions = probe_actions(request, predict_url, metrics_url, bodies, malformed)
    answers = data.run_probe("agent", {"actions": actions, "timeout": 10}, [], None)[-1]
    return ServingObservation(
        predict_url=predict_url, metrics_url=metrics_url, bodies=tuple(bodies),
        scrape_before=HttpAnswer.from_probe(answers.get(SCRAPE_BEFORE)),
        scrape_after=HttpAnswer.from_probe(answers.get(SCRAPE_AFTER)),
        counter_window=batch(answers.get(COUNTER_WINDOW)), parity=batch(answers.get(PARITY)),
        malformed_sent=tuple(malformed), malformed=batch(answers.get(MALFORMED)),
        after_malformed=batch(answers.get(AFTER_MALFORMED)),
        load=LoadRun.from_probe(answers[LOAD]) if LOAD in answers else None,
    )
