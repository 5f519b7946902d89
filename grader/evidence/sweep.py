"""A parameter sweep as the run's MLflow server holds it: which runs belong to it, what each claims, and
what the grader measured for each run's own logged model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grader.evidence.labels import normalise
from grader.evidence.mlflow_snapshot import MlflowSnapshot, Run

TRUE_VALUES = ("true", "1", "yes")


def sweep_runs(snapshot: MlflowSnapshot, started_ms: int, experiment: str | None, metric: str) -> list[Run]:
    """Finished runs of this grading that logged ``metric``, oldest first, from one experiment: the one named,
    else the one holding most such runs (a parent run of nested runs, which logs no metric, is left out)."""
    runs = [r for r in snapshot.finished_runs_since(started_ms) if metric in r.metrics]
    if experiment is not None:
        ids = {eid for eid, name in snapshot.experiments.items() if name == experiment}
        runs = [r for r in runs if r.experiment_id in ids]
    elif runs:
        counts = Counter(r.experiment_id for r in runs)
        busiest = max(counts, key=lambda eid: (counts[eid], eid))
        runs = [r for r in runs if r.experiment_id == busiest]
    return sorted(runs, key=lambda r: (r.start_time_ms, r.run_id))


def distinct_param_sets(runs: Sequence[Run]) -> int:
    """How many different parameter combinations the runs logged."""
    return len({frozenset(r.params.items()) for r in runs})


def marked_runs(runs: Sequence[Run], tag: str) -> list[Run]:
    """The runs whose ``tag`` says true (``true``, ``1`` or ``yes``, any case)."""
    return [r for r in runs if r.tags.get(tag, "").strip().lower() in TRUE_VALUES]


@dataclass(frozen=True)
class RunScore:
    """One sweep run: the metric it logged beside the grader's own measurement of its model."""

    run_id: str
    params: dict[str, str]
    claimed: float
    measured: float | None
    problem: str | None = None  # why there is no measurement

    def matches(self, tolerance: float) -> bool:
        return self.measured is not None and abs(self.claimed - self.measured) <= tolerance

    def as_evidence(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "params": dict(list(self.params.items())[:10]), "claimed": self.claimed,
                "measured": None if self.measured is None else round(self.measured, 4), "problem": self.problem}


def score_runs(runs: Sequence[Run], metric: str, predictions: Mapping[str, list[Any] | str],
               labels: Sequence[str], classes: Sequence[str],
               score: Callable[[Sequence[str], Sequence[str]], float]) -> list[RunScore]:
    """Each run's claimed ``metric`` and the score of its model's predictions against ``labels``.

    ``predictions`` maps a run id to its model's predictions, or to why there are none (a message)."""
    scored = []
    for run in runs:
        claimed = run.metrics[metric]
        output = predictions.get(run.run_id, "the evaluator reported nothing for this run")
        if isinstance(output, str):
            scored.append(RunScore(run.run_id, run.params, claimed, None, output))
        elif len(output) != len(labels):
            scored.append(RunScore(run.run_id, run.params, claimed, None,
                                   f"{len(output)} predictions for {len(labels)} rows"))
        else:
            measured = score([normalise(p, classes) for p in output], labels)
            scored.append(RunScore(run.run_id, run.params, claimed, measured))
    return scored
