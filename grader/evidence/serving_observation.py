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
from grader.evidence.request_body import broken_requests
from grader.evidence.run_data import RunData
from grader.evidence.served_task import ServedTask
from grader.evidence.serving import MalformedRequest
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
    bodies: tuple[Any, ...]  # the request bodies of the parity rows as a reader sees them, in order
    scrape_before: HttpAnswer
    scrape_after: HttpAnswer  # after the counter window: the server has seen the grader's own traffic
    counter_window: tuple[HttpAnswer, ...] = ()
    parity: tuple[HttpAnswer, ...] = ()
    malformed_sent: tuple[MalformedRequest, ...] = ()
    malformed: tuple[HttpAnswer, ...] = ()
    after_malformed: tuple[HttpAnswer, ...] = ()
    load: LoadRun | None = None
    no_traffic: str | None = None  # why no prediction was sent (no task to send): checks that need traffic skip


def counter_window_size(requested: int, rng: random.Random) -> int:
    """How many requests the counter window holds this run: more than ``requested``, up to half as many more,
    drawn per run, so a counter that adds a fixed amount per scrape cannot match what was sent (the checks
    compare with the number actually sent, which the evidence records)."""
    return rng.randint(requested + 1, requested + requested // 2 + 3)


def probe_actions(request: EvidenceRequest, predict_url: str, metrics_url: str, bodies: list[Any],
                  malformed: list[MalformedRequest], rng: random.Random | None = None) -> list[dict[str, Any]]:
    """The probe's sequence for ``request``. The counter window holds a varied number (at least
    ``counter_requests``) of valid predictions and nothing else. ``bodies`` are prepared: each one's text and
    content type."""
    actions: list[dict[str, Any]] = [{"label": SCRAPE_BEFORE, "do": "get", "url": metrics_url}]
    if request.counter_requests:
        size = counter_window_size(request.counter_requests, rng or _RANDOM)
        window = [bodies[i % len(bodies)] for i in range(size)]
        actions.append({"label": COUNTER_WINDOW, "do": "predict", "url": predict_url, "bodies": window,
                        "prepared": True})
    actions.append({"label": SCRAPE_AFTER, "do": "get", "url": metrics_url})
    if request.parity_rows:
        actions.append({"label": PARITY, "do": "predict", "url": predict_url, "bodies": bodies[: request.parity_rows],
                        "prepared": True})
    if request.malformed:
        actions.append({"label": MALFORMED, "do": "raw", "url": predict_url,
                        "requests": [{"body": m.body, "content_type": m.content_type} for m in malformed]})
        actions.append({"label": AFTER_MALFORMED, "do": "predict", "url": predict_url, "bodies": bodies[:1],
                        "prepared": True})
    if request.load_requests:
        actions.append({"label": LOAD, "do": "load", "url": predict_url, "bodies": bodies, "prepared": True,
                        "requests": request.load_requests, "concurrency": request.load_concurrency})
    return actions


def observe_serving(data: RunData, request: EvidenceRequest, task: ServedTask | None,
                    no_task: str | None = None) -> ServingObservation:
    """Run the serving sequence against the candidate's server and type what came back. Without a task (``no_task``
    says why) only the metrics are scraped."""
    predict_url, metrics_url = data.predict_url(), data.metrics_url()
    if task is None or not task.rows:
        scrapes = probe_actions(EvidenceRequest(metrics_scrapes=True), predict_url, metrics_url, [], [])
        answers = data.run_probe("agent", {"actions": scrapes, "timeout": 10}, [], None)[-1]
        return ServingObservation(
            predict_url=predict_url, metrics_url=metrics_url, bodies=(),
            scrape_before=HttpAnswer.from_probe(answers.get(SCRAPE_BEFORE)),
            scrape_after=HttpAnswer.from_probe(answers.get(SCRAPE_AFTER)),
            no_traffic=no_task or "the task has no rows to send")
    bodies = task.bodies()
    malformed = broken_requests(task.template, task.features, task.rows[0])
    actions = probe_actions(request, predict_url, metrics_url, bodies, malformed)
    answers = data.run_probe("agent", {"actions": actions, "timeout": 10}, [], None)[-1]
    return ServingObservation(
        predict_url=predict_url, metrics_url=metrics_url,
        bodies=tuple(task.shown(i) for i in range(min(len(task.rows), max(request.parity_rows, 1)))),
        scrape_before=HttpAnswer.from_probe(answers.get(SCRAPE_BEFORE)),
        scrape_after=HttpAnswer.from_probe(answers.get(SCRAPE_AFTER)),
        counter_window=batch(answers.get(COUNTER_WINDOW)), parity=batch(answers.get(PARITY)),
        malformed_sent=tuple(malformed), malformed=batch(answers.get(MALFORMED)),
        after_malformed=batch(answers.get(AFTER_MALFORMED)),
        load=LoadRun.from_probe(answers[LOAD]) if LOAD in answers else None,
    )
