"""The resource verdicts on synthetic series whose truth is known.

Ten minutes sampled every second around 100 MiB with 1 MiB of noise; the allowed growth is 5 %
of the starting floor (about 5 MiB over the run). Each shape gets the verdict documented in
docs/monitor.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pytest_roo.monitor.trend import (
    format_value,
    judge_max,
    judge_quantile,
    judge_return_to_baseline,
    judge_trend,
    summarize,
    window_minima,
)
from pytest_roo.monitor.verdict import StatVerdict

MiB = 2.0**20
T = np.arange(0.0, 600.0, 1.0)


def noisy(seed: int, sd: float = 1 * MiB) -> np.ndarray:
    return 100 * MiB + np.random.default_rng(seed).normal(0, sd, T.size)


def judge(values: np.ndarray, **kwargs: Any) -> StatVerdict:
    options: dict[str, Any] = {"max_growth_ratio": 0.05, "warmup": 30.0}
    options.update(kwargs)
    return judge_trend(T, values, **options)


@pytest.mark.parametrize("seed", range(20))
def test_flat_with_noise_passes(seed: int) -> None:
    verdict = judge_trend(T, noisy(seed), max_growth_ratio=0.05, warmup=30)
    assert verdict.status == "pass", verdict.reason
    assert verdict.upper < verdict.limit
    assert verdict.samples == 570 and verdict.details["windows"] == 12


@pytest.mark.parametrize("seed", range(20))
def test_slow_leak_fails(seed: int) -> None:
    """2 MiB per minute: 19 MiB over the 9.5 judged minutes, four times the allowance."""
    verdict = judge_trend(T, noisy(seed) + 2 * MiB * T / 60, max_growth_ratio=0.05, warmup=30)
    assert verdict.status == "fail", verdict.reason
    assert verdict.lower > verdict.limit
    assert verdict.details["slope_per_min"] == pytest.approx(2 * MiB, rel=0.1)


def test_leak_below_the_allowance_passes() -> None:
    """0.1 MiB per minute is growth, but under the allowed 5 %: stable enough."""
    verdict = judge_trend(T, noisy(1) + 0.1 * MiB * T / 60, max_growth_ratio=0.05, warmup=30)
    assert verdict.status == "pass", verdict.reason


@pytest.mark.parametrize("seed", range(10))
def test_sawtooth_gc_passes(seed: int) -> None:
    """Climbs 20 MiB in 30 s, then a collection drops it back: the peaks are four times the
    allowance, but the floor is flat, and per-window minima (50 s windows) see the floor."""
    sawtooth = noisy(seed, sd=0.5 * MiB) + (T % 30) / 30 * 20 * MiB
    verdict = judge_trend(T, sawtooth, max_growth_ratio=0.05, warmup=30)
    assert verdict.status == "pass", verdict.reason


def test_sawtooth_with_a_growing_floor_fails() -> None:
    sawtooth = noisy(2, sd=0.5 * MiB) + (T % 30) / 30 * 20 * MiB + 2 * MiB * T / 60
    assert judge_trend(T, sawtooth, max_growth_ratio=0.05, warmup=30).status == "fail"


@pytest.mark.parametrize("seed", range(10))
def test_step_that_stays_fails(seed: int) -> None:
    """A 10 MiB step half-way that never comes back: FAIL (by the trend bound or, when the
    slope's interval is blurred by the flat halves, by the step check)."""
    step = noisy(seed) + np.where(T >= 300, 10 * MiB, 0.0)
    verdict = judge_trend(T, step, max_growth_ratio=0.05, warmup=30)
    assert verdict.status == "fail", verdict.reason
    assert verdict.details["step"] > verdict.limit


def test_small_step_under_the_allowance_does_not_fail() -> None:
    step = noisy(4) + np.where(T >= 300, 1 * MiB, 0.0)
    assert judge_trend(T, step, max_growth_ratio=0.05, warmup=30).status != "fail"


def test_too_short_is_inconclusive() -> None:
    verdict = judge_trend(T[:40], noisy(1)[:40], max_growth_ratio=0.05, warmup=30)
    assert verdict.status == "inconclusive"
    assert "too short" in verdict.reason


def test_too_noisy_is_inconclusive() -> None:
    """20 MiB of noise on a 5 MiB allowance: no trend is visible, and none is excluded."""
    verdict = judge_trend(T, noisy(1, sd=20 * MiB), max_growth=5 * MiB, warmup=30)
    assert verdict.status == "inconclusive", verdict.reason
    assert verdict.lower < verdict.limit < verdict.upper
    assert "not proof" in verdict.reason


def test_horizon_projects_the_slope() -> None:
    """0.1 MiB per minute passes over 10 minutes but not over a day."""
    leak = noisy(1, sd=0.2 * MiB) + 0.1 * MiB * T / 60
    assert judge_trend(T, leak, max_growth=5 * MiB, warmup=30).status == "pass"
    day = judge_trend(T, leak, max_growth=5 * MiB, warmup=30, horizon=86_400)
    assert day.status == "fail"
    assert day.estimate == pytest.approx(0.1 * MiB * 1440, rel=0.2)


def test_missing_samples_are_skipped() -> None:
    values = list(noisy(1))
    values[100] = None
    values[200] = float("nan")
    verdict = judge_trend(T, values, max_growth_ratio=0.05, warmup=30)
    assert verdict.status == "pass" and verdict.samples == 568


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "exactly one"), ({"max_growth": 1.0, "max_growth_ratio": 0.1}, "exactly one"),
     ({"max_growth": -1.0}, "max_growth must be"), ({"max_growth_ratio": float("nan")}, "fraction"),
     ({"max_growth": 1.0, "warmup": -1.0}, "warmup"),
     ({"max_growth": 1.0, "min_windows": 2}, "min_windows"),
     ({"max_growth": 1.0, "window": 0.0}, "window must be")],
)
def test_trend_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge_trend(T, noisy(1), **kwargs)


def test_window_minima() -> None:
    mids, minima = window_minima([0, 1, 2, 3, 4, 5, 6], [5, 3, 4, 9, 1, 8, 7], window=2.0)
    assert list(mids) == [1.0, 3.0, 5.0]  # the last window (t=6 only) covers < half: dropped
    assert list(minima) == [3.0, 4.0, 1.0]


def test_verdict_serialises() -> None:
    verdict = judge_trend(T, noisy(1), max_growth_ratio=0.05, warmup=30)
    data = verdict.to_dict()
    assert data["status"] == "pass" and data["unit"] == "bytes"
    assert set(data) >= {"estimate", "lower", "upper", "bound", "limit", "samples", "reason"}
    short = judge_trend(T[:3], noisy(1)[:3], max_growth=1.0).to_dict()
    assert short["estimate"] is None  # NaN becomes null in JSON


def test_return_to_baseline() -> None:
    rng = np.random.default_rng(9)
    before = 100 + rng.normal(0, 1, 30)
    assert judge_return_to_baseline(before, 101 + rng.normal(0, 1, 30), 0.05).status == "pass"
    stuck = judge_return_to_baseline(before, 130 + rng.normal(0, 1, 30), 0.05)
    assert stuck.status == "fail" and stuck.estimate == pytest.approx(0.30, abs=0.02)
    edge = judge_return_to_baseline(before, 105 + rng.normal(0, 3, 30), 0.05)
    assert edge.status == "inconclusive"
    few = judge_return_to_baseline(before, [100.0, 101.0], 0.05)
    assert few.status == "inconclusive" and "need at least" in few.reason


def test_max_and_quantile() -> None:
    t = np.arange(100.0)
    values = np.linspace(0, 99, 100)
    assert judge_max(t, values * MiB, 100 * MiB).status == "pass"
    over = judge_max(t, values * MiB, 50 * MiB)
    assert over.status == "fail" and over.estimate == 99 * MiB
    assert judge_max(t[:2], values[:2], 1.0).status == "inconclusive"
    cpu = judge_quantile(t, values, 0.95, 80.0, name="cpu.p95")
    assert cpu.status == "fail" and cpu.lower >= 80.0
    assert judge_quantile(t, values, 0.5, 80.0).status == "pass"
    assert judge_quantile(t, values, 0.95, 95.0).status == "inconclusive"


def test_summarize_and_format() -> None:
    summary = summarize(T, 100 * MiB + T * 1024)
    assert summary["max"] == pytest.approx(100 * MiB + 599 * 1024)
    assert summary["growth"] == pytest.approx(540 * 1024)
    assert format_value(3 * MiB, "bytes") == "3.00 MiB"
    assert format_value(0.0512, "ratio") == "5.12%"
