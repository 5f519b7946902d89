"""``alert-rules``: the candidate's Prometheus alerting rules, checked with promtool in a sandbox.

The rules file is the manifest's ``monitoring.rules`` (a path or glob in the repository). promtool is
the grader's host binary (``scripts/ensure-tools.sh``), mounted read-only into a container with no
network that sees only copies of the rules files and the grader's own test files; it is never run on
the host against candidate files. ``require`` picks the property:

- ``valid``: ``promtool check rules`` accepts every rules file;
- ``fires``: ``promtool test rules`` with series the grader generates on the candidate's declared
  metric names (``metrics.request_counter`` split by ``monitoring.status_label`` into ``200`` and
  ``500`` answers, and ``metrics.latency_histogram`` with the server's own buckets when the probe scraped
  them). The alert named in ``monitoring.alerts.<alert>`` must not be firing after
  ``healthy_minutes + spike_minutes`` of healthy traffic, and must be firing after ``healthy_minutes``
  of healthy traffic followed by ``spike_minutes`` of a spike: the error ratio rises to
  ``spike_error_ratio`` (``alert: error_rate``) or every request takes ``spike_latency_seconds``
  (``alert: latency``). The generated test files are in the evidence.

Example::

    - {id: error-alert-fires, title: The error-rate alert fires on a spike and only then,
       type: alert-rules, points: 4, require: fires, alert: error_rate}
"""

from __future__ import annotations

import secrets
import shlex
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from grader.checks.base import CheckContext, CheckParams, CheckType
from grader.errors import InfrastructureError, LabError
from grader.evidence.alert_scenarios import (
    DEFAULT_BUCKETS,
    MetricNames,
    Traffic,
    histogram_buckets,
    input_series,
    rule_names,
    scenario,
    unit_test,
)
from grader.evidence.request import EvidenceRequest
from grader.labs.yamlio import load_yaml
from grader.models import CheckOutcome
from grader.sandbox.tools import INPUT_MOUNT, find_tool, tool_path

MAX_RULE_FILES = 20
MAX_RULES_BYTES = 1024 * 1024
OUTPUT_TAIL = 3000


class Params(CheckParams):
    require: Literal["valid", "fires"]
    alert: Literal["error_rate", "latency"] | None = Field(
        None, description="``fires``: which alert of the manifest's ``monitoring.alerts`` is tested")
    requests_per_minute: int = Field(120, ge=1, le=100000, description="``fires``: synthetic traffic")
    healthy_error_ratio: float = Field(0.005, ge=0, le=1, description="``fires``: share of 5xx when healthy")
    healthy_latency_seconds: float = Field(0.02, gt=0, description="``fires``: every request's latency when healthy")
    spike_error_ratio: float = Field(0.5, ge=0, le=1, description="``fires``/``error_rate``: share of 5xx in the spike")
    spike_latency_seconds: float = Field(2.0, gt=0, description="``fires``/``latency``: every request's latency in "
                                                                "the spike")
    healthy_minutes: int = Field(10, ge=1, le=120, description="``fires``: healthy minutes before the spike")
    spike_minutes: int = Field(30, ge=1, le=240, description="``fires``: minutes of spike (the longest ``for:`` that "
                                                             "can still fire, plus the rate window)")

    @model_validator(mode="after")
    def _alert_for_fires(self) -> Params:
        if self.require == "fires" and self.alert is None:
            raise ValueError("require: fires needs alert: error_rate or latency")
        return self


def _rule_files(ctx: CheckContext, folder: Path) -> tuple[list[str], list[str]] | CheckOutcome:
    """Copies of the declared rules files in ``folder``: (names in the copy, names in the repository)."""
    pattern = ctx.manifest.monitoring.rules if ctx.manifest is not None else None
    if not pattern:
        return CheckOutcome.failed("capstone.yaml declares no monitoring.rules (the alerting rules file)")
    found = ctx.find(pattern)
    if not found:
        return CheckOutcome.failed(f"monitoring.rules: no file matches {pattern!r}")
    if len(found) > MAX_RULE_FILES:
        return CheckOutcome.failed(f"monitoring.rules matches {len(found)} files; at most {MAX_RULE_FILES}")
    copies, originals = [], []
    for index, path in enumerate(found):
        if path.stat().st_size > MAX_RULES_BYTES:
            return CheckOutcome.failed(f"{ctx.relative(path)} is over {MAX_RULES_BYTES} bytes")
        name = f"rules-{index}.yml"
        shutil.copyfile(path, folder / name)
        (folder / name).chmod(0o644)
        copies.append(name)
        originals.append(ctx.relative(path))
    return copies, originals


def _declared_names(ctx: CheckContext, folder: Path, copies: list[str]) -> tuple[list[str], list[str]]:
    """Alert and recording-rule names, read as plain data on the host (no tags, no aliases, size-capped)."""
    alerts: list[str] = []
    records: list[str] = []
    for name in copies:
        try:
            found = rule_names(load_yaml(folder / name).data)
        except (LabError, yaml.YAMLError):
            continue  # promtool says what is wrong with the file
        alerts += found[0]
        records += found[1]
    return alerts, records


def _input_folder(ctx: CheckContext) -> Path:
    folder = ctx.scratch_dir / "promtool"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    return folder


def plan(params: Params) -> EvidenceRequest:
    """``fires``: the histogram buckets the server really exposes, from the metrics scrape."""
    return EvidenceRequest(metrics_scrapes=params.require == "fires")


def evaluate(params: Params, ctx: CheckContext) -> CheckOutcome:
    promtool = find_tool("promtool")
    folder = _input_folder(ctx)
    files = _rule_files(ctx, folder)
    if isinstance(files, CheckOutcome):
        return files
    copies, originals = files
    if params.require == "valid":
        return _check_rules(ctx, promtool, copies, originals)
    return _alert_fires(params, ctx, promtool, folder, copies, originals)


def _check_rules(ctx: CheckContext, promtool: Path, copies: list[str], originals: list[str]) -> CheckOutcome:
    inputs = ctx.scratch_dir / "promtool"
    command = shlex.join([tool_path("promtool"), "check", "rules", *copies])
    result = ctx.run_tool("promtool-check-rules", f"cd {INPUT_MOUNT} && {command}", {"promtool": promtool}, inputs)
    output = _readable(result.stdout + result.stderr, copies, originals)
    evidence = {"files": originals, "exit_code": result.exit_code, "output": output[-OUTPUT_TAIL:]}
    if result.timed_out or result.exit_code is None:
        raise InfrastructureError(f"promtool check rules did not finish: {result.failure_reason}")
    if result.exit_code != 0:
        first = next((line.strip() for line in output.splitlines()
                      if ":" in line.strip().rstrip(":") and not line.startswith("Checking")), "")
        return CheckOutcome.failed(f"promtool check rules rejects the rules: {first[:300]}", **evidence)
    return CheckOutcome.passed(f"promtool check rules accepts {', '.join(originals)}", **evidence)


def _alert_fires(params: Params, ctx: CheckContext, promtool: Path, folder: Path, copies: list[str],
                 originals: list[str]) -> CheckOutcome:
    manifest = ctx.require_manifest()
    monitoring, metrics = manifest.monitoring, manifest.metrics
    alert = getattr(monitoring.alerts, params.alert or "")
    if not alert:
        return CheckOutcome.failed(f"capstone.yaml declares no monitoring.alerts.{params.alert}")
    if not metrics.request_counter or not metrics.latency_histogram:
        return CheckOutcome.failed("capstone.yaml must name metrics.request_counter and metrics.latency_histogram: "
                                   "the grader generates series under those names")
    alerts, _ = _declared_names(ctx, folder, copies)
    if alerts and alert not in alerts:
        return CheckOutcome.failed(f"no alert named {alert!r} in {', '.join(originals)} (alerts: {', '.join(alerts)})")
    names = MetricNames(metrics.request_counter, metrics.latency_histogram, monitoring.status_label,
                        monitoring.series_labels)
    buckets = _server_buckets(ctx, names.histogram_base) or DEFAULT_BUCKETS
    healthy = Traffic(params.requests_per_minute, params.healthy_error_ratio, params.healthy_latency_seconds)
    spike = (replace(healthy, error_ratio=params.spike_error_ratio) if params.alert == "error_rate"
             else replace(healthy, latency_seconds=params.spike_latency_seconds))
    minutes = params.healthy_minutes + params.spike_minutes
    tests = {
        "quiet": unit_test(copies, input_series(names, scenario(healthy, None, minutes, 0), buckets), alert,
                           minutes, expect_firing=False),
        "spike": unit_test(copies, input_series(names, scenario(healthy, spike, params.healthy_minutes,
                                                                params.spike_minutes), buckets), alert,
                           minutes, expect_firing=True),
    }
    for name, document in tests.items():
        (folder / f"test-{name}.yml").write_text(yaml.safe_dump(document, sort_keys=False))
        (folder / f"test-{name}.yml").chmod(0o644)
    outcomes = _run_tests(ctx, promtool, folder, list(tests))
    evidence: dict[str, Any] = {
        "alert": alert, "files": originals, "buckets": list(buckets),
        "healthy": vars(healthy), "spike": vars(spike), "minutes": minutes,
        "promtool": {name: _readable(out, copies, originals)[-OUTPUT_TAIL:] for name, (_, out) in outcomes.items()},
        "test_files": {name: (folder / f"test-{name}.yml").read_text()[:20000] for name in tests},
    }
    (quiet_code, _), (spike_code, _) = outcomes["quiet"], outcomes["spike"]
    if quiet_code is None or spike_code is None:
        raise InfrastructureError("promtool test rules gave no exit status (see the evidence)")
    what = "5xx share" if params.alert == "error_rate" else "latency"
    if quiet_code != 0 and spike_code != 0 and not _assertion_failed(outcomes):
        return CheckOutcome.failed("promtool test rules cannot evaluate the rules (see the evidence)", **evidence)
    if quiet_code != 0:
        return CheckOutcome.failed(f"{alert} fires on healthy traffic ({vars(healthy)})", **evidence)
    if spike_code != 0:
        return CheckOutcome.failed(f"{alert} does not fire within {params.spike_minutes} min of a {what} spike "
                                   f"({vars(spike)})", **evidence)
    return CheckOutcome.passed(f"{alert} fires on the {what} spike and stays quiet on healthy traffic", **evidence)


def _assertion_failed(outcomes: dict[str, tuple[int | None, str]]) -> bool:
    return any("exp:" in output for _, output in outcomes.values())


def _run_tests(ctx: CheckContext, promtool: Path, folder: Path, names: list[str]) -> dict[str, tuple[int | None, str]]:
    """Both test files in one container; a random marker the candidate cannot know splits the output."""
    marker = f"@@grader-{secrets.token_hex(8)}"
    script = "; ".join(
        f"{shlex.join([tool_path('promtool'), 'test', 'rules', f'test-{name}.yml'])} 2>&1; "
        f"echo \"{marker} {name} $?\""
        for name in names
    )
    result = ctx.run_tool("promtool-test-rules", f"cd {INPUT_MOUNT} && {{ {script}; }}", {"promtool": promtool},
                          folder)
    if result.timed_out:
        raise InfrastructureError(f"promtool test rules {result.failure_reason}")
    outcomes: dict[str, tuple[int | None, str]] = {}
    chunk: list[str] = []
    for line in result.stdout.splitlines():
        if line.startswith(marker + " "):
            _, name, code = line.split(" ", 2)
            outcomes[name] = (int(code) if code.strip().isdigit() else None, "\n".join(chunk))
            chunk = []
        else:
            chunk.append(line)
    return {name: outcomes.get(name, (None, result.stderr[-OUTPUT_TAIL:])) for name in names}


def _server_buckets(ctx: CheckContext, histogram: str) -> tuple[float, ...] | None:
    """The ``le`` bounds the candidate's server really exposes for the histogram, when the probe scraped it."""
    if ctx.facts is None:
        return None
    try:
        body = ctx.facts.serving().scrape_after.body
    except InfrastructureError:
        return None
    return histogram_buckets(body, histogram)


def _readable(output: str, copies: list[str], originals: list[str]) -> str:
    """promtool's output with the copies' names replaced by the candidate's own file names."""
    for copy, original in zip(copies, originals, strict=True):
        output = output.replace(copy, original)
    return output


CHECK = CheckType(name="alert-rules", params=Params, evaluate=evaluate, summary=__doc__ or "", plan=plan)
