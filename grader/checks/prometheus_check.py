"""``prometheus``: the server's metrics endpoint, compared with traffic the grader sent itself.

The probe scrapes the endpoint, sends valid predictions and nothing else, and scrapes again. The number
sent varies per run (more than ``requests``, at most half as many more; recorded in the evidence), so only
a counter that counts requests moves by it. ``require`` picks the property:

- ``exposition``: the endpoint answers 200 with text prometheus_client's parser accepts;
- ``counter``: a counter (the manifest's ``metrics.request_counter``, else the one that moved closest)
  increased by exactly the requests sent, within ``tolerance``; all label sets are summed and a
  counter with no sample yet counts as 0;
- ``histogram``: a histogram's ``_count`` (manifest ``metrics.latency_histogram``, else the closest)
  moved by the same number;
- ``names``: names follow the Prometheus conventions (snake_case, counters end in ``_total``,
  timings in ``_seconds``); ``promtool check metrics`` findings (run in a sandbox) are added as advice when
  promtool is installed.

The report shows what the candidate's metrics claim beside what the probe measured.

Example::

    - {id: request-counter, title: The request counter counts every request, type: prometheus, points: 4,
       require: counter, requests: 20}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.errors import InfrastructureError
from grader.evidence import Facts, ServingObservation
from grader.evidence.answers import HttpAnswer
from grader.evidence.prometheus import (
    Family,
    deltas,
    naming_problems,
    parse_exposition,
    pick,
    promtool_findings,
)
from grader.evidence.request import EvidenceRequest
from grader.models import CheckOutcome
from grader.sandbox.tools import INPUT_MOUNT, find_tool, tool_path


class Params(CheckParams):
    require: Literal["exposition", "counter", "histogram", "names"]
    requests: int = Field(20, ge=1, le=1000,
                          description="``counter``/``histogram``: fewest valid requests in the window "
                          "(the number sent is drawn above it per run)")
    tolerance: int = Field(0, ge=0, description="``counter``/``histogram``: allowed difference")


def plan(params: Params) -> EvidenceRequest:
    """The scrapes around the counter window; ``counter``/``histogram``: ``requests`` valid requests in it."""
    if params.require in ("counter", "histogram"):
        return EvidenceRequest(metrics_scrapes=True, counter_requests=params.requests)
    return EvidenceRequest(metrics_scrapes=True)


def _scrape(serving: ServingObservation, scrape: HttpAnswer) -> tuple[list[Family] | None, str]:
    if scrape.status != 200:
        return None, f"{serving.metrics_url} answered {scrape.describe_status()}"
    not_text = _not_exposition_text(scrape)
    if not_text:
        return None, f"{serving.metrics_url} answered {not_text}, not Prometheus exposition text: serve " \
                     "prometheus_client's generate_latest() (text/plain) there"
    try:
        return parse_exposition(scrape.body), ""
    except (ValueError, IndexError, KeyError) as exc:
        return None, f"{serving.metrics_url} does not serve valid exposition text: {exc}"


def _not_exposition_text(scrape: HttpAnswer) -> str | None:
    """What the endpoint answered instead of exposition text (JSON, HTML), when it plainly did."""
    body = scrape.body.lstrip()
    kind = scrape.content_type.split(";")[0].strip().lower()
    if kind == "application/json" or body[:1] in ("{", "["):
        return "JSON"
    if kind == "text/html" or body[:1] == "<":
        return "HTML"
    return None


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    facts: Facts = ctx.require_facts()
    serving = facts.serving()
    before, problem = _scrape(serving, serving.scrape_before)
    if before is None:
        return CheckOutcome.failed(problem)
    if params.require == "exposition":
        names = sorted(f.name for f in before)
        return CheckOutcome.passed(f"{len(before)} metric families", families=names[:50])
    after, problem = _scrape(serving, serving.scrape_after)
    if after is None:
        return CheckOutcome.failed(problem)
    if params.require == "names":
        return _names(serving, after, ctx)
    if serving.no_traffic is not None:
        return CheckOutcome.skipped(f"the grader sent no predictions to count: {serving.no_traffic}")
    sent = sum(1 for answer in serving.counter_window if answer.status is not None)
    manifest = facts.manifest.metrics
    if params.require == "counter":
        kind, suffix, preferred, noun = "counter", "_total", manifest.request_counter, "request counter"
    else:
        kind, suffix, preferred, noun = "histogram", "_count", manifest.latency_histogram, "latency histogram _count"
    chosen = pick(deltas(before, after, kind, suffix), sent, preferred)
    if chosen is None:
        wanted = f" named {preferred!r}" if preferred else ""
        return CheckOutcome.failed(f"no {kind}{wanted} in the metrics", sent=sent)
    evidence = {"metric": chosen.name, "claimed_before": chosen.before, "claimed_after": chosen.after,
                "claimed_delta": chosen.change, "measured_requests_sent": sent}
    if abs(chosen.change - sent) <= params.tolerance:
        return CheckOutcome.passed(f"{chosen.name} moved by {chosen.change:g} for {sent} requests", **evidence)
    return CheckOutcome.failed(f"{noun} {chosen.name} moved by {chosen.change:g} but the probe sent {sent} "
                               "requests", **evidence)


def _names(serving: ServingObservation, families: list[Family], ctx: CheckContext) -> CheckOutcome:
    problems = naming_problems(families)
    text = serving.scrape_after.body
    evidence = {"problems": problems, "promtool": _promtool_check_metrics(text, ctx)}
    if problems:
        return CheckOutcome.failed(f"{len(problems)} naming problem(s): {problems[0]}", **evidence)
    return CheckOutcome.passed(f"{len(families)} families follow the naming conventions", **evidence)


def _promtool_check_metrics(text: str, ctx: CheckContext) -> list[str] | str:
    """promtool's findings on the scraped text, run in a sandbox (the text is the candidate's); advisory only."""
    try:
        promtool = find_tool("promtool")
    except InfrastructureError:
        return "not installed"
    folder = ctx.scratch_dir / "promtool-metrics"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    (folder / "metrics.txt").write_text(text)
    (folder / "metrics.txt").chmod(0o644)
    command = f"{tool_path('promtool')} check metrics < {INPUT_MOUNT}/metrics.txt"
    try:
        result = ctx.run_tool("promtool-check-metrics", command, {"promtool": promtool}, folder)
    except InfrastructureError as exc:
        return f"not run: {exc}"
    return promtool_findings(result.stdout + result.stderr)


CHECK = CheckType(name="prometheus", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
