"""Distribution-free estimators with confidence intervals, in numpy only (no scipy).

- :func:`theil_sen`: the median of pairwise slopes, with Sen's (1968) confidence interval from
  the normal approximation of Kendall's S (ties corrected), as ``scipy.stats.theilslopes`` does.
- :func:`hodges_lehmann`: the median of Walsh averages of one sample, with the confidence interval
  that inverts the Wilcoxon signed-rank test (normal approximation).
- :func:`hodges_lehmann_shift`: the median of all differences between two samples, with the
  interval that inverts the Mann-Whitney test.
- :func:`bootstrap_mean`: a percentile bootstrap of the mean with a fixed seed.
- :func:`quantile_bounds`: order-statistic confidence bounds of a quantile (binomial).

Every interval is two-sided at ``confidence``; each of its ends is then a one-sided bound at
``(1 + confidence) / 2``. An interval the sample is too small to give is reported as not
``attainable`` instead of being silently widened.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = [
    "Interval",
    "bootstrap_mean",
    "hodges_lehmann",
    "hodges_lehmann_shift",
    "quantile_bounds",
    "theil_sen",
    "z_value",
]


@dataclasses.dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    lower: float
    upper: float
    confidence: float
    n: int
    #: False when the sample is too small for an interval at this confidence: the bounds are
    #: then the extremes of the data, not a confidence interval.
    attainable: bool = True
    #: the intercept of a fitted line (Theil-Sen only; NaN otherwise)
    intercept: float = math.nan


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")


def z_value(confidence: float) -> float:
    """The standard normal quantile for a two-sided interval: 1.96 for 0.95."""
    _check_confidence(confidence)
    return NormalDist().inv_cdf((1.0 + confidence) / 2.0)


def _as_array(values: Sequence[float] | Any, what: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    array = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be finite numbers (got NaN or infinity)")
    return array


def _tie_term(values: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    _, counts = np.unique(values, return_counts=True)
    counts = counts[counts > 1].astype(np.float64)
    return float(np.sum(counts * (counts - 1) * (2 * counts + 5)))


def theil_sen(
    x: Sequence[float] | Any, y: Sequence[float] | Any, confidence: float = 0.95
) -> Interval:
    """Theil-Sen slope of ``y`` over ``x`` with Sen's confidence interval.

    >>> fit = theil_sen([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 5, 7, 9, 11, 13, 15, 17, 19])
    >>> fit.estimate, fit.lower, fit.upper, fit.intercept
    (2.0, 2.0, 2.0, 1.0)
    """
    _check_confidence(confidence)
    xs, ys = _as_array(x, "x"), _as_array(y, "y")
    if xs.size != ys.size:
        raise ValueError(f"x and y differ in length ({xs.size} and {ys.size})")
    n = int(xs.size)
    if n < 2:
        raise ValueError(f"a slope needs at least 2 points, got {n}")
    i, j = np.triu_indices(n, k=1)
    dx = xs[j] - xs[i]
    keep = dx != 0
    if not keep.any():
        raise ValueError("a slope needs at least 2 distinct x values")
    slopes = np.sort((ys[j] - ys[i])[keep] / dx[keep])
    slope = float(np.median(slopes))
    intercept = float(np.median(ys) - slope * np.median(xs))
    count = int(slopes.size)
    # Variance of Kendall's S with tie corrections (Sen 1968, eq. 2.6).
    variance = (n * (n - 1) * (2 * n + 5) - _tie_term(xs) - _tie_term(ys)) / 18.0
    c = z_value(confidence) * math.sqrt(max(variance, 0.0))
    upper_rank = round((count + c) / 2.0)
    lower_rank = round((count - c) / 2.0) - 1
    attainable = lower_rank >= 0 and upper_rank <= count - 1
    lower = float(slopes[max(lower_rank, 0)])
    upper = float(slopes[min(upper_rank, count - 1)])
    return Interval(slope, lower, upper, confidence, n, attainable, intercept)


def hodges_lehmann(values: Sequence[float] | Any, confidence: float = 0.95) -> Interval:
    """One-sample Hodges-Lehmann estimate (median of Walsh averages) with the Wilcoxon interval.

    The location estimate of a symmetric distribution; here: the typical log-ratio of pairs.

    >>> hl = hodges_lehmann([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    >>> hl.estimate, hl.lower, hl.upper
    (5.5, 3.0, 8.0)
    """
    _check_confidence(confidence)
    data = _as_array(values, "values")
    n = int(data.size)
    if n < 1:
        raise ValueError("a location estimate needs at least 1 value")
    i, j = np.triu_indices(n, k=0)
    walsh = np.sort((data[i] + data[j]) / 2.0)
    total = int(walsh.size)  # n (n + 1) / 2
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    k = math.floor(total / 2.0 - z_value(confidence) * sd)
    attainable = k >= 0
    k = max(k, 0)
    return Interval(
        float(np.median(walsh)), float(walsh[k]), float(walsh[total - 1 - k]), confidence, n,
        attainable,
    )


def hodges_lehmann_shift(
    sample: Sequence[float] | Any, reference: Sequence[float] | Any, confidence: float = 0.95
) -> Interval:
    """Two-sample Hodges-Lehmann shift ``sample - reference`` with the Mann-Whitney interval.

    >>> shift = hodges_lehmann_shift([11, 12, 13, 14, 15, 16], [1, 2, 3, 4, 5, 6])
    >>> shift.estimate, shift.lower <= 10 <= shift.upper
    (10.0, True)
    """
    _check_confidence(confidence)
    a, b = _as_array(sample, "sample"), _as_array(reference, "reference")
    m, n = int(a.size), int(b.size)
    if m < 1 or n < 1:
        raise ValueError(f"a shift needs values on both sides (got {m} and {n})")
    diffs = np.sort((a[:, None] - b[None, :]).ravel())
    total = int(diffs.size)
    sd = math.sqrt(m * n * (m + n + 1) / 12.0)
    k = math.floor(total / 2.0 - z_value(confidence) * sd)
    attainable = k >= 0
    k = max(k, 0)
    return Interval(
        float(np.median(diffs)), float(diffs[k]), float(diffs[total - 1 - k]), confidence,
        m + n, attainable,
    )


def bootstrap_mean(
    values: Sequence[float] | Any, confidence: float = 0.95, resamples: int = 5000, seed: int = 0
) -> Interval:
    """Percentile bootstrap interval of the mean; the same ``seed`` gives the same interval."""
    _check_confidence(confidence)
    data = _as_array(values, "values")
    n = int(data.size)
    if n < 1:
        raise ValueError("a bootstrap needs at least 1 value")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples!r}")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(means, [tail, 1.0 - tail])
    # Below ~8 values the bootstrap interval is known to be too narrow.
    return Interval(float(data.mean()), float(lower), float(upper), confidence, n, n >= 8)


def _binomial_cdf_table(n: int, p: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``table[k] = P(X <= k)`` for X ~ Binomial(n, p), k = 0..n, built in log space."""
    ks = np.arange(1, n + 1, dtype=np.float64)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log(n - ks + 1.0) - np.log(ks))])
    k_all = np.arange(0, n + 1, dtype=np.float64)
    log_pmf = log_choose + k_all * math.log(p) + (n - k_all) * math.log1p(-p)
    cdf = np.cumsum(np.exp(log_pmf - log_pmf.max()))
    return np.asarray(np.minimum(cdf / cdf[-1], 1.0), dtype=np.float64)


def quantile_bounds(
    values: Sequence[float] | Any, q: float, confidence: float = 0.95
) -> Interval:
    """The ``q`` quantile (0..1) with distribution-free order-statistic bounds.

    The upper bound is the smallest order statistic x(k) with P(Binomial(n, q) <= k - 1) >= the
    one-sided level; the lower bound is symmetric. Assumes independent samples: a resource series
    sampled faster than it changes is autocorrelated, so the bounds are then too narrow.
    """
    _check_confidence(confidence)
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be between 0 and 1 (exclusive), got {q!r}")
    data = np.sort(_as_array(values, "values"))
    n = int(data.size)
    if n < 1:
        raise ValueError("a quantile needs at least 1 value")
    level = (1.0 + confidence) / 2.0
    estimate = float(np.quantile(data, q))
    cdf = _binomial_cdf_table(n, q)
    # upper: the smallest k with P(X <= k - 1) >= level, i.e. x(k) is above the quantile
    upper_index = int(np.searchsorted(cdf, level))  # first index with cdf >= level
    upper_k: int | None = upper_index + 1 if upper_index + 1 <= n else None
    # lower: the largest k with P(X >= k) >= level, i.e. P(X <= k - 1) <= 1 - level
    below = np.nonzero(cdf <= 1.0 - level)[0]
    lower_k: int | None = int(below[-1]) + 1 if below.size else None
    attainable = upper_k is not None and lower_k is not None
    upper = float(data[(upper_k or n) - 1])
    lower = float(data[(lower_k or 1) - 1])
    return Interval(estimate, lower, upper, confidence, n, attainable)
