"""Judging a criterion on bounds: ``pass`` when the pessimistic bound clears the limit, ``fail``
when the optimistic one violates it, ``inconclusive`` otherwise, with an estimate of how many
more samples would decide.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Literal

from pytest_roo.slo.bounds import DEFAULT_CONFIDENCE, Bounds, Status
from pytest_roo.slo.percentile_bounds import order_statistic_rank, percentile_bounds, value_at_rank
from pytest_roo.slo.rate_bounds import rate_bounds

__all__ = ["MAX_SAMPLES", "Judgement", "decide", "judge_percentile", "judge_rate", "samples_to_decide"]

#: Searches for "how many more samples" stop here: a rate sitting on its limit never decides.
MAX_SAMPLES = 10**12


def decide(op: str, limit: float, estimate: float, lower: float, upper: float) -> Status:
    """``pass`` when the pessimistic bound clears the limit, ``fail`` when the optimistic bound
    violates it, ``inconclusive`` when neither (the interval straddles the limit).

    ``op`` is the criterion's operator: ``<``/``<=`` are upper limits (``p95 < 50ms``,
    ``error_rate < 1%``), ``>``/``>=`` lower limits (``success_rate >= 95%``). ``==`` cannot be
    shown by a bound and is judged on the point estimate. With lower == upper == estimate
    (confidence 0) the answer is pass or fail, never inconclusive; a NaN estimate (nothing
    measured) is inconclusive.

    >>> decide(">=", 0.95, 1.0, 0.861, 1.0)
    'inconclusive'
    >>> decide(">=", 0.95, 1.0, 0.9505, 1.0), decide("<", 0.05, 0.08, 0.06, 0.1)
    ('pass', 'fail')
    """
    if math.isnan(estimate):
        return "inconclusive"
    if op == "<":
        return "pass" if upper < limit else "fail" if lower >= limit else "inconclusive"
    if op == "<=":
        return "pass" if upper <= limit else "fail" if lower > limit else "inconclusive"
    if op == ">":
        return "pass" if lower > limit else "fail" if upper <= limit else "inconclusive"
    if op == ">=":
        return "pass" if lower >= limit else "fail" if upper < limit else "inconclusive"
    if op == "==":
        return "pass" if estimate == limit else "fail"
    raise ValueError(f"op must be one of < <= > >= ==, got {op!r}")


def _pessimistic(op: str, bounds: Bounds) -> float:
    if op in ("<", "<="):
        return bounds.upper
    if op in (">", ">="):
        return bounds.lower
    return bounds.estimate


def samples_to_decide(n: int, status_at: Callable[[int], Status], limit: int = MAX_SAMPLES) -> int | None:
    """The smallest sample size above ``n`` at which ``status_at`` is no longer inconclusive,
    minus ``n``; None when even ``limit`` samples would not decide.

    Doubling then bisection: ``status_at`` is assumed to settle once it settles (true for bounds
    that shrink around a fixed point estimate, up to rounding).
    """
    size = max(n, 1)
    while True:
        nxt = min(size * 2, limit)
        if status_at(nxt) != "inconclusive":
            break
        if nxt >= limit:
            return None
        size = nxt
    lo, hi = size, nxt  # status_at(lo) undecided (or lo == n), status_at(hi) decided
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if status_at(mid) != "inconclusive":
            hi = mid
        else:
            lo = mid
    return max(hi - n, 1)


@dataclasses.dataclass(frozen=True)
class Judgement:
    """A criterion judged on bounds. ``bound`` is the pessimistic one (upper for ``<``), the one
    a pass rests on; ``more_samples`` estimates how many more would decide an inconclusive one."""

    status: Status
    estimate: float
    lower: float
    upper: float
    bound: float
    confidence: float
    samples: int
    more_samples: int | None = None

    @property
    def passed(self) -> bool:
        """True when the judgement is PASS."""
        return self.status == "pass"

    @property
    def explanation(self) -> str:
        """One line for a verdict's reason; empty for a plain pass or fail."""
        if self.status != "inconclusive":
            return ""
        if self.samples == 0:
            return "inconclusive: nothing was measured"
        interval = f"{self.confidence:.0%} bounds {self.lower:.6g} .. {self.upper:.6g}"
        if self.more_samples is None:
            return (f"inconclusive: {self.samples:,} samples, {interval} straddle the limit, "
                    f"and the estimate sits so close to it that more samples would not decide")
        return (f"inconclusive: {self.samples:,} samples, {interval} straddle the limit; "
                f"about {self.more_samples:,} more samples would decide if the estimate holds")


def judge_rate(
    op: str, limit: float, *, events: int, trials: int,
    confidence: float = DEFAULT_CONFIDENCE,
    method: Literal["clopper-pearson", "wilson"] = "clopper-pearson",
) -> Judgement:
    """Judge ``events / trials`` against ``op limit`` (a fraction): see the module docstring.

    A limit on the edge that a bound can never reach (``<= 0`` or ``>= 1``: "no failure at
    all") is judged on the observed counts, with ``confidence`` 0 in the judgement.

    >>> judge_rate(">=", 0.95, events=59, trials=59).status
    'pass'
    >>> j = judge_rate(">=", 0.95, events=20, trials=20)
    >>> j.status, round(j.bound, 3), j.more_samples
    ('inconclusive', 0.861, 39)
    """
    if (op == "<=" and limit <= 0.0) or (op == ">=" and limit >= 1.0):
        # "error_rate <= 0%", "success_rate >= 100%": no bound ever reaches the edge; the
        # criterion says "no failure was seen", a statement about the observed runs
        confidence = 0.0
    bounds = rate_bounds(events, trials, confidence, method)
    status = decide(op, limit, bounds.estimate, bounds.lower, bounds.upper)
    more: int | None = None
    if status == "inconclusive" and trials > 0:
        share = events / trials

        def status_at(size: int) -> Status:
            hits = min(size, max(0, round(share * size)))
            b = rate_bounds(hits, size, confidence, method)
            return decide(op, limit, b.estimate, b.lower, b.upper)

        more = samples_to_decide(trials, status_at)
    return Judgement(status, bounds.estimate, bounds.lower, bounds.upper,
                     _pessimistic(op, bounds), confidence, trials, more)


def judge_percentile(
    op: str, limit: float, hist: Any, percentile: float, *,
    confidence: float = DEFAULT_CONFIDENCE, scale: float = 1e-6,
) -> Judgement:
    """Judge a percentile of an HdrHistogram against ``op limit`` (``limit`` in seconds when
    ``scale`` is 1e-6, the histogram in microseconds).

    More samples are estimated assuming the distribution stays what the histogram holds: at n'
    samples the bound would be the histogram's value at the bound rank's share of n'.
    """
    bounds = percentile_bounds(hist, percentile, confidence, scale=scale)
    status = decide(op, limit, bounds.estimate, bounds.lower, bounds.upper)
    more: int | None = None
    n = bounds.samples
    if status == "inconclusive" and n > 0:

        def status_at(size: int) -> Status:
            upper_rank = order_statistic_rank(size, percentile, confidence, "upper")
            lower_rank = order_statistic_rank(size, percentile, confidence, "lower")
            upper = math.inf if upper_rank is None else value_at_rank(
                hist, max(1, min(n, math.ceil(upper_rank / size * n))), "upper") * scale
            lower = 0.0 if lower_rank is None else value_at_rank(
                hist, max(1, min(n, math.floor(lower_rank / size * n))), "lower") * scale
            return decide(op, limit, bounds.estimate, min(lower, bounds.estimate),
                          max(upper, bounds.estimate))

        # the bound ranks reach the point estimate's rank only slowly: cap the search at a
        # size whose rank arithmetic stays cheap
        more = samples_to_decide(n, status_at, limit=max(n * 10_000, 10**7))
    return Judgement(status, bounds.estimate, bounds.lower, bounds.upper,
                     _pessimistic(op, bounds), confidence, n, more)
