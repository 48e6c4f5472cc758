"""The numbers behind the HTML report: timelines, spectra, histograms, margins, the summary."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from pytest_roo.report import figures
from pytest_roo.results.metrics import LatencyMetric


def point(second: int, ops: int = 10, errors: Any = 0, p95: float | None = 0.002) -> dict[str, Any]:
    return {"second": second, "ops": ops, "errors": errors, "p95": p95}


# --- timelines ----------------------------------------------------------------------------------


def test_short_timeline_keeps_every_second_and_fills_gaps() -> None:
    out = figures.downsample_timeline([point(0), point(1, ops=20, errors=2), point(3)])
    assert out["bucket"] == 1
    assert out["t"] == [0, 1, 2, 3]
    assert out["ops"] == [10.0, 20.0, 0.0, 10.0]  # second 2 completed nothing: a gap, not skipped
    assert out["errors"] == [0.0, 2.0, 0.0, 0.0]
    assert out["ok"] == [10.0, 18.0, 0.0, 10.0]
    assert out["latency_ms"] == {"p95": [2.0, 2.0, None, 2.0]}


def test_long_timeline_is_folded_into_buckets_that_keep_totals_and_peaks() -> None:
    points = [point(s, ops=100, errors=int(s == 1234), p95=0.001) for s in range(3600)]
    points[1234]["p95"] = 0.5  # one slow second must survive the folding
    out = figures.downsample_timeline(points, max_points=600)
    assert out["bucket"] == 6 and len(out["t"]) == 600
    assert out["t"][:3] == [0, 6, 12]
    assert sum(ops * 6 for ops in out["ops"]) == pytest.approx(360_000)
    assert sum(e * 6 for e in out["errors"]) == pytest.approx(1, rel=1e-3)  # 4 digits kept
    assert max(out["latency_ms"]["p95"]) == 500.0
    assert out["latency_ms"]["p95"][1234 // 6] == 500.0


def test_last_partial_bucket_is_averaged_over_its_own_seconds() -> None:
    out = figures.downsample_timeline([point(s, ops=10) for s in range(5)], max_points=2)
    assert out["bucket"] == 3 and out["t"] == [0, 3]
    assert out["ops"] == [10.0, 10.0]


def test_error_kinds_per_second_get_series_of_their_own() -> None:
    out = figures.downsample_timeline(
        [point(0, errors={"timeout": 2, "refused": 1}), point(1, errors={"timeout": 1})]
    )
    assert out["errors"] == [3.0, 1.0]
    assert out["error_kinds"] == {"refused": [1.0, 0.0], "timeout": [2.0, 1.0]}


def test_all_latency_stats_of_the_points_are_charted_in_order() -> None:
    out = figures.downsample_timeline([{"second": 0, "ops": 1, "p99": 0.003, "p50": 0.001,
                                        "p95": 0.002}])
    assert list(out["latency_ms"]) == ["p50", "p95", "p99"]


def test_empty_timeline_and_bad_bounds() -> None:
    assert figures.downsample_timeline([])["t"] == []
    with pytest.raises(ValueError, match="max_points"):
        figures.downsample_timeline([point(0)], max_points=0)


# --- distributions ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def metric() -> LatencyMetric:
    rng = np.random.default_rng(7)
    m = LatencyMetric("rtt")
    m.record_many_us(rng.lognormal(np.log(3000), 0.8, 50_000).astype(np.int64))
    m.record_many_us([1, 2, 5_000_000])  # extremes: the first buckets and a long tail
    return m


def test_percentiles_match_hdrhistogram(metric: LatencyMetric) -> None:
    hist = metric.histogram
    wanted = [0, 0.001, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 100]
    assert figures.values_at_percentiles(hist, wanted) == [
        float(hist.get_value_at_percentile(p)) for p in wanted
    ]


def test_spectrum_runs_from_the_minimum_to_the_maximum(metric: LatencyMetric) -> None:
    small = LatencyMetric("connect")
    small.record_many_us([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])
    sp = figures.spectrum({"rtt": metric.histogram, "connect": small.histogram})
    x = sp["x"]
    assert x[0] == 1 and x == sorted(x) and x[-1] == metric.count
    assert sp["counts"] == {"rtt": metric.count, "connect": 10}
    rtt = sp["series"]["rtt"]
    assert rtt[0] == pytest.approx(metric.min * 1000, rel=1e-3)
    assert rtt[-1] == pytest.approx(metric.max * 1000, rel=1e-3)
    assert all(a <= b for a, b in itertools.pairwise(rtt))
    # x = 1 / (1 - p): x = 100 is the 99th percentile
    i = x.index(100)
    assert sp["percentile"][i] == pytest.approx(99.0)
    assert rtt[i] == pytest.approx(metric.percentile(99) * 1000, rel=1e-3)
    # the small metric ends with its maximum where its own samples end, then has no values
    connect = sp["series"]["connect"]
    end = x.index(10)
    assert connect[end] == pytest.approx(small.max * 1000, rel=1e-3)
    assert all(v is None for v in connect[end + 1 :])
    assert len(x) < 80  # ten points a decade: small whatever the sample count


def test_spectrum_of_nothing() -> None:
    assert figures.spectrum({"rtt": LatencyMetric("rtt").histogram})["x"] == []


def test_histogram_counts_every_sample_in_log_bins(metric: LatencyMetric) -> None:
    h = figures.latency_histogram({"rtt": metric.histogram}, bins=40)
    assert len(h["x"]) == 40 and h["x"] == sorted(h["x"])
    assert sum(h["series"]["rtt"]) == metric.count
    ratios = {round(b / a, 3) for a, b in itertools.pairwise(h["x"][5:])}
    assert len(ratios) <= 2  # equal ratios: log-spaced (rounding aside)


def test_histogram_of_a_single_value() -> None:
    m = LatencyMetric("one")
    m.record_many_us([1000] * 5)
    h = figures.latency_histogram({"one": m.histogram})
    assert sum(h["series"]["one"]) == 5


def test_resource_samples_in_every_accepted_shape() -> None:
    rows: list[dict[str, Any]] = [{"t": 0, "rss": 2**20, "cpu": 0.25, "fds": 10, "app": {"uss": 2**21}},
            {"t": 1, "rss": 2**21, "cpu": 0.5, "fds": 12, "app": {"uss": 2**21}}]
    out = figures.resource_timeline(rows)
    assert out is not None
    assert out["t"] == [0.0, 1.0]
    assert out["groups"]["memory"] == {"app.uss": [2.0, 2.0], "rss": [1.0, 2.0]}
    assert out["groups"]["cpu"] == {"cpu": [25.0, 50.0]}
    assert out["groups"]["other"] == {"fds": [10.0, 12.0]}
    assert figures.resource_timeline({"samples": rows}) == out
    columns = {"t": [0, 1], "rss": [2**20, 2**21], "cpu": [0.25, 0.5], "fds": [10, 12],
               "app.uss": [2**21, 2**21]}
    assert figures.resource_timeline(columns) == out
    unix = [{**row, "t": 1_700_000_000 + row["t"]} for row in rows]
    shifted = figures.resource_timeline(unix, started_at=1_700_000_000)
    assert shifted is not None and shifted["t"] == [0.0, 1.0]


def test_long_resource_series_keep_their_peaks() -> None:
    rows = [{"t": i, "rss": 2**20 * (50 if i == 777 else 1)} for i in range(2000)]
    out = figures.resource_timeline(rows, max_points=500)
    assert out is not None and len(out["t"]) == 500
    assert max(out["groups"]["memory"]["rss"]) == 50.0


@pytest.mark.parametrize("resources", [None, [], {}, [{"rss": 1}], {"x": 1}, [{"t": 0}]])
def test_no_resource_chart_without_samples(resources: Any) -> None:
    assert figures.resource_timeline(resources) is None


# --- verdicts -----------------------------------------------------------------------------------


def verdict(criterion: str, op: str, limit: float, measured: float | None, passed: bool,
            **extra: Any) -> dict[str, Any]:
    return {"criterion": criterion, "result": "r", "metric": None, "op": op, "limit": limit,
            "measured": measured, "measured_text": str(measured), "limit_text": f"{op} {limit}",
            "samples": 100, "passed": passed, "reason": "", **extra}


@pytest.mark.parametrize(
    ("op", "limit", "measured", "expected"),
    [
        ("<", 0.05, 0.04, 0.2),
        ("<=", 0.05, 0.06, -0.2),
        (">", 1000.0, 1500.0, 0.5),
        (">=", 0.95, 0.9, -0.0526),
        ("==", 10.0, 10.0, 0.0),
        ("==", 10.0, 12.0, -0.2),
        ("<", 0.0, 0.0, None),
        ("<", 0.05, None, None),
        ("<", 0.05, math.nan, None),
    ],
)
def test_margin(op: str, limit: float, measured: float | None, expected: float | None) -> None:
    assert figures.margin({"op": op, "limit": limit, "measured": measured}) == expected


def test_status_prefers_the_verdicts_own() -> None:
    assert figures.status_of({"passed": True}) == "pass"
    assert figures.status_of({"passed": False}) == "fail"
    assert figures.status_of({"passed": False, "status": "inconclusive"}) == "inconclusive"


def test_summary_counts_ranks_margins_and_says_what_failed() -> None:
    report = {
        "tests": [
            {"nodeid": "t.py::ok", "outcome": "passed", "results": [{}], "verdicts": [
                verdict("p95 < 50ms", "<", 0.05, 0.01, True),
                verdict("error_rate < 1%", "<", 0.01, 0.009, True),
            ]},
            {"nodeid": "t.py::slow", "outcome": "failed", "results": [{}], "verdicts": [
                verdict("p95 < 50ms", "<", 0.05, 0.08, False),
                verdict("success_rate >= 95%", ">=", 0.95, 1.0, False, status="inconclusive"),
            ]},
            {"nodeid": "t.py::broken", "outcome": "error", "message": "fixture exploded",
             "results": [], "verdicts": []},
            {"nodeid": "t.py::ui[firefox-Desktop Chrome]", "outcome": "failed",
             "message": "timeout", "results": [], "verdicts": []},
        ],
        "sections": {"matrix": {"cells": [
            {"nodeid": "t.py::ui[firefox-Desktop Chrome]", "cell": "firefox-Desktop Chrome",
             "outcome": "fail", "reason": "timeout"},
            {"nodeid": "t.py::ui[chromium-Desktop Chrome]", "cell": "chromium-Desktop Chrome",
             "outcome": "pass", "reason": ""},
        ]}},
    }
    s = figures.summarize(report, worst=3)
    assert s["criteria"] == 4 and s["results"] == 2
    assert s["counts"] == {"pass": 2, "fail": 1, "inconclusive": 1}
    assert s["outcomes"] == {"passed": 1, "failed": 2, "error": 1}
    assert [row["margin"] for row in s["worst"]] == [-0.6, 0.0526, 0.1]
    failed = [(f["test"], f["status"]) for f in s["failures"]]
    assert failed == [
        ("t.py::slow", "fail"),
        ("t.py::slow", "inconclusive"),
        ("t.py::broken", "error"),
        ("t.py::ui[firefox-Desktop Chrome]", "fail"),  # once, as the matrix says it
    ]
    assert s["failures"][2]["message"] == "fixture exploded"
    assert "timeout" in s["failures"][3]["message"]


def test_the_resource_monitors_timeline() -> None:
    """Schema pytest-roo/resources/v1: series with their own times, grouped by unit; the tree's
    totals, the generator and /metrics are charted, per-process series only without totals."""
    def series(name: str, source: str, unit: str, values: list[float | None],
               times: list[float] | None = None) -> dict[str, Any]:
        return {"name": name, "source": source, "unit": unit,
                "times": times or [0.0, 0.5, 1.0], "values": values}

    timeline: dict[str, Any] = {
        "schema": "pytest-roo/resources/v1", "started_at": 1_700_000_002.0, "interval": 0.5,
        "series": [
            series("rss", "total", "bytes", [2**20, 2**21, None]),
            series("cpu", "total", "percent", [50.0, 150.0, 100.0]),
            series("rss", "pid:42", "bytes", [2**20, 2**21, 2**21]),
            series("cpu", "generator", "percent", [20.0, 30.0, 25.0]),
            series("fds", "total", "count", [10, 11, 12]),
            series("http_requests", "metrics", "", [1.0, 5.0], times=[0.25, 0.75]),
        ],
    }
    out = figures.resource_timeline(timeline, started_at=1_700_000_000.0)
    assert out is not None
    assert out["t"] == [2.0, 2.25, 2.5, 2.75, 3.0]  # seconds since the run started
    assert out["groups"]["memory"] == {"rss": [1.0, None, 2.0, None, None]}
    assert out["groups"]["cpu"] == {"cpu": [50.0, None, 150.0, None, 100.0],
                                    "generator/cpu": [20.0, None, 30.0, None, 25.0]}
    assert out["groups"]["other"] == {"fds": [10.0, None, 11.0, None, 12.0]}
    assert out["groups"]["metrics"] == {"metrics/http_requests": [None, 1.0, None, 5.0, None]}
    without_totals = {**timeline, "series": [s for s in timeline["series"]
                                             if s["source"] != "total"]}
    per_process = figures.resource_timeline(without_totals, started_at=1_700_000_000.0)
    assert per_process is not None and "pid:42/rss" in per_process["groups"]["memory"]
