"""Confidence bounds behind honest verdicts: PASS, FAIL or INCONCLUSIVE, never a coin flip.

A criterion is judged on a one-sided confidence bound, not on the bare point estimate: 20 clean
runs out of 20 do not show "success_rate >= 95%" (the one-sided 95 % Clopper-Pearson lower bound
of 20/20 is 0.861, Wilson's 0.881); 59 clean runs do. The pieces, all plain Python (``math``,
``statistics.NormalDist`` and numpy; no scipy):

- rates: :func:`rate_bounds` -- Clopper-Pearson (exact, the default) or Wilson score bounds of
  ``events / trials``. The beta quantile behind Clopper-Pearson is solved here from the
  regularized incomplete beta function (:func:`betainc`, a continued fraction) by safeguarded
  Newton steps (:func:`beta_ppf`).
- percentiles: :func:`order_statistic_rank` -- the distribution-free bound: the rank ``k`` whose
  order statistic lies above (or below) the true ``p``-th quantile with probability >= the
  confidence, from the binomial CDF; :func:`value_at_rank` reads that rank from an HdrHistogram
  and :func:`percentile_bounds` puts both together.
- the decision: :func:`decide` -- ``pass`` when the pessimistic bound clears the limit, ``fail``
  when the optimistic bound violates it, ``inconclusive`` otherwise; :func:`judge_rate` and
  :func:`judge_percentile` also say how many more samples would likely decide an inconclusive
  verdict (assuming the point estimate holds). Confidence 0 judges the bare point estimate, as
  k6 does: pass or fail, never inconclusive.
- iterations run until conclusive: :class:`SequentialRate` (repeated Clopper-Pearson bounds at a
  level corrected for the repeated looks; its error rates are in its docstring).

Calling it from a verdict computation (``criterion`` from :func:`pytest_roo.slo.spec.parse`,
``result`` a LoadResult)::

    from pytest_roo.slo import confidence

    if criterion.stat == "success_rate":
        judged = confidence.judge_rate(criterion.op, criterion.limit,
                                       events=result.operations - result.error_count,
                                       trials=result.operations, confidence=0.95)
    elif criterion.stat == "error_rate":
        judged = confidence.judge_rate(criterion.op, criterion.limit,
                                       events=result.error_count,
                                       trials=result.operations, confidence=0.95)
    elif criterion.percentile is not None:
        metric = result.get_metric(criterion.metric)
        judged = confidence.judge_percentile(criterion.op, criterion.limit, metric.histogram,
                                             criterion.percentile, confidence=0.95)
    judged.status        # "pass" | "fail" | "inconclusive"
    judged.bound         # the bound compared with the limit for a pass (base units)
    judged.explanation   # for the verdict's reason: "... about N more samples would decide"

Latency values come back in seconds (the histogram holds microseconds: ``scale=1e-6``). A
percentile bound that n samples cannot give is ``math.inf`` (upper) or ``0.0`` (lower): fewer than
59 samples never bound a p95 from above at 95 %.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any, Literal

__all__ = [
    "DEFAULT_CONFIDENCE",
    "Bounds",
    "Judgement",
    "SequentialRate",
    "beta_ppf",
    "betainc",
    "binom_cdf",
    "clopper_pearson_bounds",
    "decide",
    "judge_percentile",
    "judge_rate",
    "order_statistic_rank",
    "percentile_bounds",
    "rate_bounds",
    "samples_to_decide",
    "value_at_rank",
    "wilson_bounds",
]

DEFAULT_CONFIDENCE = 0.95
Status = Literal["pass", "fail", "inconclusive"]
Side = Literal["upper", "lower"]
#: Beyond this many trials the exact Clopper-Pearson bound (whose continued fraction needs about
#: sqrt(trials) steps) is replaced by Wilson's bound with continuity correction, which tracks it
#: to well under 1e-4 there (tests/unit/test_confidence.py measures it).
EXACT_TRIALS = 1_000_000
#: Searches for "how many more samples" stop here: a rate sitting on its limit never decides.
MAX_SAMPLES = 10**12


def _check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, (int, float)) and 0.0 <= confidence < 1.0):
        raise ValueError(
            f"confidence must be a number in [0, 1) (0 means the bare point estimate), "
            f"got {confidence!r}"
        )


def _check_counts(events: int, trials: int) -> None:
    if trials < 0 or events < 0 or events > trials:
        raise ValueError(f"need 0 <= events <= trials, got events={events!r} trials={trials!r}")


# --- the regularized incomplete beta function and its inverse ----------------------------------


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


# --- rates -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bounds:
    """A point estimate and its one-sided bounds, each holding with probability >= confidence.

    ``samples`` is what they rest on (trials for a rate, observations for a percentile).
    """

    estimate: float
    lower: float
    upper: float
    confidence: float
    samples: int


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


# --- percentiles: order statistics --------------------------------------------------------------


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


# --- deciding -----------------------------------------------------------------------------------


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


# --- sequential: iterations until conclusive ----------------------------------------------------


class SequentialRate:
    """Decide a rate criterion after every iteration: ``pass``, ``fail`` or ``continue``, and
    ``inconclusive`` when ``max_iterations`` are spent (for ``iterations="auto"``).

    The rule: repeated one-sided Clopper-Pearson bounds, each at a *nominal* level ``alpha'``
    smaller than ``alpha = 1 - confidence``, so that over all the looks together the errors stay
    within ``alpha``. ``alpha'`` is the largest level for which, with the true rate exactly on the
    limit, the probability of EVER crossing the pass boundary (and, separately, the fail
    boundary) in looks ``min_iterations .. max_iterations`` is <= alpha. That probability is
    computed exactly, by dynamic programming over the binomial paths (no simulation, no
    Bonferroni slack); it is a Pocock-style constant-level design for the binomial.

    Error rates (each side calibrated on its own, so both hold together, conservatively):

    - wrong PASS: a rate on the failing side of the limit (or on it, for a strict ``<``/``>``)
      passes with probability <= alpha;
    - wrong FAIL: a rate on the passing side of the limit (or on it, for ``<=``/``>=``) fails with
      probability <= alpha;
    - a rate near the limit may end ``inconclusive`` at ``max_iterations``.

    Why not Wald's SPRT: it needs a second, invented hypothesis (the indifference zone) and its
    "accept H0" means "closer to p0 than to p1", not "the limit is violated"; repeated bounds keep
    PASS and FAIL meaning what they mean for a fixed number of runs.

    Why not a Bonferroni split of alpha over the looks: with up to 600 looks it would test each
    at 0.05 / 600 and a clean flow would need 184 iterations instead of 89; the exact crossing
    probability spends alpha only where a crossing is possible.

    Operating characteristics at ``success_rate >= 95%``, confidence 0.95, at most 600 iterations
    (the marker's default), computed exactly by :meth:`operating_characteristics`:

    ====================  =======  =======  ===============
    true success rate     PASS     FAIL     mean iterations
    ====================  =======  =======  ===============
    1.00 (never fails)    100 %    0 %      89
    0.99                  100 %    0 %      139
    0.98                  97.0 %   0.1 %    240
    0.95 (on the limit)   4.99 %   4.98 %   560
    0.90                  0.01 %   99.3 %   152
    0.80                  0 %      100 %    27
    ====================  =======  =======  ===============

    The nominal levels are about 0.011 (pass) and 0.006 (fail): iterations that all go well pass
    after 89, where a fixed design passes after 59 but cannot stop early on a failing system.

    ``events`` counts what the rate counts (successes for ``success_rate``, errors for
    ``error_rate``); ``op`` and ``limit`` are the criterion's.
    """

    def __init__(
        self, op: str, limit: float, *, confidence: float = DEFAULT_CONFIDENCE,
        max_iterations: int = 600, min_iterations: int = 1,
    ) -> None:
        _check_confidence(confidence)
        if op not in ("<", "<=", ">", ">="):
            raise ValueError(f"a sequential rate needs one of < <= > >=, got {op!r}")
        if not 0.0 < limit < 1.0:
            raise ValueError(f"a sequential rate needs a limit strictly between 0 and 1, got {limit!r}")
        if not 1 <= min_iterations <= max_iterations:
            raise ValueError(
                f"need 1 <= min_iterations <= max_iterations, got {min_iterations!r}, {max_iterations!r}"
            )
        if confidence == 0.0:
            raise ValueError("a sequential rule needs a confidence above 0 (0 judges one run's estimate)")
        self.op = op
        self.limit = limit
        self.confidence = confidence
        self.max_iterations = max_iterations
        self.min_iterations = min_iterations
        # work on the "good" count against a lower limit: an upper limit on a rate is a lower
        # limit on its complement
        self._flip = op in ("<", "<=")
        good_limit = 1.0 - limit if self._flip else limit
        plan = _plan(good_limit, 1.0 - confidence, max_iterations, min_iterations)
        self.nominal_alpha_pass, self._pass_at = plan[0], plan[1]
        self.nominal_alpha_fail, self._fail_at = plan[2], plan[3]

    def decide(self, events: int, trials: int) -> Literal["pass", "fail", "continue", "inconclusive"]:
        """After ``trials`` iterations of which ``events`` counted."""
        _check_counts(events, trials)
        good = trials - events if self._flip else events
        if trials >= self.min_iterations and trials <= self.max_iterations:
            if good >= self._pass_at[trials]:
                return "pass"
            if good <= self._fail_at[trials]:
                return "fail"
        if trials >= self.max_iterations:
            return "inconclusive"
        return "continue"

    @property
    def pass_after_clean_runs(self) -> int | None:
        """Iterations needed to pass when every one of them goes well."""
        for n in range(self.min_iterations, self.max_iterations + 1):
            if n >= self._pass_at[n]:
                return n
        return None

    def bounds(self, events: int, trials: int) -> tuple[float, float]:
        """(lower, upper) bounds of the criterion's rate after ``trials`` iterations, at the
        nominal levels the decisions use: the bound on the pass side at ``1 - nominal_alpha_pass``,
        the other at ``1 - nominal_alpha_fail``. ``decide`` says pass exactly when the pessimistic
        one clears the limit and fail when the optimistic one violates it (up to rounding)."""
        _check_counts(events, trials)
        if trials == 0:
            return 0.0, 1.0
        good = trials - events if self._flip else events
        lower = clopper_pearson_bounds(good, trials, 1.0 - self.nominal_alpha_pass)[0]
        upper = clopper_pearson_bounds(good, trials, 1.0 - self.nominal_alpha_fail)[1]
        if self._flip:  # back from the good count to the rate the criterion names
            return 1.0 - upper, 1.0 - lower
        return lower, upper

    def judge(self, events: int, trials: int) -> Judgement:
        """The verdict when iterations stop after ``trials``: ``pass`` or ``fail`` as
        :meth:`decide` says, ``inconclusive`` otherwise (the maximum was reached, or the run
        ended before it).

        ``bound`` is the pessimistic bound at the nominal level, ``confidence`` the stated
        (overall) one. For an inconclusive verdict ``more_samples`` is how many more iterations
        would decide if the observed rate holds, computed with the current nominal levels: a
        larger ``max_iterations`` has more looks and so slightly smaller levels, which makes
        this a lower estimate ("at least about").
        """
        decision = self.decide(events, trials)
        status: Status = decision if decision in ("pass", "fail") else "inconclusive"
        lower, upper = self.bounds(events, trials)
        estimate = events / trials if trials else math.nan
        lower, upper = min(lower, estimate), max(upper, estimate)
        bound = upper if self._flip else lower
        more: int | None = None
        if status == "inconclusive" and trials > 0:
            share = events / trials

            def status_at(size: int) -> Status:
                hits = min(size, max(0, round(share * size)))
                good = size - hits if self._flip else hits
                lo = clopper_pearson_bounds(good, size, 1.0 - self.nominal_alpha_pass)[0]
                hi = clopper_pearson_bounds(good, size, 1.0 - self.nominal_alpha_fail)[1]
                return decide(">=", 1.0 - self.limit if self._flip else self.limit,
                              good / size, lo, hi)

            more = samples_to_decide(trials, status_at, limit=max(trials * 1000, 10**6))
        return Judgement(status, estimate, lower, upper, bound, self.confidence, trials, more)

    def operating_characteristics(self, rate: float) -> tuple[float, float, float]:
        """Exactly, for iterations that each count (succeed, for ``success_rate``) with
        probability ``rate``: (probability of PASS, probability of FAIL, expected number of
        iterations run), by dynamic programming over the counts (no simulation). What is left,
        ``1 - pass - fail``, ends INCONCLUSIVE at ``max_iterations``.

        >>> plan = SequentialRate(">=", 0.95, max_iterations=300)
        >>> [round(v, 3) for v in plan.operating_characteristics(1.0)]
        [1.0, 0.0, 81.0]
        """
        import numpy as np

        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must lie in [0, 1], got {rate!r}")
        good_rate = 1.0 - rate if self._flip else rate
        alive = np.array([1.0])  # alive[k]: still running with k good iterations
        passed = failed = expected = 0.0
        for n in range(1, self.max_iterations + 1):
            expected += float(alive.sum())  # every run still going does iteration n
            alive = (np.concatenate([alive * (1.0 - good_rate), [0.0]])
                     + np.concatenate([[0.0], alive * good_rate]))
            if n < self.min_iterations:
                continue
            pass_at, fail_at = self._pass_at[n], self._fail_at[n]
            if pass_at <= n:
                passed += float(alive[pass_at:].sum())
                alive[pass_at:] = 0.0
            if fail_at >= 0:
                failed += float(alive[: fail_at + 1].sum())
                alive[: fail_at + 1] = 0.0
        return passed, failed, expected

    def thresholds(self, trials: int) -> tuple[int, int]:
        """(pass at >= this many good iterations, fail at <= this many) after ``trials``; the
        "good" count is successes for a lower limit and non-events for an upper limit."""
        return self._pass_at[trials], self._fail_at[trials]


@functools.lru_cache(maxsize=64)
def _plan(limit: float, alpha: float, max_n: int, min_n: int) -> tuple[float, list[int], float, list[int]]:
    """Nominal levels and boundaries for a lower limit on the good rate (see SequentialRate)."""
    import numpy as np

    # the unconditioned binomial pmf of each look under p = limit, and per look the tail
    # probabilities that place its boundaries
    rows: list[Any] = []
    pmf = np.array([1.0])
    for _ in range(max_n):
        pmf = np.concatenate([pmf * (1.0 - limit), [0.0]]) + np.concatenate([[0.0], pmf * limit])
        rows.append(pmf)
    upper_tails = [np.cumsum(r[::-1])[::-1] for r in rows]  # P(X >= k)
    lower_tails = [np.cumsum(r) for r in rows]  # P(X <= k)

    def pass_at(level: float) -> list[int]:
        # the CP lower bound of k/n clears the limit  <=>  P_limit(X >= k) <= level
        out = [max_n + 2] * (max_n + 1)
        for n in range(min_n, max_n + 1):
            ok = np.nonzero(upper_tails[n - 1] <= level)[0]
            out[n] = int(ok[0]) if ok.size else max_n + 2
        return out

    def fail_at(level: float) -> list[int]:
        # the CP upper bound of k/n falls below the limit  <=>  P_limit(X <= k) < level
        out = [-1] * (max_n + 1)
        for n in range(min_n, max_n + 1):
            ok = np.nonzero(lower_tails[n - 1] < level)[0]
            out[n] = int(ok[-1]) if ok.size else -1
        return out

    def crossing(boundary: list[int], side: str) -> float:
        alive = np.array([1.0])
        crossed = 0.0
        for n in range(1, max_n + 1):
            alive = np.concatenate([alive * (1.0 - limit), [0.0]]) + np.concatenate([[0.0], alive * limit])
            b = boundary[n]
            if side == "pass" and b <= n:
                crossed += float(alive[b:].sum())
                alive[b:] = 0.0
            elif side == "fail" and b >= 0:
                crossed += float(alive[: b + 1].sum())
                alive[: b + 1] = 0.0
        return crossed

    def calibrate(make: Callable[[float], list[int]], side: str) -> tuple[float, list[int]]:
        lo, hi = math.log(alpha / (10.0 * max_n)), math.log(alpha)
        best_level, best = math.exp(lo), make(math.exp(lo))
        if crossing(make(alpha), side) <= alpha:
            return alpha, make(alpha)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            candidate = make(math.exp(mid))
            if crossing(candidate, side) <= alpha:
                lo, best_level, best = mid, math.exp(mid), candidate
            else:
                hi = mid
            if hi - lo < 1e-4:
                break
        return best_level, best

    level_pass, boundary_pass = calibrate(pass_at, "pass")
    level_fail, boundary_fail = calibrate(fail_at, "fail")
    return level_pass, boundary_pass, level_fail, boundary_fail
