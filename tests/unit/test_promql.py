"""PromQL read by a real parser: every shape of valid query is understood with the metric names it reads,
an invalid one is refused with the parser's reason, and Grafana's template variables do not get in the way."""

from __future__ import annotations

import pytest

from grader.evidence.alert_scenarios import MetricNames, firing_query, input_series, label_set
from grader.evidence.promql import parse, selectors


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        pytest.param("sum by (status, model) (requests_total)", {"requests_total"}, id="aggregation-by"),
        pytest.param("sum(requests_total) without (instance)", {"requests_total"}, id="aggregation-without-after"),
        pytest.param("topk(3, sum by (route) (rate(hits_total[5m])))", {"hits_total"}, id="topk-parameter"),
        pytest.param('count_values("version", build_info)', {"build_info"}, id="count-values"),
        pytest.param("quantile(0.9, latency_seconds) by (le)", {"latency_seconds"}, id="quantile"),
        pytest.param("rate(requests_total[5m])", {"requests_total"}, id="rate-over-range"),
        pytest.param("increase(errors_total[1h30m])", {"errors_total"}, id="compound-duration"),
        pytest.param(
            "histogram_quantile(0.99, sum by (le) (rate(request_latency_seconds_bucket[5m])))",
            {"request_latency_seconds_bucket"}, id="histogram-quantile",
        ),
        pytest.param(
            "sum(rate(errors_total[5m])) / on (job) group_left (team) sum by (job) (rate(requests_total[5m]))",
            {"errors_total", "requests_total"}, id="on-group-left",
        ),
        pytest.param("a_total - ignoring (code) b_total", {"a_total", "b_total"}, id="ignoring"),
        pytest.param("x > bool on (job) y", {"x", "y"}, id="bool-comparison"),
        pytest.param("x and on () y or z unless w", {"x", "y", "z", "w"}, id="set-operators"),
        pytest.param("requests_total offset 1h", {"requests_total"}, id="offset"),
        pytest.param("rate(requests_total[5m] offset -10m)", {"requests_total"}, id="negative-offset"),
        pytest.param("max_over_time(rate(hits_total[1m])[30m:1m])", {"hits_total"}, id="subquery"),
        pytest.param("avg_over_time(temperature[10m:])", {"temperature"}, id="subquery-default-step"),
        pytest.param("up @ 1609746000", {"up"}, id="at-timestamp"),
        pytest.param("rate(hits_total[5m] @ end())", {"hits_total"}, id="at-end"),
        pytest.param('requests_total{status=~"5..", route!="/health", model!~"test.*"}', {"requests_total"},
                     id="string-matchers"),
        pytest.param("requests_total{route='/predict'}", {"requests_total"}, id="single-quoted"),
        pytest.param("requests_total{route=`/predict`}", {"requests_total"}, id="raw-string"),
        pytest.param('{__name__="prediction_requests_total", job="api"}', {"prediction_requests_total"},
                     id="name-matcher"),
        pytest.param('label_replace(up, "host", "$1", "instance", "(.*):.*")', {"up"}, id="label-replace"),
        pytest.param("-rate(x_total[5m]) * 100 + 1 > Inf", {"x_total"}, id="unary-and-arithmetic"),
        pytest.param("(a + b) / (c)", {"a", "b", "c"}, id="parentheses"),
        pytest.param("absent(up{job=\"api\"}) or vector(0)", {"up"}, id="absent-vector"),
        pytest.param("time() - process_start_time_seconds", {"process_start_time_seconds"}, id="time-call"),
        pytest.param("job:errors:ratio_rate5m > 0.05", {"job:errors:ratio_rate5m"}, id="recording-rule-name"),
        pytest.param("sum(x) # a comment naming not_a_metric", {"x"}, id="comment"),
        pytest.param("sum by (sum) (by)", {"by"}, id="keyword-as-metric-name"),
        pytest.param("42", set(), id="number-only"),
    ],
)
def test_valid_queries_are_understood_with_the_metric_names_they_read(expr: str, metrics: set[str]) -> None:
    assert selectors(expr).metrics == metrics


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        pytest.param("sum(rate(x[5m])", "unclosed left parenthesis", id="unclosed"),
        pytest.param("rate(requests_total)", "expected type matrix in call to function 'rate', got vector",
                     id="rate-without-range"),
        pytest.param("no_such_function(x)", "unknown function with name 'no_such_function'", id="unknown-function"),
        pytest.param("rate(x[5m]) ; drop", "unexpected character: ';'", id="stray-character"),
        pytest.param("topk(x, y)", "expected type scalar in aggregation expression, got vector",
                     id="topk-vector-parameter"),
        pytest.param("x{job=}", "invalid promql query", id="matcher-without-value"),
        pytest.param("", "no expression found in input", id="empty"),
    ],
)
def test_invalid_queries_are_refused_with_the_parser_reason(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        selectors(expr)


def test_a_name_regex_is_a_pattern_and_not_equal_names_nothing_for_certain() -> None:
    found = selectors('{__name__=~"prediction_.*"} or {__name__!="up", job="x"}')
    assert found.metrics == set()
    assert found.name_patterns == {"prediction_.*", "up"}


def test_alternative_matcher_sets_name_each_of_their_metrics() -> None:
    assert selectors('{__name__="a_total" or __name__="b_total"}').metrics == {"a_total", "b_total"}


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        pytest.param("rate(hits_total[$__rate_interval])", {"hits_total"}, id="rate-interval"),
        pytest.param("max_over_time(x[$__range:$__interval])", {"x"}, id="subquery-variables"),
        pytest.param('sum(hits_total{job="$job", route=~"${route:regex}"})', {"hits_total"}, id="in-strings"),
        pytest.param("sum by ($group) (hits_total)", {"hits_total"}, id="grouping-label"),
        pytest.param("topk($top, hits_total)", {"hits_total"}, id="number-parameter"),
        pytest.param("topk($top, sum by ($group) (rate(hits_total[$__interval])))", {"hits_total"},
                     id="number-and-label-variables"),
        pytest.param("hits_total offset $shift", {"hits_total"}, id="offset"),
        pytest.param("rate([[metric]][5m])", set(), id="legacy-metric-variable"),
        pytest.param('label_replace(x, "a", "[", "b", "(.*)") + rate(y[$__interval])', {"x", "y"},
                     id="bracket-in-a-string"),
    ],
)
def test_grafana_variables_are_read_as_stand_ins_and_never_as_metrics(expr: str, metrics: set[str]) -> None:
    assert selectors(expr).metrics == metrics


def test_the_query_refused_despite_stand_ins_reports_the_parser_reason() -> None:
    with pytest.raises(ValueError, match="unclosed left parenthesis"):
        parse("sum(rate(x[$__rate_interval])")


def test_the_grader_own_alert_queries_and_series_are_valid_promql() -> None:
    names = MetricNames(request_counter="prediction_requests", latency_histogram="latency_seconds",
                        extra_labels={"job": 'api "v2"'})
    assert selectors(firing_query("HighErrorRate")).metrics == {"ALERTS"}
    for series in input_series(names, []):
        assert len(selectors(series["series"]).metrics) == 1
    assert selectors("x" + label_set({"path": "a\\b\n"})).metrics == {"x"}
