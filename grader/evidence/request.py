"""What a check type asks the evidence layer to collect, and how the asks of a whole rubric merge.

A check type declares ``plan(params) -> EvidenceRequest``; the run merges the requests of every check in
the rubric into one, and the collectors gather exactly that: one probe sequence serves every check that
looks at the model server, one evaluator container scores every model any check needs.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PROMOTION_ROWS = 10


@dataclass(frozen=True)
class DriftRequest:
    """In-distribution traffic from the hidden ``baseline`` set, then ``requests`` rows of ``shifted``."""

    requests: int = 100
    baseline: str = "holdout"
    shifted: str = "shifted"


@dataclass(frozen=True)
class EvidenceRequest:
    """The evidence one check (or, merged, a whole rubric) needs. The default asks for nothing."""

    registry: bool = False  # the MLflow snapshot
    model_evaluation: bool = False  # the served registered version, scored by the grader's evaluator
    metrics_scrapes: bool = False  # the metrics endpoint, scraped around the counter window
    parity_rows: int = 0  # hidden rows sent one request each; the answers are kept in order
    malformed: bool = False  # broken requests, then one valid request
    load_requests: int = 0
    load_concurrency: int = 1
    counter_requests: int = 0  # valid requests between the two scrapes, and nothing else
    sweep_metric: str | None = None  # evaluate each sweep run (runs that logged this metric)
    promotion_rows: int = 0  # the promotion drill, with this many rows per round
    drift: DriftRequest | None = None
    retraining: bool = False  # observe the registry and the served version before and after the late steps
    local_stores: bool = False  # read the MLflow stores each step leaves in the work area (sqlite, ./mlruns)

    @property
    def serving(self) -> bool:
        """Whether the probe's serving sequence is asked for at all."""
        return bool(self.metrics_scrapes or self.parity_rows or self.malformed or self.load_requests
                    or self.counter_requests)

    @property
    def models(self) -> bool:
        """Whether the model evaluator has anything to score."""
        return self.model_evaluation or self.sweep_metric is not None or self.retraining or bool(self.promotion_rows)

    def merge(self, other: EvidenceRequest) -> EvidenceRequest:
        """Both requests at once: the most traffic either asks for; the first's data sets and sweep metric."""
        return EvidenceRequest(
            registry=self.registry or other.registry,
            model_evaluation=self.model_evaluation or other.model_evaluation,
            metrics_scrapes=self.metrics_scrapes or other.metrics_scrapes,
            parity_rows=max(self.parity_rows, other.parity_rows),
            malformed=self.malformed or other.malformed,
            load_requests=max(self.load_requests, other.load_requests),
            load_concurrency=max(self.load_concurrency, other.load_concurrency),
            counter_requests=max(self.counter_requests, other.counter_requests),
            sweep_metric=_first_sorted(self.sweep_metric, other.sweep_metric),
            promotion_rows=max(self.promotion_rows, other.promotion_rows),
            drift=_merge_drift(self.drift, other.drift),
            retraining=self.retraining or other.retraining,
            local_stores=self.local_stores or other.local_stores,
        )


def merge_all(requests: list[EvidenceRequest]) -> EvidenceRequest:
    """Every request merged into one, in order (nothing asked: the empty request)."""
    merged = EvidenceRequest()
    for request in requests:
        merged = merged.merge(request)
    return merged


def _first_sorted(first: str | None, second: str | None) -> str | None:
    named = sorted(m for m in (first, second) if m)
    return named[0] if named else None


def _merge_drift(first: DriftRequest | None, second: DriftRequest | None) -> DriftRequest | None:
    if first is None or second is None:
        return first or second
    return DriftRequest(requests=max(first.requests, second.requests), baseline=first.baseline,
                        shifted=first.shifted)
