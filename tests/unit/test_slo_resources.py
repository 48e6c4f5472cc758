"""Resource criteria: parsing with units, and judging a result's resource timeline (synthetic
series: flat, slow leak, sawtooth GC, step; CPU quantiles; return to baseline)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_roo import slo
from pytest_roo.monitor.timeline import Series, Timeline
from pytest_roo.results.metrics import LoadResult

MiB = 2.0**20


@pytest.mark.parametrize(("text", "limit", "kind"), [
    ("memory.max < 1GB", 2.0**30, "memory"),
    ("memory.max < 512 MB", 512 * MiB, "memory"),
    ("uss.p95 <= 300MB", 300 * MiB, "memory"),
    ("memory.mean < 64KB", 64 * 1024.0, "memory"),
    ("memory.growth < 5%", 0.05, "ratio"),
    ("memory.growth < 50MB", 50 * MiB, "memory"),
    ("memory.slope < 1MB/min", MiB / 60.0, "memory_rate"),
    ("memory.slope < 100KB/s", 100 * 1024.0, "memory_rate"),
    ("memory.slope < 1GB/h", 2.0**30 / 3600.0, "memory_rate"),
    ("memory.after_load < 10%", 0.10, "ratio"),
    ("cpu.p95 < 80%", 0.80, "ratio"),
    ("cpu.max < 250%", 2.5, "ratio"),
])
def test_resource_criteria_parse_into_base_units(text: str, limit: float, kind: str) -> None:
    criterion = slo.parse(text)
    assert criterion.limit == pytest.approx(limit)
    assert criterion.kind == kind
    assert criterion.resource in ("rss", "uss", "cpu")


@pytest.mark.parametrize(("text", "named"), [
    ("memory.max < 1TB", "'TB'"),
    ("memory.max < 1", "no unit"),
    ("memory.max < 10%", "KB, MB, GB"),
    ("memory.slope < 1MB", "MB/min"),
    ("memory.slope < 1MB/day", "per min, s or h"),
    ("memory.after_load < 10MB", "use %"),
    ("cpu.p95 < 80", "use %"),
    ("cpu.p95 < 0.8GB", "use %"),
    ("cpu.growth < 5%", "cpu.max"),
    ("memory.speed < 5MB", "memory.max"),
    ("memory.max > 1GB", "use < or <="),
    ("memory.max < 0GB", "never below 0"),
    ("cpu.p100 < 80%", "cpu.max"),
    ("p95 < 50 bananas", "unknown unit 'bananas'"),
])
def test_bad_resource_criteria_name_the_text_and_the_accepted_forms(text: str, named: str) -> None:
    with pytest.raises(slo.CriterionError) as info:
        slo.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert named in message
    assert "memory.slope < 1MB/min" in message  # the accepted forms are listed


def _result(times: np.ndarray, values: np.ndarray, *, name: str = "rss",
            marks: dict[str, float] | None = None) -> LoadResult:
    timeline = Timeline(started_at=1_700_000_000.0, interval=1.0)
    unit = "percent" if name == "cpu" else "bytes"
    timeline.add(Series(name, "total", unit, [float(t) for t in times],
                        [float(v) for v in values]))
    timeline.marks.update(marks or {})
    result = LoadResult(name="soak")
    result.info["resources"] = timeline.to_dict()
    return result


def _memory(kind: str, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """10 minutes sampled every second around 100 MiB with 1 MiB of noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 600.0)
    v = 100 * MiB + rng.normal(0, MiB, t.size)
    if kind == "leak":
        v += 2 * MiB * t / 60.0  # 2 MiB a minute
    elif kind == "sawtooth":
        v += 20 * MiB * ((t % 30) / 30.0)  # a GC every 30 s drops back to the floor
    elif kind == "step":
        v += np.where(t >= 300, 10 * MiB, 0.0)
    return t, v


def _status(result: LoadResult, criterion: str) -> slo.Verdict:
    (verdict,) = slo.evaluate(result, [criterion])
    return verdict


@pytest.mark.parametrize(("series", "expected"), [
    ("flat", "pass"), ("leak", "fail"), ("sawtooth", "pass"), ("step", "fail"),
])
def test_memory_growth_judges_the_trend_of_the_floor(series: str, expected: str) -> None:
    t, v = _memory(series)
    verdict = _status(_result(t, v, marks={"steady": 30.0}), "memory.growth < 5%")
    assert verdict.status == expected, verdict
    assert verdict.kind == "ratio"
    if expected == "fail":
        assert verdict.reason


@pytest.mark.parametrize(("series", "expected"), [
    ("flat", "pass"), ("leak", "fail"), ("sawtooth", "pass"), ("step", "fail"),
])
def test_memory_slope_passes_only_when_the_upper_bound_clears_the_limit(
    series: str, expected: str
) -> None:
    t, v = _memory(series)
    verdict = _status(_result(t, v, marks={"steady": 30.0}), "memory.slope < 1MB/min")
    assert verdict.status == expected, verdict
    if expected == "pass":
        assert verdict.bound is not None and verdict.bound < verdict.limit
        assert verdict.confidence == pytest.approx(0.95)
    assert "/min" in verdict.measured_text


def test_a_short_noisy_series_is_inconclusive_not_a_pass() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(0.0, 40.0)
    v = 100 * MiB + rng.normal(0, 20 * MiB, t.size)
    verdict = _status(_result(t, v), "memory.slope < 1MB/min")
    assert verdict.status == "inconclusive"
    assert not verdict.passed


def test_slope_fails_a_leak_of_60kb_per_connection() -> None:
    """The soak suite's case: 20 connections a second each keeping 60 KB: 70 MiB a minute."""
    rng = np.random.default_rng(5)
    t = np.arange(0.0, 40.0, 0.5)
    v = 80 * MiB + 20 * 60 * 1024 * t + rng.normal(0, 0.3 * MiB, t.size)
    verdict = _status(_result(t, v, marks={"steady": 5.0}), "memory.slope < 2MB/min")
    assert verdict.status == "fail", verdict


def test_memory_max_and_cpu_quantile() -> None:
    t = np.arange(0.0, 120.0, 0.5)
    memory = _result(t, np.full(t.size, 300 * MiB))
    assert _status(memory, "memory.max < 1GB").status == "pass"
    failed = _status(memory, "memory.max < 256MB")
    assert failed.status == "fail" and "300.00 MiB" in failed.reason
    assert failed.measured_text == "300.00 MiB"

    rng = np.random.default_rng(2)
    idle = _result(t, rng.uniform(20, 40, t.size), name="cpu")
    verdict = _status(idle, "cpu.p95 < 80%")
    assert verdict.status == "pass" and verdict.measured < 0.4
    busy = _result(t, rng.uniform(150, 190, t.size), name="cpu")
    assert _status(busy, "cpu.p95 < 80%").status == "fail"
    few = _result(t[:10], rng.uniform(20, 40, 10), name="cpu")
    assert _status(few, "cpu.p95 < 80%").status == "inconclusive"  # 10 samples bound nothing


def test_levels_are_judged_between_the_marks() -> None:
    t = np.arange(0.0, 60.0, 0.5)
    v = np.where(t < 10, 2 * 2.0**30, 300 * MiB)  # 2 GiB before the load starts
    assert _status(_result(t, v), "memory.max < 1GB").status == "fail"
    marked = _result(t, v, marks={"load_start": 10.0, "load_end": 60.0})
    assert _status(marked, "memory.max < 1GB").status == "pass"


def test_after_load_compares_the_level_after_the_load_with_the_one_before() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(0.0, 60.0, 0.5)
    marks = {"load_start": 15.0, "load_end": 40.0, "settled": 45.0}
    back = np.where((t >= 15) & (t < 40), 200 * MiB, 100 * MiB) + rng.normal(0, MiB, t.size)
    assert _status(_result(t, back, marks=marks), "memory.after_load < 10%").status == "pass"
    kept = np.where(t >= 15, 150 * MiB, 100 * MiB) + rng.normal(0, MiB, t.size)
    verdict = _status(_result(t, kept, marks=marks), "memory.after_load < 10%")
    assert verdict.status == "fail" and verdict.measured == pytest.approx(0.5, abs=0.05)
    unmarked = _status(_result(t, kept), "memory.after_load < 10%")
    assert unmarked.status == "fail" and "load_start" in unmarked.reason


def test_a_result_without_a_timeline_fails_with_the_reason() -> None:
    verdict = _status(LoadResult(name="ws.echo"), "memory.max < 1GB")
    assert verdict.status == "fail"
    assert "monitor.attach" in verdict.reason
    t = np.arange(0.0, 10.0)
    missing = _status(_result(t, t, name="cpu"), "memory.max < 1GB")
    assert missing.status == "fail" and "total/rss" in missing.reason


def test_point_estimate_with_confidence_zero() -> None:
    t, v = _memory("flat")
    (verdict,) = slo.evaluate(_result(t, v), ["memory.growth < 5%"], confidence=0)
    assert verdict.status == "pass" and verdict.confidence == 0
    assert not math.isnan(verdict.measured)
