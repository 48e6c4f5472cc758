"""Verdicts on synthetic results whose true percentiles are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_roo import slo
from pytest_roo.results.metrics import LoadResult


def uniform_ms(n: int = 10_000) -> LoadResult:
    """Latencies 1 ms, 2 ms, ... 100 ms, each n/100 times: p50 = 50 ms, p95 = 95 ms, p99 = 99 ms."""
    result = LoadResult(name="uniform")
    values = np.repeat(np.arange(1, 101, dtype=np.int64) * 1000, n // 100)
    result.metric("rtt").record_many_us(values)
    result.operations = n
    result.duration = 10.0
    return result


@pytest.mark.parametrize(
    ("criterion", "passed", "measured"),
    [
        ("p50 < 51ms", True, 0.050),
        ("p50 < 49ms", False, 0.050),
        ("p95 < 96ms", True, 0.095),
        ("p95 < 94ms", False, 0.095),
        ("p99 <= 99.1ms", True, 0.099),
        ("max < 101ms", True, 0.100),
        ("max < 99ms", False, 0.100),
        ("min > 0.5ms", True, 0.001),
        ("mean < 51ms", True, 0.0505),
        ("count >= 10000", True, 10_000),
        ("count > 10000", False, 10_000),
        ("throughput >= 1000/s", True, 1000.0),
        ("throughput > 1000/s", False, 1000.0),
        ("error_rate < 1%", True, 0.0),
        ("success_rate >= 100%", True, 1.0),
        ("rtt.count == 10000", True, 10_000),
    ],
)
def test_known_percentiles(criterion: str, passed: bool, measured: float) -> None:
    # on the point estimate: these limits sit exactly at the measured values
    (verdict,) = slo.evaluate(uniform_ms(), [criterion], confidence=0)
    assert verdict.passed is passed, verdict
    assert verdict.measured == pytest.approx(measured, rel=1e-3)
    assert verdict.samples == 10_000


def test_error_rate_and_samples() -> None:
    result = uniform_ms()
    result.add_error("timeout", 50)
    result.add_error("http_5xx", 50)
    ok, bad = slo.evaluate(result, ["error_rate <= 1%", "error_rate < 1%"], confidence=0)
    assert ok.passed and not bad.passed
    assert ok.measured == pytest.approx(0.01)
    assert ok.samples == 10_000
    (errors,) = slo.evaluate(result, ["errors == 0"])
    assert not errors.passed and errors.measured == 100


def test_zero_samples_fail_never_vacuously() -> None:
    empty = LoadResult(name="empty")
    empty.metric("rtt")
    verdicts = slo.evaluate(empty, ["p95 < 3600s", "error_rate < 100%", "errors == 0", "count >= 0"])
    assert [v.passed for v in verdicts] == [False, False, False, False]
    assert all("no samples" in v.reason for v in verdicts)
    assert all(v.samples == 0 for v in verdicts)


def test_missing_metric_names_what_exists() -> None:
    (verdict,) = slo.evaluate(uniform_ms(), ["delivery.p95 < 1s"])
    assert not verdict.passed
    assert "delivery" in verdict.reason and "rtt" in verdict.reason


def test_saturated_generator_fails_every_criterion() -> None:
    result = uniform_ms()
    result.saturated = "load generator saturated: 97% CPU"
    verdicts = slo.evaluate(result, ["p95 < 1s", "error_rate < 1%"])
    assert not any(v.passed for v in verdicts)
    assert all("load generator saturated" in v.reason for v in verdicts)


def test_check_raises_a_table_of_all_verdicts() -> None:
    with pytest.raises(AssertionError) as info:
        slo.check(uniform_ms(), "p95 < 10ms", "p50 < 60ms", "error_rate < 1%")
    text = str(info.value)
    assert "1 of 3 criteria failed" in text
    for expected in ("p95 < 10ms", "p50 < 60ms", "error_rate < 1%", "95.0 ms", "FAIL", "PASS"):
        assert expected in text
    assert isinstance(info.value, slo.SloFailure)
    assert len(info.value.verdicts) == 3


def test_check_returns_verdicts_and_accepts_lists() -> None:
    verdicts = slo.check(uniform_ms(), ["p95 < 1s", "count > 1"])
    assert [v.passed for v in verdicts] == [True, True]


def test_check_needs_a_criterion_and_a_result() -> None:
    with pytest.raises(ValueError, match="at least one criterion"):
        slo.check(uniform_ms())
    with pytest.raises(TypeError, match="LoadResult or pytest-benchmark"):
        slo.check(object(), "p95 < 1s")


def test_check_accepts_benchmark_like_objects() -> None:
    class Inner:
        data = [0.001] * 99 + [0.2]

    class Stats:
        stats = Inner()
        name = "bench"

    class Bench:
        stats = Stats()
        name = "test_query"

    (verdict,) = slo.check(Bench(), "p95 < 100ms")
    assert verdict.samples == 100 and verdict.metric == "round"
    with pytest.raises(AssertionError):
        slo.check(Bench(), "max < 100ms")


def test_lost_early() -> None:
    result = uniform_ms(1000)  # 10 samples per ms value; 50 samples >= 96 ms
    # p95 < 96ms over 1000 expected ops allows 50 samples >= 96ms: 40 are there, not lost yet
    assert slo.lost_early(result, ["p95 < 96ms"], expected_operations=1000) == []
    # the same 40 slow samples are already too many if the run will only have 500 ops... but
    # expected can never be below what was measured, so use a stricter percentile instead
    lost = slo.lost_early(result, ["p99 < 50ms"], expected_operations=1000)
    assert len(lost) == 1 and not lost[0].passed and "lost early" in lost[0].reason
    result.add_error("timeout", 20)
    lost = slo.lost_early(result, ["error_rate < 1%", "success_rate >= 99%", "errors < 30", "mean < 1ms"], 1000)
    assert [v.criterion for v in lost] == ["error_rate < 1%", "success_rate >= 99%"]
    assert slo.lost_early(result, ["error_rate < 1%"], expected_operations=10_000) == []


def test_verdict_json_round_trip() -> None:
    (verdict,) = slo.evaluate(LoadResult(name="x"), ["p95 < 1s"])
    data = verdict.to_dict()
    assert data["measured"] is None and data["passed"] is False
    back = slo.Verdict.from_dict(data)
    assert back.criterion == verdict.criterion and math.isnan(back.measured)
