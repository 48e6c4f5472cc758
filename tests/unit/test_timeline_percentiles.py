"""Per-second p50/p95/p99 and errors by kind on a load run's timeline, and what the HTML report
draws of them and of a baseline beside the current run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from pytest_roo.load.recorder import Recorder
from pytest_roo.load.ticker import Timeline
from pytest_roo.report import figures
from pytest_roo.report.html import result_figures
from pytest_roo.results.metrics import LoadResult, TimelinePoint


def test_each_second_keeps_its_p50_p95_p99_and_errors_by_kind() -> None:
    rec = Recorder(LoadResult("unit"), "rtt")
    timeline = Timeline(rec, duration=2.0)
    rec.batch("rtt").extend(range(1_000, 101_000, 1_000))  # 1..100 ms
    rec.ops += 100
    rec.error("timeout", 3)
    rec.error("http_5xx")
    timeline.add(rec.fold())
    rec.batch("rtt").extend([5_000] * 10)
    rec.ops += 10
    rec.error("timeout", 2)
    timeline.add(rec.fold())
    first, second = rec.result.timeline
    assert (first.p50, first.p95, first.p99) == (
        np.percentile(np.arange(1, 101), 50) / 1e3, np.percentile(np.arange(1, 101), 95) / 1e3,
        np.percentile(np.arange(1, 101), 99) / 1e3)
    assert first.errors == 4 and first.error_kinds == {"timeout": 3, "http_5xx": 1}
    assert second.p50 == second.p99 == 0.005
    assert second.errors == 2 and second.error_kinds == {"timeout": 2}


def test_the_tail_second_takes_what_comes_after_the_window() -> None:
    rec = Recorder(LoadResult("unit"), "rtt")
    timeline = Timeline(rec, duration=1.0)
    rec.batch("rtt").extend([2_000] * 5)
    timeline.add(rec.fold())
    rec.batch("rtt").extend([9_000] * 5)
    rec.error("lost", 2)
    timeline.close(rec.fold(), 1.0)
    (only,) = rec.result.timeline
    assert only.p99 == 0.009 and only.p50 == 0.009  # the worse of the two batches
    assert only.error_kinds == {"lost": 2}


def test_points_round_trip_and_merge_with_the_new_fields() -> None:
    a = LoadResult("a", started_at=100.0, duration=1.0)
    a.timeline = [TimelinePoint(0, 10, 1, 0.004, 0.002, 0.009, {"timeout": 1})]
    b = LoadResult("b", started_at=100.0, duration=1.0)
    b.timeline = [TimelinePoint(0, 10, 2, 0.003, 0.001, 0.012, {"timeout": 1, "reset": 1})]
    merged = a.merge(b)
    point = merged.timeline[0]
    assert (point.p50, point.p95, point.p99) == (0.002, 0.004, 0.012)
    assert Counter(point.error_kinds) == Counter(timeout=2, reset=1) and point.errors == 3
    again = LoadResult.from_json(merged.to_json())
    assert again.timeline == merged.timeline
    # as read from a JSON report written before these fields
    old: dict[str, Any] = {"second": 0, "ops": 1, "errors": 0, "p95": 0.001}
    assert TimelinePoint(**old).error_kinds == {}


def test_the_report_charts_error_kinds_and_the_new_percentiles() -> None:
    points = [TimelinePoint(s, 10, 1, 0.004, 0.002, 0.009, {"timeout": 1}).to_dict()
              for s in range(3)]
    out = figures.downsample_timeline(points)
    assert list(out["latency_ms"]) == ["p50", "p95", "p99"]
    assert out["error_kinds"] == {"timeout": [1.0, 1.0, 1.0]}


def test_a_compared_result_draws_its_baseline_beside_it() -> None:
    base = LoadResult.from_samples("api", [0.005] * 100, metric="rtt", duration=2.0)
    base.timeline = [TimelinePoint(s, 50, 0, 0.005, 0.004, 0.006) for s in range(2)]
    current = LoadResult.from_samples("api", [0.025] * 100, metric="rtt", duration=3.0)
    current.timeline = [TimelinePoint(s, 33, 0, 0.025, 0.024, 0.026) for s in range(3)]
    data = current.to_dict()
    saved = base.to_dict()
    data["info"]["baseline"] = {"name": "main", "primary": "rtt",
                                "metric": saved["metrics"]["rtt"], "timeline": saved["timeline"]}
    figs = result_figures(data)
    latency = figs["timeline"]["latency_ms"]
    assert latency["p95 (baseline main)"] == [5.0, 5.0, None]
    assert latency["p95"] == [25.0, 25.0, 25.0]
    assert set(figs["spectrum"]["series"]) == {"rtt", "rtt (baseline main)"}
    assert set(figs["histogram"]["series"]) == {"rtt", "rtt (baseline main)"}
    assert max(v for v in figs["spectrum"]["series"]["rtt (baseline main)"] if v) < 5.1
