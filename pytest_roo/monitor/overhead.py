"""Overhead of a feature from paired A/B measurements: a non-inferiority verdict.

Each pair is one measurement with the feature off (A) and one with it on (B), taken next to each
other (the runner in :mod:`pytest_roo.monitor.ab` interleaves them ABBA so that a linear drift of
the machine cancels within a round). The overhead of a pair is the relative cost of B:

- for a cost (latency, seconds, CPU): ``B / A - 1``;
- for a rate (throughput, higher is better): ``A / B - 1``, i.e. the time per unit of work.

Statistics run on ``log(1 + overhead)`` per pair (symmetric, multiplicative noise becomes
additive). The typical log-ratio is the one-sample Hodges-Lehmann estimate with the Wilcoxon
interval (default) or a percentile bootstrap of the mean (fixed seed). Non-inferiority against
``limit``:

- PASS when the upper bound of the overhead is below ``limit``;
- FAIL when the lower bound is above ``limit``;
- INCONCLUSIVE otherwise, with how many more pairs would likely decide (the interval narrows as
  1/sqrt(pairs)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from pytest_roo.monitor.stats import Interval, bootstrap_mean, hodges_lehmann
from pytest_roo.monitor.verdict import FAIL, INCONCLUSIVE, PASS, Status, StatVerdict

__all__ = ["Method", "judge_overhead", "log_ratios", "pairs_needed"]

Method = Literal["hodges-lehmann", "bootstrap"]
METHODS = ("hodges-lehmann", "bootstrap")
#: the relative efficiency of Hodges-Lehmann against the mean under normal noise (3 / pi)
HL_EFFICIENCY = 3.0 / math.pi
MAX_PAIRS_HINT = 100_000


def log_ratios(
    off: Sequence[float] | Any, on: Sequence[float] | Any, *, higher_is_better: bool
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``log(1 + overhead)`` of each pair (``off[i]``, ``on[i]``)."""
    a = np.asarray(off, dtype=np.float64).ravel()
    b = np.asarray(on, dtype=np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"off and on measurements must pair up; got {a.size} and {b.size}")
    bad = [float(x) for x in np.concatenate([a, b]) if not (math.isfinite(x) and x > 0)]
    if bad:
        raise ValueError(
            f"measurement {bad[0]!r} is not a positive finite number; A/B ratios need positive "
            "values (a throughput, a latency, a duration)"
        )
    ratio = np.log(a / b) if higher_is_better else np.log(b / a)
    return np.asarray(ratio, dtype=np.float64)


def pairs_needed(
    noise: float,
    true_overhead: float,
    limit: float,
    *,
    confidence: float = 0.95,
    power: float = 0.8,
    method: Method = "hodges-lehmann",
) -> int:
    """Pairs for the verdict to come out PASS (or FAIL) with probability ``power``.

    ``noise`` is the coefficient of variation of one measurement (0.05 = 5 %); the log-ratio of a
    pair then has a standard deviation of about ``noise * sqrt(2)``. The bound that decides is one
    end of a two-sided ``confidence`` interval, so it is one-sided at ``(1 + confidence) / 2``.
    Hodges-Lehmann needs ``pi / 3`` times the pairs the mean would under normal noise.

    >>> pairs_needed(0.05, 0.0, 0.05), pairs_needed(0.10, 0.0, 0.05)
    (18, 70)
    """
    if not noise > 0:
        raise ValueError(f"noise must be a positive fraction (0.05 = 5 %), got {noise!r}")
    if true_overhead <= -1 or limit <= -1:
        raise ValueError("overheads are fractions above -1 (0.05 = 5 %)")
    distance = abs(math.log1p(limit) - math.log1p(true_overhead))
    if distance == 0:
        raise ValueError("a true overhead equal to the limit is never decided")
    level = (1.0 + confidence) / 2.0
    z = NormalDist().inv_cdf(level) + NormalDist().inv_cdf(power)
    sigma = noise * math.sqrt(2.0)
    n = (z * sigma / distance) ** 2
    if method == "hodges-lehmann":
        n /= HL_EFFICIENCY
    return math.ceil(n)


def _interval(data: np.ndarray[Any, np.dtype[np.float64]], method: str, confidence: float,
              seed: int, resamples: int) -> Interval:
    if method == "hodges-lehmann":
        return hodges_lehmann(data, confidence)
    if method == "bootstrap":
        return bootstrap_mean(data, confidence, resamples=resamples, seed=seed)
    raise ValueError(f"unknown method {method!r}; accepted: {', '.join(METHODS)}")


def judge_overhead(
    off: Sequence[float] | Any,
    on: Sequence[float] | Any,
    *,
    limit: float = 0.05,
    higher_is_better: bool,
    confidence: float = 0.95,
    method: Method = "hodges-lehmann",
    seed: int = 0,
    resamples: int = 5000,
    name: str = "overhead",
    min_pairs: int = 6,
) -> StatVerdict:
    """Non-inferiority of "on" against "off": is the overhead under ``limit``?

    Args:
        off, on: paired measurements (pair i = ``off[i]``, ``on[i]``), positive numbers.
        limit: the allowed overhead as a fraction (0.05 = 5 %).
        higher_is_better: True for a throughput, False for a latency / duration / cost.
        method: ``"hodges-lehmann"`` (default) or ``"bootstrap"`` (``seed``, ``resamples``).

    ``estimate`` / ``lower`` / ``upper`` are overheads (fractions); ``details`` has the per-pair
    overheads and, when INCONCLUSIVE, ``more_pairs``: about how many more pairs would likely
    decide.

    >>> v = judge_overhead([100] * 8, [90] * 8, limit=0.05, higher_is_better=True)
    >>> v.status, round(v.estimate, 3)
    ('fail', 0.111)
    """
    if not (math.isfinite(limit) and limit > -1):
        raise ValueError(f"limit must be a fraction (0.05 = 5 %), got {limit!r}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; accepted: {', '.join(METHODS)}")
    data = log_ratios(off, on, higher_is_better=higher_is_better)
    n = int(data.size)
    per_pair = [float(x) for x in np.expm1(data)]
    details: dict[str, Any] = {"method": method, "pairs": n, "per_pair": per_pair,
                               "higher_is_better": higher_is_better}
    if method == "bootstrap":
        details.update(seed=seed, resamples=resamples)
    if n < min_pairs:
        return StatVerdict(name, INCONCLUSIVE, math.nan, math.nan, math.nan, math.nan, limit,
                           n, "ratio", f"{n} pairs; need at least {min_pairs}", confidence,
                           details)
    interval = _interval(data, method, confidence, seed, resamples)
    estimate, lower, upper = (math.expm1(x) for x in
                              (interval.estimate, interval.lower, interval.upper))
    text = (f"overhead {estimate:+.2%} ({confidence:.0%} CI {lower:+.2%} .. {upper:+.2%}, "
            f"{n} pairs, {method}) vs limit {limit:.2%}")
    status: Status
    if interval.attainable and lower > limit:
        status, bound, reason = FAIL, lower, text + ": above the limit"
    elif interval.attainable and upper < limit:
        status, bound, reason = PASS, upper, text + ": under the limit"
    else:
        status, bound = INCONCLUSIVE, upper
        more = _more_pairs(interval, math.log1p(limit))
        details["more_pairs"] = more
        if more is None:
            reason = text + ": the estimate sits on the limit; more pairs will hardly decide"
        else:
            reason = text + f": the interval straddles the limit; about {more} more pairs would " \
                "likely decide"
    return StatVerdict(name, status, estimate, lower, upper, bound, limit, n, "ratio", reason,
                       confidence, details)


def _more_pairs(interval: Interval, log_limit: float) -> int | None:
    """Pairs to add so that the half-width (shrinking as 1/sqrt(n)) no longer reaches the limit
    from the current estimate; None when that is out of reach."""
    half = (interval.upper - interval.lower) / 2.0
    distance = abs(interval.estimate - log_limit)
    if half <= 0:
        return 1
    if distance <= half / math.sqrt(MAX_PAIRS_HINT / max(interval.n, 1)):
        return None
    needed = interval.n * (half / distance) ** 2
    return max(1, math.ceil(needed - interval.n))
