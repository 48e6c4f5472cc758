"""The regularized incomplete beta function and its inverse, the beta quantile behind the exact
Clopper-Pearson bounds (plain ``math``; no scipy).
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["beta_ppf", "betainc"]


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz; Numerical Recipes' betacf).

    Converges quickly for x < (a + 1) / (a + b + 2), in about sqrt(max(a, b)) steps near the mean.
    """
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    max_steps = int(300 + 40 * math.sqrt(max(a, b)))
    for m in range(1, max_steps + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    return h  # not converged to 1e-15 within max_steps: still accurate far beyond what we need


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0.

    >>> round(betainc(2, 3, 0.4), 6)   # 1 - (1-x)^4 - 4x(1-x)^3 = 0.5248
    0.5248
    """
    if a <= 0 or b <= 0:
        raise ValueError(f"betainc needs a > 0 and b > 0, got a={a!r} b={b!r}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, math.exp(log_front) * _beta_cf(a, b, x) / a)
    return max(0.0, 1.0 - math.exp(log_front) * _beta_cf(b, a, 1.0 - x) / b)


def _beta_pdf(a: float, b: float, x: float) -> float:
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return math.exp((a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - _log_beta(a, b))


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b): the x with I_x(a, b) = q.

    Newton steps from a normal approximation, kept inside a bisection bracket so that every step
    shrinks it (Newton alone can leave [0, 1] on skewed betas).

    >>> round(beta_ppf(0.05, 20, 1), 4)   # x^20 = 0.05
    0.8609
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile level must lie in [0, 1], got {q!r}")
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    mean = a / (a + b)
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    x = min(max(mean + NormalDist().inv_cdf(q) * sd, 1e-12), 1.0 - 1e-12)
    tolerance = 1e-14 * min(q, 1.0 - q)
    for _ in range(200):
        f = betainc(a, b, x) - q
        if abs(f) <= tolerance:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        if hi - lo <= 1e-15 * hi:
            return 0.5 * (lo + hi)
        pdf = _beta_pdf(a, b, x)
        step = x - f / pdf if pdf > 0.0 else math.nan
        # fall back to bisection when Newton leaves the bracket or stalls
        x = step if lo < step < hi and abs(step - x) < 0.5 * (hi - lo) else 0.5 * (lo + hi)
    return x
