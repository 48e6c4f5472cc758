"""One-sided bounds of a rate ``events / trials``: Clopper-Pearson (exact, the default) or Wilson
score bounds.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

from pytest_roo.slo.beta import beta_ppf
from pytest_roo.slo.bounds import DEFAULT_CONFIDENCE, Bounds, _check_confidence, _check_counts

__all__ = ["EXACT_TRIALS", "clopper_pearson_bounds", "rate_bounds", "wilson_bounds"]

#: Beyond this many trials the exact Clopper-Pearson bound (whose continued fraction needs about
#: sqrt(trials) steps) is replaced by Wilson's bound with continuity correction, which tracks it
#: to well under 1e-4 there (tests/unit/test_confidence.py measures it).
EXACT_TRIALS = 1_000_000


def clopper_pearson_bounds(events: int, trials: int, confidence: float) -> tuple[float, float]:
    """Exact one-sided (lower, upper) bounds of a binomial proportion, each at ``confidence``.

    >>> [round(v, 3) for v in clopper_pearson_bounds(20, 20, 0.95)]
    [0.861, 1.0]
    """
    _check_counts(events, trials)
    _check_confidence(confidence)
    if trials == 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    if events == trials:
        lower = alpha ** (1.0 / trials)
    elif events == 0:
        lower = 0.0
    else:
        lower = beta_ppf(alpha, events, trials - events + 1)
    if events == 0:
        upper = 1.0 - alpha ** (1.0 / trials)
    elif events == trials:
        upper = 1.0
    else:
        upper = beta_ppf(1.0 - alpha, events + 1, trials - events)
    return lower, upper


def wilson_bounds(
    events: int, trials: int, confidence: float, *, continuity: bool = False
) -> tuple[float, float]:
    """Wilson score one-sided (lower, upper) bounds, each at ``confidence``.

    ``continuity=True`` adds the continuity correction (closer to Clopper-Pearson).

    >>> [round(v, 3) for v in wilson_bounds(20, 20, 0.95)]
    [0.881, 1.0]
    """
    _check_counts(events, trials)
    _check_confidence(confidence)
    if trials == 0:
        return 0.0, 1.0
    if confidence == 0.0:
        return events / trials, events / trials
    z = NormalDist().inv_cdf(confidence)
    n = float(trials)
    z2 = z * z
    denom = 2.0 * (n + z2)
    if not continuity:
        p = events / n
        centre = 2.0 * n * p + z2
        spread = z * math.sqrt(z2 + 4.0 * n * p * (1.0 - p))
        lower, upper = (centre - spread) / denom, (centre + spread) / denom
    else:
        p = events / n
        q = 1.0 - p
        inner_lo = z2 - 1.0 / n + 4.0 * n * p * q + (4.0 * p - 2.0)
        inner_hi = z2 - 1.0 / n + 4.0 * n * p * q - (4.0 * p - 2.0)
        lower = (2 * n * p + z2 - (z * math.sqrt(max(inner_lo, 0.0)) + 1.0)) / denom
        upper = (2 * n * p + z2 + (z * math.sqrt(max(inner_hi, 0.0)) + 1.0)) / denom
    lower = 0.0 if events == 0 else max(0.0, lower)
    upper = 1.0 if events == trials else min(1.0, upper)
    return lower, upper


def rate_bounds(
    events: int, trials: int, confidence: float = DEFAULT_CONFIDENCE,
    method: Literal["clopper-pearson", "wilson"] = "clopper-pearson",
) -> Bounds:
    """Bounds of the rate ``events / trials`` (``events``: what the rate counts).

    Clopper-Pearson is exact (never below its confidence, however small the sample) and is what
    "59 clean runs show >= 95 %" rests on; Wilson is a little narrower. Above
    :data:`EXACT_TRIALS` trials Clopper-Pearson is computed as Wilson with continuity correction.
    Confidence 0 returns the point estimate as both bounds.
    """
    _check_counts(events, trials)
    _check_confidence(confidence)
    if trials == 0:
        return Bounds(math.nan, 0.0, 1.0, confidence, 0)
    estimate = events / trials
    if confidence == 0.0:
        return Bounds(estimate, estimate, estimate, confidence, trials)
    if method == "wilson":
        lower, upper = wilson_bounds(events, trials, confidence)
    elif method == "clopper-pearson":
        if trials > EXACT_TRIALS:
            lower, upper = wilson_bounds(events, trials, confidence, continuity=True)
        else:
            lower, upper = clopper_pearson_bounds(events, trials, confidence)
    else:
        raise ValueError(f"method must be 'clopper-pearson' or 'wilson', got {method!r}")
    return Bounds(estimate, min(lower, estimate), max(upper, estimate), confidence, trials)
