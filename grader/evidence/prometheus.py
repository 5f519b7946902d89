"""Reading Prometheus exposition text the candidate serves, and comparing it with what was sent."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

DEFAULT_COLLECTORS = ("python_", "process_")  # prometheus_client's own, present in every registry
SNAKE_CASE = re.compile(r"^[a-z_:][a-z0-9_:]*$")
TIME_WORDS = re.compile(r"(latency|duration|time|elapsed)")


SAMPLE_NAME = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", re.MULTILINE)


@dataclass(frozen=True)
class Family:
    name: str
    type: str
    samples: dict[str, float]  # sample name with labels → value (as the parser normalises it)
    exposed: frozenset[str] = frozenset()  # sample names exactly as the server wrote them


def parse_exposition(text: str) -> list[Family]:
    """Parse with prometheus_client's own parser; raises ValueError on invalid text."""
    # The parser renames a counter's samples to <name>_total; naming rules need the names as written.
    written = {m.group(1) for m in SAMPLE_NAME.finditer(text) if not m.group(0).lstrip().startswith("#")}
    families = []
    for metric in text_string_to_metric_families(text):
        exposed = frozenset(n for n in written if n == metric.name or n.startswith(metric.name + "_"))
        families.append(Family(name=metric.name, type=metric.type, samples=_samples(metric), exposed=exposed))
    return families


def _samples(metric: Metric) -> dict[str, float]:
    found = {}
    for sample in metric.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
        found[f"{sample.name}{{{labels}}}"] = float(sample.value)
    return found


def total(family: Family | None, suffix: str) -> float:
    """Sum of a family's samples whose name ends in ``suffix`` (all label sets); absent counts as 0."""
    if family is None:
        return 0.0
    return sum(v for k, v in family.samples.items() if k.split("{", 1)[0].endswith(suffix))


def by_name(families: Iterable[Family]) -> dict[str, Family]:
    return {f.name: f for f in families}


@dataclass(frozen=True)
class Delta:
    name: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


def deltas(before: list[Family], after: list[Family], kind: str, suffix: str) -> list[Delta]:
    """For every family of ``kind`` seen after, how much its ``suffix`` samples moved."""
    old = by_name(before)
    return [Delta(f.name, total(old.get(f.name), suffix), total(f, suffix)) for f in after if f.type == kind]


def pick(candidates: list[Delta], expected: float, preferred: str | None) -> Delta | None:
    """The declared metric, else the one that moved closest to ``expected`` (request-ish names first)."""
    if preferred:
        wanted = preferred.removesuffix("_total")
        return next((d for d in candidates if d.name in (preferred, wanted)), None)
    candidates = [d for d in candidates if not d.name.startswith(DEFAULT_COLLECTORS)]
    if not candidates:
        return None
    return min(candidates, key=lambda d: (abs(d.change - expected), not re.search("request|predict", d.name)))


def naming_problems(families: list[Family]) -> list[str]:
    """Prometheus naming conventions: snake_case, counters end in _total, timings carry _seconds."""
    problems = []
    for family in families:
        if family.name.startswith(DEFAULT_COLLECTORS):
            continue
        if not SNAKE_CASE.match(family.name):
            problems.append(f"{family.name}: not snake_case")
        # A labelled counter has no sample before its first increment: nothing to judge then.
        if family.type == "counter" and family.exposed and not any(n.endswith("_total") for n in family.exposed):
            problems.append(f"{family.name}: a counter's samples should end in _total")
        if family.type in ("histogram", "summary") and TIME_WORDS.search(family.name) and not family.name.endswith(
            "_seconds"
        ):
            problems.append(f"{family.name}: a timing {family.type} should be in seconds (suffix _seconds)")
    return problems


def promtool_findings(output: str) -> list[str]:
    """`promtool check metrics` findings, one per non-empty line of its output."""
    return [line.strip() for line in output.splitlines() if line.strip()]
