"""The criteria language: what it accepts, what it rejects and how it says so."""

from __future__ import annotations

import pytest

from pytest_roo import slo
from pytest_roo.slo import CriterionError

ACCEPTED = [
    # text, stat, op, limit (base units), kind, metric
    ("p95 < 50ms", "p95", "<", 0.05, "latency", None),
    ("p50<=10ms", "p50", "<=", 0.01, "latency", None),
    ("p75 < 20 ms", "p75", "<", 0.02, "latency", None),
    ("p90 < 1s", "p90", "<", 1.0, "latency", None),
    ("p99 < 250us", "p99", "<", 0.00025, "latency", None),
    ("p99.9 < 2s", "p99.9", "<", 2.0, "latency", None),
    ("p(95)<50", "p95", "<", 0.05, "latency", None),
    ("p(99.9) < 100", "p99.9", "<", 0.1, "latency", None),
    ("p( 90 ) < 3ms", "p90", "<", 0.003, "latency", None),
    ("delivery.p99 <= 0.1s", "p99", "<=", 0.1, "latency", "delivery"),
    ("rtt.p95 < 50ms", "p95", "<", 0.05, "latency", "rtt"),
    ("connect.max < 2s", "max", "<", 2.0, "latency", "connect"),
    ("max < 2s", "max", "<", 2.0, "latency", None),
    ("min > 1us", "min", ">", 1e-06, "latency", None),
    ("mean < 20ms", "mean", "<", 0.02, "latency", None),
    ("avg < 20", "mean", "<", 0.02, "latency", None),
    ("med < 5ms", "p50", "<", 0.005, "latency", None),
    ("stdev < 5ms", "stdev", "<", 0.005, "latency", None),
    ("http_req_duration.p(95) < 200", "p95", "<", 0.2, "latency", "http_req_duration"),
    ("enqueue-ack.p95 < 100ms", "p95", "<", 0.1, "latency", "enqueue-ack"),
    ("p99.99 < 1s", "p99.99", "<", 1.0, "latency", None),
    ("p100 < 3s", "p100", "<", 3.0, "latency", None),
    ("error_rate < 1%", "error_rate", "<", 0.01, "ratio", None),
    ("error_rate < 0.1%", "error_rate", "<", 0.001, "ratio", None),
    ("error_rate<=0.01", "error_rate", "<=", 0.01, "ratio", None),
    ("error_rate == 0%", "error_rate", "==", 0.0, "ratio", None),
    ("success_rate >= 95%", "success_rate", ">=", 0.95, "ratio", None),
    ("success_rate > 0.999", "success_rate", ">", 0.999, "ratio", None),
    ("success_rate >= 100%", "success_rate", ">=", 1.0, "ratio", None),
    ("throughput > 500/s", "throughput", ">", 500.0, "rate", None),
    ("throughput >= 1000.5 /s", "throughput", ">=", 1000.5, "rate", None),
    ("throughput > 500", "throughput", ">", 500.0, "rate", None),
    ("count >= 1000", "count", ">=", 1000.0, "count", None),
    ("delivery.count >= 200", "count", ">=", 200.0, "count", "delivery"),
    ("errors == 0", "errors", "==", 0.0, "count", None),
    ("errors < 5", "errors", "<", 5.0, "count", None),
    ("  p95   <   50ms  ", "p95", "<", 0.05, "latency", None),
    ("P95 < 50ms", "p95", "<", 0.05, "latency", None),
    ("p95 < .5s", "p95", "<", 0.5, "latency", None),
]

REJECTED = [
    ("p95 < 50xs", "does not read"),
    ("p95 < 5%", "latency"),
    ("p95 < 500/s", "latency"),
    ("error_rate < 50ms", "share"),
    ("error_rate < 5", "did you mean 5%"),
    ("error_rate < 150%", "between 0% and 100%"),
    ("success_rate >= 95/s", "share"),
    ("throughput > 500ms", "per second"),
    ("throughput > 5%", "per second"),
    ("count >= 10ms", "plain count"),
    ("count >= 10.5", "whole number"),
    ("errors == 1%", "plain count"),
    ("p0 < 1ms", "between 0 and 100"),
    ("p101 < 1ms", "between 0 and 100"),
    ("p95 =< 50ms", "does not read"),
    ("p95 = 50ms", "does not read"),
    ("p95 != 50ms", "does not read"),
    ("latency < 50ms", "unknown statistic"),
    ("p95", "does not read"),
    ("", "does not read"),
    ("p95 < -5ms", "does not read"),
    ("p95 < 50ms and p99 < 100ms", "does not read"),
    ("rtt.error_rate < 1%", "whole result"),
    ("rtt.throughput > 5/s", "whole result"),
    ("rtt.errors == 0", "whole result"),
    ("1.p95 < 5ms", "does not read"),
    ("p95 < 1e3ms", "does not read"),
    ("p95 < 50 msec", "does not read"),
]


@pytest.mark.parametrize(("text", "stat", "op", "limit", "kind", "metric"), ACCEPTED)
def test_accepted(text: str, stat: str, op: str, limit: float, kind: str, metric: str | None) -> None:
    criterion = slo.parse(text)
    assert (criterion.stat, criterion.op, criterion.kind, criterion.metric) == (stat, op, kind, metric)
    assert criterion.limit == pytest.approx(limit)


@pytest.mark.parametrize(("text", "problem"), REJECTED)
def test_rejected(text: str, problem: str) -> None:
    with pytest.raises(CriterionError) as info:
        slo.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert problem in message
    assert "accepted forms" in message
    assert isinstance(info.value, ValueError)


def test_counts_of_cases() -> None:
    assert len(ACCEPTED) >= 30
    assert len(REJECTED) >= 20


@pytest.mark.parametrize("value", [None, 50, b"p95 < 5ms", ["p95 < 5ms"]])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(CriterionError, match="expected a string"):
        slo.parse(value)  # type: ignore[arg-type]


def test_parse_is_idempotent_on_criteria() -> None:
    criterion = slo.parse("p95 < 50ms")
    assert slo.parse(criterion) is criterion
    assert str(criterion) == "p95 < 50ms"


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("p95 < 50ms", 0.049, True),
        ("p95 < 50ms", 0.05, False),
        ("p95 <= 50ms", 0.05, True),
        ("success_rate > 95%", 0.95, False),
        ("success_rate >= 95%", 0.95, True),
        ("errors == 0", 0.0, True),
        ("errors == 0", 1.0, False),
        ("p95 < 50ms", float("nan"), False),
    ],
)
def test_holds(text: str, value: float, holds: bool) -> None:
    assert slo.parse(text).holds(value) is holds
