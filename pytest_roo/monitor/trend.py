"""Judging resource series: level limits, "memory stable" trends, return to baseline.

All functions are pure: they take sample times (seconds) and values (any unit) and return a
:class:`~pytest_roo.monitor.verdict.StatVerdict`.

"Stable" is judged on a trend, not on two points: after a warm-up the series is cut into windows,
each window keeps its minimum (the floor a garbage collector returns to, so a sawtooth counts by
its troughs, not its peaks), and the Theil-Sen slope of those minima is estimated with Sen's
confidence interval. Projected over the horizon (by default the analysed span):

- FAIL when the lower bound of the growth exceeds the allowed growth (a trend is shown), or when
  every window minimum of the last third lies above every window minimum of the first third by
  more than the allowed growth (a step that stayed);
- PASS only when the upper bound of the growth is under the allowed growth;
- INCONCLUSIVE otherwise: absence of a significant trend proves nothing when the interval is too
  wide to exclude the allowed growth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_roo.monitor.stats import hodges_lehmann_shift, quantile_bounds, theil_sen
from pytest_roo.monitor.verdict import FAIL, INCONCLUSIVE, PASS, Status, StatVerdict

__all__ = [
    "format_value",
    "judge_max",
    "judge_quantile",
    "judge_return_to_baseline",
    "judge_trend",
    "summarize",
    "window_minima",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def format_value(value: float, unit: str) -> str:
    """``format_value(3 * 2**20, "bytes") == "3.00 MiB"``; ratios as percent."""
    if not math.isfinite(value):
        return "-"
    if unit == "bytes":
        magnitude = abs(value)
        for name, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if magnitude >= size:
                return f"{value / size:.2f} {name}"
        return f"{value:.0f} B"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit == "percent":
        return f"{value:.1f}%"
    return f"{value:.4g}" + (f" {unit}" if unit else "")


def _series(times: Sequence[float] | Any, values: Sequence[float] | Any) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(times, dtype=np.float64).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    if t.size != v.size:
        raise ValueError(f"times and values differ in length ({t.size} and {v.size})")
    keep = np.isfinite(t) & np.isfinite(v)  # a missed sample is NaN / None: skip it
    t, v = t[keep], v[keep]
    order = np.argsort(t, kind="stable")
    return t[order], v[order]


def summarize(times: Sequence[float] | Any, values: Sequence[float] | Any) -> dict[str, float]:
    """max, p95, mean, first, last, growth (last minus first window floor) and its ratio.

    ``growth`` compares the minimum of the last tenth of the span with the minimum of the first
    tenth: a point figure for reports, not a verdict (use :func:`judge_trend` for that).
    """
    t, v = _series(times, values)
    if v.size == 0:
        return {"samples": 0.0}
    span = float(t[-1] - t[0])
    tenth = span / 10.0
    first = float(v[t <= t[0] + tenth].min())
    last = float(v[t >= t[-1] - tenth].min())
    return {
        "samples": float(v.size),
        "duration": span,
        "max": float(v.max()),
        "p95": float(np.quantile(v, 0.95)),
        "mean": float(v.mean()),
        "first": first,
        "last": last,
        "growth": last - first,
        "growth_ratio": (last - first) / first if first > 0 else math.nan,
    }


def judge_max(
    times: Sequence[float] | Any,
    values: Sequence[float] | Any,
    limit: float,
    *,
    name: str = "memory.max",
    unit: str = "bytes",
    min_samples: int = 3,
) -> StatVerdict:
    """``max < limit`` over what was sampled.

    A sampled maximum above the limit is a certain FAIL; one below it is a PASS for the sampled
    instants only (a spike between two samples is not seen: sample faster for short spikes).
    """
    _, v = _series(times, values)
    n = int(v.size)
    if n < min_samples:
        return StatVerdict(name, INCONCLUSIVE, math.nan, math.nan, math.nan, math.nan, limit, n,
                           unit, f"{n} samples, need at least {min_samples}")
    peak = float(v.max())
    status: Status = FAIL if peak >= limit else PASS
    relation = "reached" if status == FAIL else "stayed under"
    reason = (f"sampled maximum {format_value(peak, unit)} {relation} the limit "
              f"{format_value(limit, unit)} over {n} samples")
    return StatVerdict(name, status, peak, peak, peak, peak, limit, n, unit, reason)


def judge_quantile(
    times: Sequence[float] | Any,
    values: Sequence[float] | Any,
    q: float,
    limit: float,
    *,
    name: str | None = None,
    unit: str = "percent",
    confidence: float = 0.95,
) -> StatVerdict:
    """``p<q> < limit`` (e.g. CPU p95 < 80 %) on order-statistic bounds of the sampled values.

    PASS when the upper bound is under the limit, FAIL when the lower bound is at or above it.
    Consecutive resource samples are correlated, so read the bounds as optimistic when the
    interval is much shorter than the changes of the series.
    """
    label = name or f"p{q * 100:g}"
    _, v = _series(times, values)
    n = int(v.size)
    if n == 0:
        return StatVerdict(label, INCONCLUSIVE, math.nan, math.nan, math.nan, math.nan, limit, 0,
                           unit, "no samples: nothing was measured", confidence)
    interval = quantile_bounds(v, q, confidence)
    text = (f"{format_value(interval.estimate, unit)} ({confidence:.0%} CI "
            f"{format_value(interval.lower, unit)} .. {format_value(interval.upper, unit)}, "
            f"n={n}) vs limit {format_value(limit, unit)}")
    status: Status
    if interval.lower >= limit:
        status, bound = FAIL, interval.lower
    elif interval.attainable and interval.upper < limit:
        status, bound = PASS, interval.upper
    else:
        status, bound = INCONCLUSIVE, interval.upper
        if not interval.attainable:
            text += f": {n} samples are too few for a {confidence:.0%} bound on p{q * 100:g}"
    return StatVerdict(label, status, interval.estimate, interval.lower, interval.upper, bound,
                       limit, n, unit, text, confidence)


def window_minima(
    times: Sequence[float] | Any, values: Sequence[float] | Any, window: float,
    min_samples: int = 1,
) -> tuple[FloatArray, FloatArray]:
    """Per-window minima: (window mid-times, minima), windows of ``window`` seconds from the
    first sample; a last window covering less than half its length is dropped, and so is a
    window with fewer than ``min_samples`` samples (its minimum would be just noise)."""
    if not window > 0:
        raise ValueError(f"window must be a positive number of seconds, got {window!r}")
    t, v = _series(times, values)
    if t.size == 0:
        return np.empty(0), np.empty(0)
    start = float(t[0])
    index = np.floor((t - start) / window).astype(np.int64)
    mids: list[float] = []
    minima: list[float] = []
    last_index = int(index[-1])
    for k in np.unique(index):
        members = index == k
        if int(members.sum()) < min_samples:
            continue
        if k == last_index and k > 0 and float(t[members][-1] - (start + k * window)) < window / 2:
            continue
        mids.append(start + (k + 0.5) * window)
        minima.append(float(v[members].min()))
    return np.asarray(mids, dtype=np.float64), np.asarray(minima, dtype=np.float64)


def judge_trend(
    times: Sequence[float] | Any,
    values: Sequence[float] | Any,
    *,
    max_growth: float | None = None,
    max_growth_ratio: float | None = None,
    warmup: float = 0.0,
    window: float | None = None,
    windows: int = 12,
    horizon: float | None = None,
    confidence: float = 0.95,
    min_windows: int = 6,
    min_samples_per_window: int = 3,
    name: str = "memory.trend",
    unit: str = "bytes",
) -> StatVerdict:
    """Is the series stable? Theil-Sen trend of per-window minima against an allowed growth.

    Args:
        times, values: the samples (seconds; any unit). NaN / None samples are skipped.
        max_growth: allowed growth over ``horizon`` in the series' unit (e.g. bytes), or
        max_growth_ratio: allowed growth as a fraction of the level at the start (0.05 = 5 %).
        warmup: seconds from the first sample that are not judged (start-up, caches filling).
        window: seconds per window; by default the analysed span split into ``windows``.
            It must be longer than one cycle of a sawtooth (one GC period) for the minima
            to be the floor.
        horizon: seconds over which the slope is projected (default: the analysed span), e.g.
            3600 to judge "grows less than 50 MB per hour" from a 10-minute run.
        min_windows: fewer windows than this is INCONCLUSIVE (too short).
        min_samples_per_window: a window with fewer samples is left out (a minimum of one or
            two samples is noise, not a floor).

    The estimate is the projected growth (slope x horizon); ``lower`` / ``upper`` its Sen
    interval; ``details`` holds the slope per second and minute, the window minima, the
    baseline and the step check.

    Example::

        verdict = judge_trend(series.times, series.values, max_growth_ratio=0.05, warmup=30)
        assert not verdict.failed, verdict.reason
    """
    if (max_growth is None) == (max_growth_ratio is None):
        raise ValueError("give exactly one of max_growth (in the series' unit) or "
                         "max_growth_ratio (a fraction of the starting level, e.g. 0.05)")
    if max_growth is not None and not (math.isfinite(max_growth) and max_growth >= 0):
        raise ValueError(f"max_growth must be a finite number >= 0, got {max_growth!r}")
    if max_growth_ratio is not None and not (
        math.isfinite(max_growth_ratio) and max_growth_ratio >= 0
    ):
        raise ValueError(f"max_growth_ratio must be a fraction >= 0 (0.05 = 5 %), got "
                         f"{max_growth_ratio!r}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0 seconds, got {warmup!r}")
    if min_windows < 3:
        raise ValueError(f"min_windows must be at least 3, got {min_windows!r}")
    if min_samples_per_window < 1:
        raise ValueError(f"min_samples_per_window must be at least 1, got "
                         f"{min_samples_per_window!r}")
    t, v = _series(times, values)
    if t.size:
        keep = t >= t[0] + warmup
        t, v = t[keep], v[keep]
    samples = int(v.size)
    span = float(t[-1] - t[0]) if samples > 1 else 0.0

    def inconclusive(reason: str, **details: Any) -> StatVerdict:
        limit = max_growth if max_growth is not None else math.nan
        return StatVerdict(name, INCONCLUSIVE, math.nan, math.nan, math.nan, math.nan, limit,
                           samples, unit, reason, confidence, details)

    needed = min_windows * min_samples_per_window
    if samples < needed or span <= 0:
        return inconclusive(f"too short: {samples} samples after the {warmup:g}s warm-up, need "
                            f"at least {needed} ({min_windows} windows of "
                            f"{min_samples_per_window})")
    width = window if window is not None else span / windows
    mids, minima = window_minima(t, v, width, min_samples_per_window)
    if mids.size < min_windows:
        return inconclusive(
            f"too short: {mids.size} windows of {width:.3g}s with {min_samples_per_window}+ "
            f"samples after the {warmup:g}s warm-up, need at least {min_windows}"
        )
    fit = theil_sen(mids, minima, confidence)
    projection = horizon if horizon is not None else span
    baseline = fit.intercept + fit.estimate * float(mids[0])
    if max_growth is not None:
        limit = float(max_growth)
    else:
        assert max_growth_ratio is not None
        limit = max_growth_ratio * baseline
    estimate, lower, upper = (s * projection for s in (fit.estimate, fit.lower, fit.upper))
    third = max(1, mids.size // 3)
    step = float(minima[-third:].min() - minima[:third].max())
    details: dict[str, Any] = {
        "slope_per_s": fit.estimate,
        "slope_per_min": fit.estimate * 60.0,
        "slope_interval_per_s": [fit.lower, fit.upper],
        "horizon_s": projection,
        "span_s": span,
        "warmup_s": warmup,
        "window_s": width,
        "windows": int(mids.size),
        "baseline": baseline,
        "step": step,
        "window_times": [float(x) for x in mids],
        "window_minima": [float(x) for x in minima],
    }

    def fmt(value: float) -> str:
        return format_value(value, unit)

    growth_text = (f"growth {fmt(estimate)} over {projection:.4g}s ({confidence:.0%} CI "
                   f"{fmt(lower)} .. {fmt(upper)}, {mids.size} windows, {samples} samples)")
    status: Status
    if fit.attainable and lower > limit:
        status, bound = FAIL, lower
        reason = f"{growth_text}: grows by more than the allowed {fmt(limit)}"
    elif step > limit:
        status, bound = FAIL, step
        reason = (f"the floor rose by at least {fmt(step)} (every window minimum of the last "
                  f"third above every one of the first third) and stayed: more than the allowed "
                  f"{fmt(limit)}")
    elif fit.attainable and upper < limit:
        status, bound = PASS, upper
        reason = f"{growth_text}: stays under the allowed {fmt(limit)}"
    else:
        status, bound = INCONCLUSIVE, upper
        reason = (f"{growth_text}: the interval reaches the allowed {fmt(limit)}; no significant "
                  "trend is not proof of none: sample longer or with less noise")
    return StatVerdict(name, status, estimate, lower, upper, bound, limit, samples, unit, reason,
                       confidence, details)


def judge_return_to_baseline(
    baseline: Sequence[float] | Any,
    after: Sequence[float] | Any,
    tolerance: float,
    *,
    confidence: float = 0.95,
    name: str = "memory.return_to_baseline",
    min_samples: int = 5,
    unit: str = "bytes",
) -> StatVerdict:
    """After the load stops, does the level return to within ``tolerance`` of the baseline?

    ``baseline``: samples before the load; ``after``: samples once the load has stopped (after
    any settle time the caller allows). The figure is the relative shift
    ``(after - baseline) / median(baseline)``, estimated by the two-sample Hodges-Lehmann shift
    with its Mann-Whitney interval: PASS when its upper bound is under ``tolerance``, FAIL when
    its lower bound is above it, INCONCLUSIVE otherwise. ``unit`` is the samples' unit (for the
    reason's text; the figures are ratios).
    """
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a fraction >= 0 (0.1 = 10 %), got {tolerance!r}")
    base = np.asarray(baseline, dtype=np.float64).ravel()
    late = np.asarray(after, dtype=np.float64).ravel()
    base, late = base[np.isfinite(base)], late[np.isfinite(late)]
    samples = int(base.size + late.size)
    if base.size < min_samples or late.size < min_samples:
        return StatVerdict(name, INCONCLUSIVE, math.nan, math.nan, math.nan, math.nan, tolerance,
                           samples, "ratio",
                           f"{base.size} baseline and {late.size} after-load samples; need at "
                           f"least {min_samples} of each", confidence)
    level = float(np.median(base))
    if level <= 0:
        raise ValueError(f"the baseline level must be positive to compare ratios, got {level!r}")
    shift = hodges_lehmann_shift(late, base, confidence)
    estimate, lower, upper = shift.estimate / level, shift.lower / level, shift.upper / level
    text = (f"{estimate:+.2%} of the baseline {format_value(level, unit)} ({confidence:.0%} CI {lower:+.2%} .. "
            f"{upper:+.2%}, {base.size} + {late.size} samples) vs tolerance {tolerance:.2%}")
    status: Status
    if shift.attainable and lower > tolerance:
        status, bound, reason = FAIL, lower, text + ": stays above the baseline"
    elif shift.attainable and upper < tolerance:
        status, bound, reason = PASS, upper, text + ": back within the tolerance"
    else:
        status, bound, reason = INCONCLUSIVE, upper, text + ": the interval reaches the tolerance"
    return StatVerdict(name, status, estimate, lower, upper, bound, tolerance, samples, "ratio",
                       reason, confidence, {"baseline": level, "after": float(np.median(late))})
