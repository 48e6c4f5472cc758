"""The estimators of pytest_roo.monitor.stats against known values and their coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_roo.monitor.stats import (
    bootstrap_mean,
    hodges_lehmann,
    hodges_lehmann_shift,
    quantile_bounds,
    theil_sen,
    z_value,
)


def test_theil_sen_exact_line() -> None:
    fit = theil_sen(np.arange(20), 3.0 * np.arange(20) + 7.0)
    assert (fit.estimate, fit.lower, fit.upper, fit.intercept) == (3.0, 3.0, 3.0, 7.0)
    assert fit.attainable


def test_theil_sen_ignores_outliers() -> None:
    x = np.arange(30, dtype=float)
    y = 2.0 * x
    y[[3, 11, 25]] = [500.0, -400.0, 900.0]  # three wild samples
    fit = theil_sen(x, y)
    assert fit.estimate == pytest.approx(2.0, abs=0.05)
    assert fit.lower <= 2.0 <= fit.upper


def test_theil_sen_matches_the_reference_ranks() -> None:
    """Sen's interval for n=10 distinct points: ranks from scipy.stats.theilslopes' formula,
    worked by hand: N = 45 slopes, var S = 10*9*25/18 = 125, C = 1.96 * sqrt(125) = 21.91,
    upper rank round((45 + 21.91) / 2) = 33, lower rank round((45 - 21.91) / 2) - 1 = 11."""
    rng = np.random.default_rng(3)
    x = np.arange(10, dtype=float)
    y = x + rng.normal(0, 1, 10)
    i, j = np.triu_indices(10, k=1)
    slopes = np.sort((y[j] - y[i]) / (x[j] - x[i]))
    fit = theil_sen(x, y)
    assert (fit.lower, fit.upper) == (slopes[11], slopes[33])
    assert fit.estimate == float(np.median(slopes))


def test_theil_sen_coverage_is_near_nominal() -> None:
    """Over 400 noisy lines the 95 % interval holds the true slope 92-99 % of the time."""
    rng = np.random.default_rng(11)
    x = np.arange(15, dtype=float)
    hits = 0
    for _ in range(400):
        fit = theil_sen(x, 0.5 * x + rng.normal(0, 2, x.size))
        hits += fit.lower <= 0.5 <= fit.upper
    assert 0.92 <= hits / 400 <= 0.99


def test_theil_sen_too_few_points_is_not_attainable() -> None:
    assert not theil_sen([0, 1, 2], [0, 1, 3]).attainable


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [([1.0], [1.0], "at least 2 points"), ([1, 1, 1], [1, 2, 3], "distinct x"),
     ([0, 1], [0, math.nan], "finite"), ([0, 1, 2], [0, 1], "differ in length")],
)
def test_theil_sen_rejects(x: list[float], y: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        theil_sen(x, y)


def test_hodges_lehmann_wilcoxon_interval_for_n10() -> None:
    """The exact Wilcoxon critical value for n=10, 95 % two-sided is 8: the interval runs from
    the 9th smallest to the 9th largest Walsh average."""
    data = np.array([1.5, -0.2, 2.8, 0.9, 1.1, 3.4, 0.3, 1.9, 2.2, -0.7])
    i, j = np.triu_indices(10, k=0)
    walsh = np.sort((data[i] + data[j]) / 2)
    hl = hodges_lehmann(data)
    assert (hl.lower, hl.upper) == (walsh[8], walsh[-9])
    assert hl.estimate == float(np.median(walsh))


def test_hodges_lehmann_four_values_are_not_attainable() -> None:
    assert not hodges_lehmann([1.0, 2.0, 3.0, 4.0]).attainable
    assert hodges_lehmann([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).attainable


def test_shift_estimates_the_offset() -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(100, 2, 40)
    later = rng.normal(110, 2, 40)
    shift = hodges_lehmann_shift(later, base)
    assert shift.lower < 10 < shift.upper
    assert shift.estimate == pytest.approx(10, abs=1.5)


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    data = np.random.default_rng(1).normal(0, 1, 30)
    first, again = bootstrap_mean(data, seed=7), bootstrap_mean(data, seed=7)
    assert (first.lower, first.upper) == (again.lower, again.upper)
    assert first.lower < first.estimate < first.upper
    assert bootstrap_mean(data, seed=8).lower != first.lower


def test_quantile_bounds_bracket_the_true_p95() -> None:
    data = np.arange(1, 1001, dtype=float)  # true p95 = 950
    q = quantile_bounds(data, 0.95)
    assert q.lower < 950 < q.upper
    assert (q.lower, q.upper) == (936.0, 964.0)  # 950 -/+ 1.96 * sqrt(1000 * .95 * .05)


def test_quantile_bounds_need_enough_samples() -> None:
    assert not quantile_bounds(np.arange(10.0), 0.95).attainable  # x(11) would be needed


def test_confidence_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        z_value(95)
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
