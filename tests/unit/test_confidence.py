"""Confidence bounds against known values and against brute-force binomial sums."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import pytest

from pytest_roo.results.metrics import LatencyMetric
from pytest_roo.slo import confidence as c

# --- brute force, independent of the module's continued fraction ------------------------------


@functools.cache
def _cdf_table(n: int, q: Fraction) -> tuple[Fraction, ...]:
    """P(Binomial(n, q) <= k) for k = 0 .. n, summed term by term in exact arithmetic."""
    total = Fraction(0)
    table = []
    for i in range(n + 1):
        total += math.comb(n, i) * q**i * (1 - q) ** (n - i)
        table.append(total)
    return tuple(table)


def _binom_cdf_exact(k: int, n: int, q: Fraction) -> Fraction:
    if k < 0:
        return Fraction(0)
    return _cdf_table(n, q)[min(k, n)]


def _rank_brute(n: int, percentile: float, conf: float, side: str) -> int | None:
    q = Fraction(str(percentile)) / 100
    target = Fraction(conf).limit_denominator(10**6)
    if side == "upper":  # smallest k with P(Bin <= k - 1) >= conf
        for k in range(1, n + 1):
            if _binom_cdf_exact(k - 1, n, q) >= target:
                return k
        return None
    best = None  # largest k with P(Bin >= k) >= conf
    for k in range(1, n + 1):
        if 1 - _binom_cdf_exact(k - 1, n, q) >= target:
            best = k
    return best


# --- rates: the figures the suites rest on -----------------------------------------------------


def test_twenty_clean_runs_do_not_show_95_percent() -> None:
    wilson_lower, wilson_upper = c.wilson_bounds(20, 20, 0.95)
    cp_lower, cp_upper = c.clopper_pearson_bounds(20, 20, 0.95)
    assert round(wilson_lower, 3) == 0.881
    assert round(cp_lower, 3) == 0.861
    assert wilson_upper == cp_upper == 1.0
    assert c.judge_rate(">=", 0.95, events=20, trials=20).status == "inconclusive"


def test_59_clean_runs_pass_95_percent_and_58_do_not() -> None:
    assert c.judge_rate(">=", 0.95, events=59, trials=59).status == "pass"
    assert c.judge_rate(">=", 0.95, events=58, trials=58).status == "inconclusive"


@pytest.mark.parametrize(("failures", "minimal_runs"), [(0, 59), (1, 93), (2, 124), (3, 153)])
def test_minimal_runs_per_number_of_failures(failures: int, minimal_runs: int) -> None:
    def status(runs: int) -> str:
        return c.judge_rate(">=", 0.95, events=runs - failures, trials=runs).status

    assert status(minimal_runs) == "pass"
    assert status(minimal_runs - 1) == "inconclusive"


def test_more_samples_of_an_inconclusive_rate() -> None:
    judged = c.judge_rate(">=", 0.95, events=20, trials=20)
    assert judged.more_samples == 39  # 59 clean runs in all
    assert "39 more samples" in judged.explanation
    assert round(judged.bound, 3) == 0.861


def test_a_rate_on_its_limit_never_decides() -> None:
    judged = c.judge_rate(">=", 0.5, events=50, trials=100)
    assert judged.status == "inconclusive"
    assert judged.more_samples is None
    assert "would not decide" in judged.explanation
    assert "inconclusive: 100 samples" in judged.explanation


@pytest.mark.parametrize(
    ("events", "trials", "conf"),
    [(1, 10, 0.95), (7, 30, 0.9), (15, 16, 0.99), (40, 93, 0.95), (92, 93, 0.95), (3, 200, 0.8)],
)
def test_clopper_pearson_solves_the_binomial_tails(events: int, trials: int, conf: float) -> None:
    lower, upper = c.clopper_pearson_bounds(events, trials, conf)
    alpha = 1 - conf
    # lower: P_lower(X >= events) = alpha; upper: P_upper(X <= events) = alpha
    tail_at_lower = 1 - _binom_cdf_exact(events - 1, trials, Fraction(lower))
    tail_at_upper = _binom_cdf_exact(events, trials, Fraction(upper))
    assert float(tail_at_lower) == pytest.approx(alpha, rel=1e-9)
    assert float(tail_at_upper) == pytest.approx(alpha, rel=1e-9)


def test_zero_events_closed_forms() -> None:
    lower, upper = c.clopper_pearson_bounds(0, 300, 0.95)
    assert lower == 0.0
    assert upper == pytest.approx(1 - 0.05 ** (1 / 300))
    # "error_rate < 1%" needs 299 clean operations to pass at 95 %
    assert c.judge_rate("<", 0.01, events=0, trials=299).status == "pass"
    assert c.judge_rate("<", 0.01, events=0, trials=298).status == "inconclusive"


def test_wilson_matches_its_formula() -> None:
    events, trials, z = 7, 30, 1.6448536269514722
    p = events / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2))
    lower, upper = c.wilson_bounds(events, trials, 0.95)
    assert lower == pytest.approx(centre - half, rel=1e-12)
    assert upper == pytest.approx(centre + half, rel=1e-12)


def test_wilson_with_continuity_tracks_clopper_pearson_above_the_exact_limit() -> None:
    for trials in (10**6, 2 * 10**6):
        for events in (trials // 1000, trials // 100, trials // 2):
            exact = c.clopper_pearson_bounds(events, trials, 0.95)
            approx = c.wilson_bounds(events, trials, 0.95, continuity=True)
            assert abs(exact[0] - approx[0]) < 1e-6
            assert abs(exact[1] - approx[1]) < 1e-6


def test_rate_bounds_contain_the_estimate_and_narrow_with_samples() -> None:
    small = c.rate_bounds(9, 10)
    large = c.rate_bounds(900, 1000)
    assert small.lower < small.estimate < small.upper
    assert small.lower < large.lower < large.estimate == 0.9 < large.upper < small.upper
    assert c.rate_bounds(900, 1000, method="wilson").lower > large.lower  # Wilson is narrower
    nothing = c.rate_bounds(0, 0)
    assert math.isnan(nothing.estimate) and (nothing.lower, nothing.upper) == (0.0, 1.0)


def test_betainc_and_its_inverse_against_binomial_sums() -> None:
    # I_x(a, b) = P(Binomial(a + b - 1, x) >= a) for whole a, b
    for a, b, x in [(1, 1, 0.3), (2, 3, 0.4), (5, 20, 0.1), (30, 4, 0.85), (50, 50, 0.47)]:
        expected = 1 - _binom_cdf_exact(a - 1, a + b - 1, Fraction(x))
        assert c.betainc(a, b, x) == pytest.approx(float(expected), rel=1e-12, abs=1e-300)
        for q in (0.001, 0.05, 0.5, 0.95):
            assert c.betainc(a, b, c.beta_ppf(q, a, b)) == pytest.approx(q, rel=1e-10)


def test_binom_cdf_against_the_sum() -> None:
    for n, p in [(10, 0.5), (59, 0.95), (200, 0.99), (300, 0.01)]:
        for k in range(0, n + 1, max(1, n // 13)):
            exact = float(_binom_cdf_exact(k, n, Fraction(str(p))))
            assert c.binom_cdf(k, n, p) == pytest.approx(exact, rel=1e-10, abs=1e-300)


# --- percentiles --------------------------------------------------------------------------------

RANK_CASES = [
    (n, p, conf)
    for n in (5, 20, 58, 59, 100, 137)
    for p in (50, 90, 95, 99)
    for conf in (0.9, 0.95)
]


@pytest.mark.parametrize(("n", "percentile", "conf"), RANK_CASES)
def test_order_statistic_ranks_against_brute_force(n: int, percentile: float, conf: float) -> None:
    for side in ("upper", "lower"):
        assert c.order_statistic_rank(n, percentile, conf, side) == _rank_brute(
            n, percentile, conf, side
        ), side


def test_order_statistic_ranks_of_known_sample_sizes() -> None:
    assert c.order_statistic_rank(58, 95, 0.95) is None
    assert c.order_statistic_rank(59, 95, 0.95) == 59  # the maximum of 59 samples bounds p95
    assert c.order_statistic_rank(299, 99, 0.95) == 299
    assert c.order_statistic_rank(298, 99, 0.95) is None
    # a large sample: a little above n * q, about 1.645 standard deviations
    rank = c.order_statistic_rank(10**6, 95, 0.95)
    assert rank is not None
    assert 950_000 + 1.6 * math.sqrt(10**6 * 0.95 * 0.05) < rank < 950_000 + 1.7 * math.sqrt(47_500)


def test_upper_rank_covers_the_quantile_in_simulation() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    n, q, conf = 200, 0.95, 0.95
    rank = c.order_statistic_rank(n, 95, conf)
    assert rank is not None
    true_quantile = -math.log(1 - q)  # of Exp(1)
    samples = np.sort(rng.exponential(size=(4000, n)), axis=1)
    covered = float(np.mean(samples[:, rank - 1] >= true_quantile))
    assert covered >= conf - 0.01  # 4000 trials: the standard error is 0.0035


def _metric(values_ms: list[float]) -> LatencyMetric:
    metric = LatencyMetric("rtt")
    for ms in values_ms:
        metric.record(ms / 1000)
    return metric


def test_value_at_rank_reads_the_histogram() -> None:
    metric = _metric([float(i) for i in range(1, 101)])  # 1 .. 100 ms
    hist = metric.histogram
    for rank in (1, 50, 95, 100):
        upper = c.value_at_rank(hist, rank, "upper")
        lower = c.value_at_rank(hist, rank, "lower")
        assert lower <= rank * 1000 <= upper
        assert upper - lower <= rank * 1000 * 0.002  # 3 significant digits
    assert c.value_at_rank(hist, 95, "upper") == hist.get_value_at_percentile(95)
    with pytest.raises(ValueError, match="rank"):
        c.value_at_rank(hist, 101)


def test_percentile_judged_with_bounds() -> None:
    fast = _metric([1.0] * 58)
    judged = c.judge_percentile("<", 0.05, fast.histogram, 95)
    assert judged.status == "inconclusive"  # 58 samples cannot bound a p95 from above
    assert judged.upper == math.inf
    assert judged.more_samples == 1
    assert c.judge_percentile("<", 0.05, _metric([1.0] * 59).histogram, 95).status == "pass"
    slow = _metric([100.0] * 200)
    assert c.judge_percentile("<", 0.05, slow.histogram, 95).status == "fail"
    # point estimate only: 58 samples are enough for k6's answer
    assert c.judge_percentile("<", 0.05, fast.histogram, 95, confidence=0).status == "pass"


def test_percentile_bounds_straddle_the_estimate() -> None:
    metric = _metric([float(i % 100 + 1) for i in range(1000)])  # uniform 1 .. 100 ms
    bounds = c.percentile_bounds(metric.histogram, 95, 0.95)
    assert bounds.samples == 1000
    assert bounds.lower < bounds.estimate < bounds.upper
    assert bounds.estimate == pytest.approx(metric.percentile(95))
    assert bounds.lower > 0.092 and bounds.upper < 0.098
    judged = c.judge_percentile("<", 0.0965, metric.histogram, 95)
    assert judged.status == "inconclusive"
    assert judged.more_samples is not None and judged.more_samples > 0


# --- the decision -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "limit", "estimate", "lower", "upper", "status"),
    [
        ("<", 0.05, 0.03, 0.02, 0.04, "pass"),
        ("<", 0.05, 0.04, 0.03, 0.05, "inconclusive"),  # strict: 0.05 is not below 0.05
        ("<=", 0.05, 0.04, 0.03, 0.05, "pass"),
        ("<", 0.05, 0.07, 0.05, 0.09, "fail"),
        ("<=", 0.05, 0.07, 0.05, 0.09, "inconclusive"),
        (">=", 0.95, 1.0, 0.95, 1.0, "pass"),
        (">", 0.95, 1.0, 0.95, 1.0, "inconclusive"),
        (">=", 0.95, 0.9, 0.85, 0.94, "fail"),
        (">", 0.95, 0.9, 0.85, 0.95, "fail"),
        ("==", 0.0, 0.0, 0.0, 0.01, "pass"),
        ("==", 0.0, 0.01, 0.0, 0.02, "fail"),
        ("<", 0.05, math.nan, 0.0, math.inf, "inconclusive"),
    ],
)
def test_decide(op: str, limit: float, estimate: float, lower: float, upper: float, status: str) -> None:
    assert c.decide(op, limit, estimate, lower, upper) == status


def test_confidence_zero_is_the_point_estimate() -> None:
    assert c.judge_rate(">=", 0.95, events=20, trials=20, confidence=0).status == "pass"
    assert c.judge_rate(">=", 0.95, events=18, trials=20, confidence=0).status == "fail"
    judged = c.judge_rate("<", 0.01, events=0, trials=3, confidence=0)
    assert (judged.lower, judged.upper, judged.bound) == (0.0, 0.0, 0.0)


def test_limits_on_the_edge_are_judged_on_the_observed_runs() -> None:
    judged = c.judge_rate(">=", 1.0, events=3, trials=3)
    assert (judged.status, judged.confidence) == ("pass", 0.0)
    assert c.judge_rate(">=", 1.0, events=2, trials=3).status == "fail"
    assert c.judge_rate("<=", 0.0, events=0, trials=3).status == "pass"
    assert c.judge_rate("<=", 0.0, events=1, trials=300).status == "fail"


@pytest.mark.parametrize("bad", [1.0, -0.1, 95, math.nan, "0.95"])
def test_rejects_bad_confidence(bad: object) -> None:
    with pytest.raises(ValueError, match=r"confidence must be a number in \[0, 1\)"):
        c.rate_bounds(1, 2, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("events", "trials"), [(-1, 3), (4, 3), (0, -1)])
def test_rejects_bad_counts(events: int, trials: int) -> None:
    with pytest.raises(ValueError, match="0 <= events <= trials"):
        c.rate_bounds(events, trials)


def test_rejects_bad_operator_and_method() -> None:
    with pytest.raises(ValueError, match="op must be"):
        c.decide("!=", 1.0, 0.5, 0.4, 0.6)
    with pytest.raises(ValueError, match="method"):
        c.rate_bounds(1, 2, 0.95, "bayes")  # type: ignore[arg-type]
