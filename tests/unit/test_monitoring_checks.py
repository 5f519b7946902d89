"""The observe lab's pure logic: PromQL metric names, dashboard queries, generated alert series, and the
``alert-rules`` and ``dashboard`` check types judged from tool results and scrapes given to them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.checks import get_check_type
from grader.checks.base import CheckContext
from grader.evidence.alert_scenarios import (
    MetricNames,
    Traffic,
    firing_query,
    histogram_buckets,
    input_series,
    label_set,
    rule_names,
    scenario,
    unit_test,
)
from grader.evidence.promql import dashboard_queries, selectors
from grader.models import Status, StepResult
from tests.unit import check_contract as contract

# --- PromQL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        ("up", {"up"}),
        ('sum by (status) (rate(prediction_requests_total{status=~"5.."}[5m]))', {"prediction_requests_total"}),
        ("histogram_quantile(0.95, sum(rate(lat_seconds_bucket[$__rate_interval])) by (le))", {"lat_seconds_bucket"}),
        ("rate(a_sum[5m]) / rate(a_count[5m])", {"a_sum", "a_count"}),
        ("sum without (instance) (x) / on (job) group_left (team) y", {"x", "y"}),
        ('{__name__="named_metric", job="$job"}', {"named_metric"}),
        ("job:errors:ratio_rate5m > bool 0.05", {"job:errors:ratio_rate5m"}),
        ("x offset 5m and y unless z", {"x", "y", "z"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
        ("max_over_time(x[1h:5m]) > Inf", {"x"}),
        ("count(count by (le) (b_bucket))", {"b_bucket"}),
        ("sum(x) # a comment naming not_a_metric", {"x"}),
    ],
)
def test_selectors_name_exactly_the_metrics_an_expression_reads(expr: str, metrics: set[str]) -> None:
    assert selectors(expr).metrics == metrics


def test_a_name_regex_is_reported_as_a_pattern_not_a_metric() -> None:
    found = selectors('{__name__=~"prediction_.*"}')
    assert found.metrics == set() and found.name_patterns == {"prediction_.*"}


def test_a_character_promql_has_no_token_for_is_an_error() -> None:
    with pytest.raises(ValueError, match="unexpected character"):
        selectors("rate(x[5m]) ; drop")


def test_dashboard_queries_include_nested_row_panels_and_legacy_rows() -> None:
    dashboard = {
        "panels": [
            {"type": "row", "title": "Traffic", "panels": [{"title": "Nested", "targets": [{"expr": "a"}]}]},
            {"title": "Top", "targets": [{"expr": "b"}, {"expr": " "}, {"refId": "C"}]},
        ],
        "rows": [{"panels": [{"title": "Old", "targets": [{"expr": "c"}]}]}],
    }
    titles, queries = dashboard_queries(dashboard)
    assert titles == ["Nested", "Top", "Old"]
    assert [(q.panel, q.expr) for q in queries] == [("Nested", "a"), ("Top", "b"), ("Old", "c")]


# --- generated series ----------------------------------------------------------------------------


def test_counter_series_are_split_by_status_and_cumulative() -> None:
    names = MetricNames("requests", "latency_seconds", "code", {"job": "model"})
    series = input_series(names, [Traffic(100, 0.1, 0.02), Traffic(100, 0.5, 0.02)], buckets=(0.05, 1.0))
    by_name = {s["series"]: s["values"] for s in series}
    assert by_name['requests_total{job="model",code="200"}'] == "0 90 140"
    assert by_name['requests_total{job="model",code="500"}'] == "0 10 60"


def test_histogram_series_put_every_request_in_the_buckets_at_or_above_its_latency() -> None:
    names = MetricNames("r_total", "lat_seconds")
    series = input_series(names, [Traffic(10, 0, 0.02), Traffic(10, 0, 2.0)], buckets=(0.05, 1.0))
    by_name = {s["series"]: s["values"] for s in series}
    assert by_name['lat_seconds_bucket{le="0.05"}'] == "0 10 10"
    assert by_name['lat_seconds_bucket{le="1.0"}'] == "0 10 10"
    assert by_name['lat_seconds_bucket{le="+Inf"}'] == "0 10 20"
    assert by_name["lat_seconds_count{}"] == "0 10 20"
    assert by_name["lat_seconds_sum{}"] == "0 0.2 20.2"


def test_label_values_are_quoted_so_a_manifest_cannot_break_the_selector() -> None:
    assert label_set({"job": 'a"} or vector(1) #'}) == '{job="a\\"} or vector(1) #"}'


def test_unit_test_asserts_only_whether_the_alert_is_firing_at_the_end() -> None:
    series = input_series(MetricNames("r", "l"), scenario(Traffic(60, 0, 0.01), Traffic(60, 1, 0.01), 2, 3))
    spike = unit_test(["rules-0.yml"], series, "HighErrors", 5, expect_firing=True)
    quiet = unit_test(["rules-0.yml"], series, "HighErrors", 5, expect_firing=False)
    check = spike["tests"][0]["promql_expr_test"][0]
    assert check == {"expr": 'group(ALERTS{alertname="HighErrors",alertstate="firing"})', "eval_time": "5m",
                     "exp_samples": [{"labels": "{}", "value": 1}]}
    assert quiet["tests"][0]["promql_expr_test"][0]["exp_samples"] == []
    assert spike["rule_files"] == ["rules-0.yml"] and len(series[0]["values"].split()) == 6
    assert firing_query("HighErrors") in yaml.safe_dump(spike)


def test_histogram_buckets_are_read_from_the_servers_exposition() -> None:
    text = ("# TYPE lat_seconds histogram\nlat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"0.5\"} 2\n"
            "lat_seconds_bucket{le=\"+Inf\"} 2\nlat_seconds_count 2\nlat_seconds_sum 0.3\n")
    assert histogram_buckets(text, "lat_seconds") == (0.1, 0.5)
    assert histogram_buckets(text, "other") is None
    assert histogram_buckets("not { exposition", "lat_seconds") is None


def test_rule_names_reads_alerts_and_records_of_any_shape() -> None:
    document = {"groups": [{"rules": [{"alert": "A", "expr": "x"}, {"record": "r:x", "expr": "x"}, "junk"]},
                           "junk", {"rules": None}]}
    assert rule_names(document) == (["A"], ["r:x"])
    assert rule_names(["not", "a", "mapping"]) == ([], [])


# --- check types through a context ---------------------------------------------------------------

RULES = "groups:\n  - name: g\n    rules:\n      - alert: HighErrors\n        expr: x > 1\n      - record: r:x\n" \
        "        expr: sum(x)\n"
MANIFEST = {
    "metrics": {"request_counter": "requests_total", "latency_histogram": "latency_seconds"},
    "monitoring": {"rules": "monitoring/rules.yml", "dashboard": "monitoring/dashboard.json",
                   "alerts": {"error_rate": "HighErrors", "latency": "SlowRequests"}},
}
EXPOSITION = ("# TYPE requests counter\nrequests_total{status=\"200\"} 20\n"
              "# TYPE latency_seconds histogram\nlatency_seconds_bucket{le=\"0.5\"} 20\n"
              "latency_seconds_bucket{le=\"+Inf\"} 20\nlatency_seconds_count 20\nlatency_seconds_sum 1\n")




class FakeTools:
    """Stands in for the sandboxed tool run: records commands and answers with given exit codes."""

    def __init__(self, codes: dict[str, int], output: str = "") -> None:
        self.codes, self.output, self.calls = codes, output, []

    def __call__(self, name: str, command: str, tools: Any, inputs: Path) -> StepResult:
        self.calls.append((name, command, sorted(p.name for p in inputs.iterdir())))
        marker = re.search(r"(@@grader-[0-9a-f]+)", command)
        if marker:
            stdout = "".join(f"{self.output}\n{marker.group(1)} {test} {code}\n" for test, code in self.codes.items())
            return StepResult(id=name, command=command, exit_code=0, duration_s=0.1, stdout=stdout)
        return StepResult(id=name, command=command, exit_code=self.codes["check"], duration_s=0.1,
                          stdout=self.output)


def make_context(tmp_path: Path, files: dict[str, str], tools: FakeTools | None = None,
                 manifest: dict[str, Any] | None = None, body: str = EXPOSITION) -> CheckContext:
    return contract.make_context(tmp_path, files, facts=contract.FakeEvidence(contract.serving_observation(body)),
                                 manifest=MANIFEST if manifest is None else manifest, run_tool=tools or contract.never)


@pytest.fixture(autouse=True)
def fake_promtool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "promtool"
    binary.write_bytes(b"\x7fELF fake")
    binary.chmod(0o755)
    monkeypatch.setenv("GRADER_PROMTOOL", str(binary))
    monkeypatch.setenv("GRADER_RUFF", str(binary))


evaluate = contract.run_check


def test_rules_valid_passes_when_promtool_accepts_the_copied_file(tmp_path: Path) -> None:
    tools = FakeTools({"check": 0}, "Checking rules-0.yml\n  SUCCESS: 2 rules found")
    outcome = evaluate("alert-rules", {"require": "valid"},
                       make_context(tmp_path, {"monitoring/rules.yml": RULES}, tools))
    assert outcome.status is Status.passed, outcome.message
    _, command, inputs = tools.calls[0]
    assert "check rules rules-0.yml" in command and inputs == ["rules-0.yml"]
    assert "monitoring/rules.yml" in outcome.evidence["output"]


def test_rules_valid_fails_with_promtools_first_finding_under_the_candidates_file_name(tmp_path: Path) -> None:
    output = "Checking rules-0.yml\n  FAILED:\nrules-0.yml: 5:15: group \"g\", rule 1: could not parse expression"
    outcome = evaluate("alert-rules", {"require": "valid"},
                       make_context(tmp_path, {"monitoring/rules.yml": RULES}, FakeTools({"check": 1}, output)))
    assert outcome.status is Status.failed
    assert "monitoring/rules.yml: 5:15" in outcome.message and "rules-0.yml" not in outcome.message


def test_rules_file_missing_fails_naming_the_manifest_key(tmp_path: Path) -> None:
    outcome = evaluate("alert-rules", {"require": "valid"}, make_context(tmp_path, {}, FakeTools({"check": 0})))
    assert outcome.status is Status.failed and "monitoring.rules" in outcome.message


@pytest.mark.parametrize(
    ("codes", "status", "fragment"),
    [
        ({"quiet": 0, "spike": 0}, Status.passed, "fires on the 5xx share spike and stays quiet"),
        ({"quiet": 1, "spike": 0}, Status.failed, "fires on healthy traffic"),
        ({"quiet": 0, "spike": 1}, Status.failed, "does not fire within 30 min"),
    ],
)
def test_alert_fires_judges_the_quiet_and_spike_tests_separately(tmp_path: Path, codes: dict[str, int],
                                                                  status: Status, fragment: str) -> None:
    tools = FakeTools(codes, "exp: {} 1\n got: nil" if any(codes.values()) else "SUCCESS")
    outcome = evaluate("alert-rules", {"require": "fires", "alert": "error_rate"},
                       make_context(tmp_path, {"monitoring/rules.yml": RULES}, tools))
    assert outcome.status is status and fragment in outcome.message, outcome.message
    _, _, inputs = tools.calls[0]
    assert inputs == ["rules-0.yml", "test-quiet.yml", "test-spike.yml"]
    spike = yaml.safe_load(outcome.evidence["test_files"]["spike"])
    series = {s["series"] for s in spike["tests"][0]["input_series"]}
    assert 'requests_total{status="500"}' in series and 'latency_seconds_bucket{le="0.5"}' in series
    assert outcome.evidence["buckets"] == [0.5]  # the server's own buckets


def test_alert_fires_fails_when_the_declared_alert_is_not_in_the_rules(tmp_path: Path) -> None:
    outcome = evaluate("alert-rules", {"require": "fires", "alert": "latency"},
                       make_context(tmp_path, {"monitoring/rules.yml": RULES}, FakeTools({})))
    assert outcome.status is Status.failed
    assert "no alert named 'SlowRequests'" in outcome.message and "HighErrors" in outcome.message


def test_fires_requires_an_alert_parameter() -> None:
    with pytest.raises(ValueError, match="needs alert"):
        get_check_type("alert-rules").params.model_validate({"require": "fires"})


DASHBOARD = {"panels": [
    {"title": "Rate", "targets": [{"expr": "sum(rate(requests_total[5m]))"}]},
    {"title": "p95", "targets": [{"expr": "histogram_quantile(0.95, sum by (le) (rate(latency_seconds_bucket[5m])))"}]},
    {"title": "Recorded", "targets": [{"expr": "r:x"}, {"expr": "up"}]},
]}


def test_dashboard_passes_when_every_query_names_an_exposed_or_recorded_metric(tmp_path: Path) -> None:
    files = {"monitoring/dashboard.json": json.dumps(DASHBOARD), "monitoring/rules.yml": RULES}
    outcome = evaluate("dashboard", {"min_panels": 3}, make_context(tmp_path, files))
    assert outcome.status is Status.passed, outcome.message


def test_dashboard_fails_naming_the_panel_and_the_metric_the_server_does_not_expose(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(DASHBOARD))
    broken["panels"][1]["targets"][0]["expr"] = "rate(http_request_duration_seconds_bucket[5m])"
    files = {"monitoring/dashboard.json": json.dumps(broken), "monitoring/rules.yml": RULES}
    outcome = evaluate("dashboard", {}, make_context(tmp_path, files))
    assert outcome.status is Status.failed
    assert "panel 'p95': http_request_duration_seconds_bucket is not exposed" in outcome.message


def test_dashboard_counter_without_total_suffix_is_not_what_prometheus_stores(tmp_path: Path) -> None:
    dashboard = {"panels": [{"title": "Rate", "targets": [{"expr": "rate(requests[5m])"}]}]}
    outcome = evaluate("dashboard", {}, make_context(tmp_path, {"monitoring/dashboard.json": json.dumps(dashboard)}))
    assert outcome.status is Status.failed and "requests is not exposed" in outcome.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("{not json", "is not valid JSON"), ("[1, 2]", "is not a JSON object"),
     (json.dumps({"panels": []}), "0 panel(s) with a PromQL query")],
)
def test_dashboard_that_is_not_a_dashboard_fails_with_the_reason(tmp_path: Path, text: str, fragment: str) -> None:
    outcome = evaluate("dashboard", {}, make_context(tmp_path, {"monitoring/dashboard.json": text}))
    assert outcome.status is Status.failed and fragment in outcome.message
