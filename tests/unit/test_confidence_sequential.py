"""The sequential rule behind iterations="auto": its operating characteristics, by simulation."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_roo.slo.confidence import SequentialRate

REPLICATIONS = 4000


def _simulate(plan: SequentialRate, good_rate: float, seed: int = 20261129) -> dict[str, float]:
    """Run the rule on REPLICATIONS simulated runs whose iterations go well with ``good_rate``.

    Returns the shares that passed and failed, and the mean number of iterations spent.
    """
    import numpy as np

    n = plan.max_iterations
    rng = np.random.default_rng(seed)
    good = np.cumsum(rng.random((REPLICATIONS, n)) < good_rate, axis=1)
    looks = range(1, n + 1)
    pass_at = np.array([plan.thresholds(i)[0] for i in looks])
    fail_at = np.array([plan.thresholds(i)[1] for i in looks])
    passes, fails = good >= pass_at, good <= fail_at
    decided = passes | fails
    any_decided = decided.any(axis=1)
    first = np.where(any_decided, decided.argmax(axis=1), n - 1)
    rows = np.arange(REPLICATIONS)
    passed = any_decided & passes[rows, first]
    failed = any_decided & fails[rows, first]
    return {
        "pass": float(passed.mean()),
        "fail": float(failed.mean()),
        "iterations": float((first + 1).mean()),
    }


@pytest.fixture(scope="module")
def at_least_95() -> SequentialRate:
    return SequentialRate(">=", 0.95)


def test_a_good_system_passes_nearly_always(at_least_95: SequentialRate) -> None:
    outcome = _simulate(at_least_95, 0.99)
    assert outcome["pass"] >= 0.99
    assert outcome["fail"] <= 0.005
    assert outcome["iterations"] < 200  # mean iterations spent (measured: 137)


def test_a_bad_system_fails_nearly_always(at_least_95: SequentialRate) -> None:
    outcome = _simulate(at_least_95, 0.90)
    assert outcome["fail"] >= 0.97
    assert outcome["pass"] <= 0.005
    assert outcome["iterations"] < 250  # measured: 152


def test_on_the_limit_errors_stay_within_alpha(at_least_95: SequentialRate) -> None:
    outcome = _simulate(at_least_95, 0.95)
    # exactly <= 5 % each; 4000 replications have a standard error of 0.0035
    assert outcome["pass"] <= 0.05 + 3 * 0.0035
    assert outcome["fail"] <= 0.05 + 3 * 0.0035


def test_a_clean_run_passes_after_a_fixed_number_of_iterations(at_least_95: SequentialRate) -> None:
    clean = at_least_95.pass_after_clean_runs
    assert clean is not None
    assert 59 < clean < 120  # more than the fixed design's 59: the looks cost something
    assert at_least_95.decide(clean, clean) == "pass"
    assert at_least_95.decide(clean - 1, clean - 1) == "continue"
    assert _simulate(at_least_95, 1.0)["iterations"] == clean


def test_decisions_follow_the_counts(at_least_95: SequentialRate) -> None:
    assert at_least_95.decide(0, 1) == "continue"
    assert at_least_95.decide(1, 10) == "fail"  # 1 success in 10: far below 95 %
    assert at_least_95.decide(570, 600) == "inconclusive"  # 95 % on the limit at the maximum
    assert 0 < at_least_95.nominal_alpha_pass < 0.05
    assert 0 < at_least_95.nominal_alpha_fail < 0.05


def test_an_upper_limit_on_an_error_rate() -> None:
    plan = SequentialRate("<", 0.05, max_iterations=600)
    # events are errors here: few errors pass, many fail
    clean = plan.pass_after_clean_runs
    assert clean is not None
    assert plan.decide(0, clean) == "pass"
    assert plan.decide(5, 10) == "fail"
    mirrored = SequentialRate(">", 0.95, max_iterations=600)
    assert mirrored.pass_after_clean_runs == clean


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"op": "==", "limit": 0.5}, "one of"),
        ({"op": ">=", "limit": 1.0}, "strictly between 0 and 1"),
        ({"op": ">=", "limit": 0.0}, "strictly between 0 and 1"),
        ({"op": ">=", "limit": 0.9, "max_iterations": 0}, "min_iterations <= max_iterations"),
        ({"op": ">=", "limit": 0.9, "confidence": 0.0}, "confidence above 0"),
    ],
)
def test_rejects_bad_plans(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SequentialRate(**kwargs)
