"""Latency metrics kept in nanoseconds: sub-microsecond timings (pytest-benchmark's rounds of a
fast call) judged, serialised and shown without being rounded to 1 us."""

from __future__ import annotations

import math

import pytest

from pytest_roo import slo
from pytest_roo.results.metrics import LatencyMetric, LoadResult
from pytest_roo.slo.judge import lost_early
from pytest_roo.units import format_duration


def _rounds(ns: list[float]) -> LoadResult:
    return LoadResult.from_samples("bench", [v * 1e-9 for v in ns], metric="round", unit="ns")


def test_samples_keep_their_nanoseconds() -> None:
    result = _rounds([117.0] * 50 + [181.9] * 50)
    metric = result.get_metric("round")
    assert metric.unit == "ns" and metric.seconds_per_tick == 1e-9
    assert metric.min == pytest.approx(117e-9)
    assert metric.max == pytest.approx(182e-9)  # rounded to the nearest nanosecond, not cut
    assert metric.percentile(50) == pytest.approx(117e-9)


def test_microseconds_stay_the_default_and_round_to_the_nearest() -> None:
    metric = LoadResult.from_samples("r", [0.01] * 3).get_metric("latency")
    assert metric.unit == "us"
    assert metric.min == 0.01  # 0.01 * 1e6 is 9999.999...: rounded, not truncated to 9999


def test_criteria_in_nanoseconds_are_judged_on_them() -> None:
    result = _rounds([100.0 + (i % 10) for i in range(200)])  # 100 .. 109 ns
    assert slo.parse("p95 < 500ns").limit == pytest.approx(5e-7)
    (passed,) = slo.check(result, "round.p95 < 150ns")
    assert passed.status == "pass" and passed.bound is not None and passed.bound < 150e-9
    with pytest.raises(slo.SloFailure, match="109 ns"):
        slo.check(result, "round.p95 < 100ns")
    # the early-loss budget counts samples above the limit in the metric's own unit
    (lost,) = lost_early(result, ["round.p95 < 105ns"], expected_operations=200)
    assert "bad operations" in lost.reason


def test_json_keeps_the_unit_and_the_values() -> None:
    result = _rounds([117.0, 250.0, 999.0])
    data = result.to_dict()
    assert data["metrics"]["round"]["unit"] == "ns"
    back = LoadResult.from_json(result.to_json()).get_metric("round")
    assert back.unit == "ns"
    assert back.min == pytest.approx(117e-9) and back.max == pytest.approx(999e-9)
    merged = LoadResult.from_dict(data).merge(LoadResult.from_dict(data)).get_metric("round")
    assert merged.unit == "ns" and merged.count == 6


def test_units_do_not_mix() -> None:
    with pytest.raises(ValueError, match="kept in ns with one kept in us"):
        LatencyMetric("x", "ns").merge(LatencyMetric("x"))
    with pytest.raises(ValueError, match="unit must be 'us' or 'ns', got 'ms'"):
        LatencyMetric("x", "ms")


def test_charts_get_microseconds() -> None:
    metric = _rounds([400.0, 1600.0, 2_500_000.0]).get_metric("round")
    hist = metric.microsecond_histogram()
    assert hist.get_total_count() == 3
    assert hist.get_min_value() == 1  # 0.4 us: at least 1 us on a microsecond chart
    assert math.isclose(hist.get_max_value(), 2500, rel_tol=1e-3)


def test_sub_microsecond_values_are_shown_in_nanoseconds() -> None:
    assert format_duration(117e-9) == "117 ns"
    assert format_duration(2.5e-6) == "2.50 us"
    assert format_duration(0.0) == "0 us"


def test_the_html_report_draws_nanosecond_metrics_at_their_scale() -> None:
    from pytest_roo.report.html import result_figures

    figures = result_figures(_rounds([40_000.0] * 20).to_dict())  # 40 us, kept in ns
    assert set(figures["spectrum"]["series"]["round"]) == {0.04}  # milliseconds, not 40
