"""LoadResult and LatencyMetric: bulk folding, merge, JSON, corrections."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from pytest_roo.results.metrics import HIGHEST_US, LatencyMetric, LoadResult, TimelinePoint


def test_bulk_fold_matches_record_value_exactly() -> None:
    rng = random.Random(7)
    values = [rng.randint(1, 50_000_000) for _ in range(20_000)] + [1, 2, 2047, 2048, 2049]
    metric = LatencyMetric("x")
    metric.record_many_us(values)
    reference = HdrHistogram(1, HIGHEST_US, 3)
    for value in values:
        reference.record_value(value)
    hist = metric.histogram
    assert list(hist.counts) == list(reference.counts)
    assert hist.total_count == reference.total_count
    assert hist.get_max_value() == reference.get_max_value()
    assert hist.get_min_value() == reference.get_min_value()
    for p in (50, 90, 99, 99.9):
        assert metric.percentile(p) == reference.get_value_at_percentile(p) / 1e6


def test_pending_samples_are_folded_on_read() -> None:
    metric = LatencyMetric("rtt")
    for ms in range(1, 101):
        metric.record(ms / 1000)
    metric.record_us(500_000)
    assert metric.count == 101
    assert metric.max == pytest.approx(0.5, rel=1e-3)
    assert metric.percentile(50) == pytest.approx(0.051, rel=1e-3)


def test_values_beyond_an_hour_are_clipped_and_counted() -> None:
    metric = LatencyMetric("x")
    metric.record_many_us([HIGHEST_US * 2, 10])
    assert metric.count == 2 and metric.clipped == 1
    assert metric.max == pytest.approx(3600, rel=1e-3)


def test_empty_metric_reads_nan() -> None:
    metric = LatencyMetric("x")
    assert metric.count == 0
    assert np.isnan(metric.percentile(95)) and np.isnan(metric.max)
    with pytest.raises(ValueError, match="between 0 and 100"):
        metric.percentile(101)


def test_corrected_recording_backfills_coordinated_omission() -> None:
    # one 200 ms stall at an expected interval of 10 ms stands for 19 more delayed requests
    metric = LatencyMetric("x")
    metric.record_corrected_us(200_000, 10_000)
    assert metric.count == 20
    assert metric.percentile(50) == pytest.approx(0.1, rel=0.01)
    plain = LatencyMetric("y")
    plain.record_corrected_us(5_000, 10_000)
    assert plain.count == 1


def make_result(name: str, values_ms: list[int], start: float, errors: int = 0) -> LoadResult:
    result = LoadResult(name=name, started_at=start, duration=2.0)
    result.metric("rtt").record_many_us([v * 1000 for v in values_ms])
    result.metric("connect").record_us(3000)
    result.operations = len(values_ms) + errors
    result.add_error("timeout", errors)
    result.timeline = [TimelinePoint(0, 5, errors, 0.002), TimelinePoint(1, 5, 0, 0.004)]
    result.counters["late"] = 1
    return result


def test_merge_is_exact_and_aligns_timelines() -> None:
    a = make_result("run", [1] * 90 + [100] * 10, start=1000.0, errors=2)
    b = make_result("run", [2] * 100, start=1001.0)
    merged = a.merge(b)
    assert merged.operations == 202
    assert merged.errors["timeout"] == 2
    assert merged.counters["late"] == 2
    assert merged.metric("rtt").count == 200
    assert merged.duration == pytest.approx(3.0)
    # 100 samples at 2 ms, 90 at 1 ms, 10 at 100 ms: p95 is 100 ms, p50 is 2 ms
    assert merged.percentile("rtt", 50) == pytest.approx(0.002, rel=1e-3)
    assert merged.percentile("rtt", 96) == pytest.approx(0.1, rel=1e-3)
    assert [(p.second, p.ops) for p in merged.timeline] == [(0, 5), (1, 10), (2, 5)]
    assert merged.timeline[1].p95 == 0.004
    reference = HdrHistogram(1, HIGHEST_US, 3)
    reference.add(a.metric("rtt").histogram)
    reference.add(b.metric("rtt").histogram)
    assert list(merged.metric("rtt").histogram.counts) == list(reference.counts)


def test_json_round_trip_is_lossless() -> None:
    result = make_result("run", list(range(1, 500)), start=1000.0, errors=3)
    result.saturated = "load generator saturated: 95% CPU"
    text = result.to_json()
    data = json.loads(text)
    assert data["metrics"]["rtt"]["hdr"].startswith("HISTF")
    assert data["metrics"]["rtt"]["summary"]["count"] == 499
    back = LoadResult.from_json(text)
    assert list(back.metric("rtt").histogram.counts) == list(result.metric("rtt").histogram.counts)
    assert back.to_dict() == result.to_dict()


def test_from_dict_rejects_unknown_schema() -> None:
    with pytest.raises(ValueError, match="unknown LoadResult schema"):
        LoadResult.from_dict({"schema": "other/v9", "name": "x"})


def test_rates() -> None:
    result = make_result("run", [1] * 98, start=0.0, errors=2)
    assert result.error_rate == pytest.approx(0.02)
    assert result.success_rate == pytest.approx(0.98)
    assert result.throughput == pytest.approx(49.0)
    assert np.isnan(LoadResult(name="none").error_rate)


def test_get_metric_names_what_exists() -> None:
    result = make_result("run", [1], start=0.0)
    assert result.primary == "rtt"
    with pytest.raises(KeyError, match=r"no latency metric 'delivery' \(has: connect, rtt\)"):
        result.get_metric("delivery")


def test_from_samples() -> None:
    result = LoadResult.from_samples("bench", [0.001, 0.002, 0.003], metric="round")
    assert result.operations == 3 and result.primary == "round"
    assert result.duration == pytest.approx(0.006)
