"""Distribution-free bounds of a percentile: the order statistic that lies above (or below) the
true quantile with probability >= the confidence, read from an HdrHistogram.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_roo.slo.beta import betainc
from pytest_roo.slo.bounds import DEFAULT_CONFIDENCE, Bounds, Side, _check_confidence

__all__ = ["binom_cdf", "order_statistic_rank", "percentile_bounds", "point_rank", "value_at_rank"]


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), through I_{1-p}(n - k, k + 1)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return betainc(n - k, k + 1, 1.0 - p)


def order_statistic_rank(n: int, percentile: float, confidence: float, side: Side = "upper") -> int | None:
    """The rank (1-based, ascending) of the order statistic that bounds the ``percentile``-th
    quantile from above (``side="upper"``) or below with probability >= ``confidence``.

    Upper: the smallest k with P(Binomial(n, q) <= k - 1) >= confidence, q = percentile / 100,
    because the k-th smallest of n samples lies at or above the true quantile unless k or more
    samples fall below it. Lower: the largest k with P(Binomial(n, q) >= k) >= confidence.
    Distribution-free (no assumption on the latency distribution); holds for discrete ones too.
    None when ``n`` samples are too few: a p95 needs 59 samples for a 95 % upper bound.

    >>> order_statistic_rank(59, 95, 0.95), order_statistic_rank(58, 95, 0.95)
    (59, None)
    """
    _check_confidence(confidence)
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile!r}")
    if n <= 0:
        return None
    q = percentile / 100.0
    if side == "upper":
        # P(Bin(n, q) <= k - 1) grows with k: binary search the first k reaching confidence
        if binom_cdf(n - 1, n, q) < confidence:
            return None
        lo, hi = 1, n
        # a normal-approximation window first, so a million samples cost a few evaluations
        sd = math.sqrt(n * q * (1.0 - q))
        guess_lo = max(1, int(n * q - 2 * sd) - 2)
        guess_hi = min(n, int(n * q + 10 * sd) + 10)
        if binom_cdf(guess_lo - 1, n, q) < confidence:
            lo = guess_lo
        if binom_cdf(guess_hi - 1, n, q) >= confidence:
            hi = guess_hi
        while lo < hi:
            mid = (lo + hi) // 2
            if binom_cdf(mid - 1, n, q) >= confidence:
                hi = mid
            else:
                lo = mid + 1
        return lo
    if side != "lower":
        raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")
    # P(Bin(n, q) >= k) = 1 - cdf(k - 1) falls with k: the last k with 1 - cdf(k - 1) >= confidence
    if 1.0 - binom_cdf(0, n, q) < confidence:
        return None
    lo, hi = 1, n
    sd = math.sqrt(n * q * (1.0 - q))
    guess_lo = max(1, int(n * q - 10 * sd) - 10)
    guess_hi = min(n, int(n * q + 2 * sd) + 2)
    if 1.0 - binom_cdf(guess_lo - 1, n, q) >= confidence:
        lo = guess_lo
    if 1.0 - binom_cdf(guess_hi - 1, n, q) < confidence:
        hi = guess_hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if 1.0 - binom_cdf(mid - 1, n, q) >= confidence:
            lo = mid
        else:
            hi = mid - 1
    return lo


def point_rank(n: int, percentile: float) -> int:
    """The rank HdrHistogram reads for a percentile (what the point estimate is)."""
    return max(1, int(percentile / 100.0 * n + 0.5))


def value_at_rank(hist: Any, rank: int, side: Side = "upper") -> int:
    """The ``rank``-th smallest recorded value of an HdrHistogram (its own units).

    A histogram bucket holds a range of equivalent values; the bucket's highest value is returned
    for an upper bound and its lowest for a lower bound, so the bound stays on the safe side of the
    histogram's rounding (HdrHistogram's own percentiles report the highest value).
    """
    import numpy as np

    total = int(hist.total_count)
    if not 1 <= rank <= total:
        raise ValueError(f"rank must lie in [1, {total}] for this histogram, got {rank!r}")
    counts = np.ctypeslib.as_array(hist.counts)[: hist.counts_len]
    index = int(np.searchsorted(np.cumsum(counts), rank, side="left"))
    value = hist.get_value_from_index(index)
    if side == "upper":
        return int(hist.get_highest_equivalent_value(value))
    return int(hist.get_lowest_equivalent_value(value))


def percentile_bounds(
    hist: Any, percentile: float, confidence: float = DEFAULT_CONFIDENCE, *, scale: float = 1e-6
) -> Bounds:
    """The point estimate and order-statistic bounds of a percentile of an HdrHistogram.

    ``scale`` converts the histogram's units (pytest-roo records microseconds) to the result's
    (seconds). An upper bound that the sample size cannot give is ``math.inf``, a lower one ``0.0``.
    """
    _check_confidence(confidence)
    n = int(hist.total_count)
    if n == 0:
        return Bounds(math.nan, 0.0, math.inf, confidence, 0)
    estimate = value_at_rank(hist, point_rank(n, percentile), "upper") * scale
    if confidence == 0.0:
        return Bounds(estimate, estimate, estimate, confidence, n)
    upper_rank = order_statistic_rank(n, percentile, confidence, "upper")
    lower_rank = order_statistic_rank(n, percentile, confidence, "lower")
    upper = math.inf if upper_rank is None else value_at_rank(hist, upper_rank, "upper") * scale
    lower = 0.0 if lower_rank is None else value_at_rank(hist, lower_rank, "lower") * scale
    return Bounds(estimate, min(lower, estimate), max(upper, estimate), confidence, n)
