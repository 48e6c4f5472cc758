"""Artillery's JSON report into a LoadResult: pure logic, no node needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_roo import slo
from pytest_roo.artillery.report import (
    SOURCE,
    error_kind,
    metric_name,
    result_from_report,
    summary_samples_us,
)

SUMMARY = {"min": 1.2, "max": 250.0, "count": 5000, "mean": 12.0, "p50": 8.1, "median": 8.1,
           "p75": 11.0, "p90": 20.5, "p95": 33.0, "p99": 90.0, "p999": 180.0}


def report(counters: dict[str, int], summaries: dict[str, dict[str, float]]) -> dict[str, object]:
    return {"aggregate": {"counters": counters, "rates": {"http.request_rate": 50},
                          "summaries": summaries, "firstMetricAt": 1_700_000_000_000,
                          "lastMetricAt": 1_700_000_010_000},
            "intermediate": [{"period": 1_700_000_000_000, "counters": counters,
                              "summaries": summaries}]}


def test_rebuilt_metric_reads_back_artillerys_points() -> None:
    result = result_from_report(report({"http.requests": 5000, "vusers.created": 5000},
                                       {"http.response_time": SUMMARY}))
    metric = result.get_metric()
    assert metric.name == "http_response_time"
    assert metric.count == 5000
    for key, p in (("p50", 50), ("p75", 75), ("p90", 90), ("p95", 95), ("p99", 99),
                   ("p999", 99.9)):
        assert metric.percentile(p) * 1000 == pytest.approx(SUMMARY[key], rel=0.002), key
    assert metric.min * 1000 == pytest.approx(1.2, rel=0.002)
    assert metric.max * 1000 == pytest.approx(250.0, rel=0.002)
    assert result.info["source"] == SOURCE == "artillery summary"
    assert result.info["summaries"]["http.response_time"] == SUMMARY
    assert result.duration == 10.0
    assert result.timeline[0].p95 == pytest.approx(0.033)
    assert [v.passed for v in slo.evaluate(result, ["p95 < 50ms", "p99 < 50ms"])] == [True, False]


def test_counters_become_operations_and_error_kinds() -> None:
    counters = {"http.requests": 100, "http.codes.200": 80, "http.codes.503": 5,
                "http.codes.404": 3, "errors.ECONNREFUSED": 7, "errors.ETIMEDOUT": 4,
                "errors.Failed capture or match": 1, "vusers.created": 50}
    result = result_from_report(report(counters, {}))
    assert result.operations == 100
    assert result.errors == {"http_5xx": 5, "http_4xx": 3, "refused": 7, "timeout": 4,
                             "mismatch": 1}
    assert result.counters["http.codes.200"] == 80
    assert result.info["rates"] == {"http.request_rate": 50}
    assert result.metrics == {}


def test_without_http_requests_operations_are_virtual_users() -> None:
    result = result_from_report(report({"vusers.created": 20, "vusers.completed": 20,
                                        "websocket.messages_sent": 200},
                                       {"vusers.session_length": SUMMARY}))
    assert result.operations == 20
    assert result.primary == "vusers_session_length"


def test_names_and_kinds() -> None:
    assert metric_name("http.response_time.2xx") == "http_response_time_2xx"
    assert metric_name("plugins.metrics-by-endpoint.response_time./api/me") == \
        "plugins_metrics-by-endpoint_response_time__api_me"
    assert slo.parse(f"{metric_name('http.response_time')}.p95 < 1s").metric == \
        "http_response_time"
    assert error_kind("ESOCKETTIMEDOUT") == "timeout"
    assert error_kind("EAI_AGAIN") == "other"
    assert summary_samples_us({"count": 0}).size == 0


def test_not_a_report_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no `aggregate` object"):
        result_from_report({"something": 1})
    with pytest.raises(ValueError, match="cannot read Artillery's JSON report"):
        result_from_report(tmp_path / "missing.json")
