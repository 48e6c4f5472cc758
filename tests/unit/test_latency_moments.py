"""LatencyMetric's mean and standard deviation, computed from the histogram's counts with numpy,
are HdrHistogram's own figures (every bucket at its median equivalent value)."""

from __future__ import annotations

import math
import random

import pytest

from pytest_roo.results.latency import LatencyMetric

DISTRIBUTIONS = {
    "lognormal": lambda rng: rng.lognormvariate(-6, 1.5),
    "uniform-2ms": lambda rng: rng.uniform(0, 0.002),
    "spread": lambda rng: rng.choice([1e-6, 5e-4, 2.0, 3000.0]),
}


@pytest.mark.parametrize("unit", ["us", "ns"])
@pytest.mark.parametrize("dist", list(DISTRIBUTIONS))
def test_mean_and_stdev_are_hdrhistograms(unit: str, dist: str) -> None:
    rng = random.Random(7)
    metric = LatencyMetric("rtt", unit=unit)
    for _ in range(3000):
        metric.record(DISTRIBUTIONS[dist](rng))
    hist = metric.histogram
    tick = metric.seconds_per_tick
    assert math.isclose(metric.mean, hist.get_mean_value() * tick, rel_tol=1e-12)
    assert math.isclose(metric.stdev, hist.get_stddev() * tick, rel_tol=1e-12)


def test_no_samples_have_no_mean() -> None:
    metric = LatencyMetric("rtt")
    assert math.isnan(metric.mean) and math.isnan(metric.stdev)
    assert metric.summary() == {"count": 0}


def test_one_sample_has_no_spread() -> None:
    metric = LatencyMetric("rtt")
    metric.record(0.005)
    assert metric.stdev == 0.0
    assert metric.mean == pytest.approx(0.005, rel=1e-3)


def _count_above_by_iterator(hist: object, limit: float, inclusive: bool) -> int:
    """What the judge counted with HdrHistogram's own iterator."""
    above = 0
    for item in hist.get_recorded_iterator():  # type: ignore[attr-defined]
        value = item.value_iterated_to
        if value > limit or (inclusive and hist.values_are_equivalent(  # type: ignore[attr-defined]
                value, int(limit))):
            above += item.count_at_value_iterated_to
    return above


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_samples_above_a_limit_are_counted_as_by_hdrhistogram(unit: str) -> None:
    from pytest_roo.slo.judge import _count_above

    rng = random.Random(11)
    metric = LatencyMetric("rtt", unit=unit)
    for _ in range(3000):
        metric.record(rng.lognormvariate(-6, 1.5))
    hist = metric.histogram
    recorded = (metric.percentile(50), metric.percentile(99), metric.max)  # on a bucket
    for seconds in (0.0, 1e-6, 0.0005, 0.00247, 0.05, 1.0, 5000.0, *recorded):
        limit = seconds / metric.seconds_per_tick
        for inclusive in (False, True):
            assert _count_above(hist, limit, inclusive) == _count_above_by_iterator(
                hist, limit, inclusive), (seconds, inclusive)
