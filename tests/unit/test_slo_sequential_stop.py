"""iterations="auto": when the sequential rule stops, and what it decides, on known cases."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pytest_roo.plugin.iterations import SequentialStop, sequential_plans, sequential_verdicts
from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo import evaluate
from pytest_roo.slo.confidence import SequentialRate, clopper_pearson_bounds


def _run(
    criteria: Sequence[str], fails: Callable[[int], bool], max_iterations: int,
    confidence: float = 0.95,
) -> LoadResult:
    """What run_iterations does, without a test item: iteration i fails when ``fails(i)``."""
    stop = SequentialStop(sequential_plans(criteria, confidence, max_iterations))
    result = LoadResult(name="iterations", info={"kind": "iterations"})
    for index in range(1, max_iterations + 1):
        if fails(index):
            result.add_error("assertion")
        result.operations += 1
        if stop(result, index):
            break
    stop.record(result, result.operations, max_iterations)
    return result


def _entry(result: LoadResult, criterion: str) -> dict[str, Any]:
    return next(e for e in result.info["sequential"] if e["criterion"] == criterion)


@pytest.mark.parametrize(("max_iterations", "clean"), [(600, 89), (300, 81), (100, 65)])
def test_a_flow_that_never_fails_passes_after_a_known_count(max_iterations: int, clean: int) -> None:
    result = _run(["success_rate >= 95%"], lambda i: False, max_iterations)
    assert result.operations == clean
    entry = _entry(result, "success_rate >= 95%")
    assert entry["status"] == "pass" and entry["iterations"] == clean
    assert entry["bound"] >= 0.95 and entry["confidence"] == 0.95
    # one iteration fewer would not do: the stop is at the first look that decides
    plan = SequentialRate(">=", 0.95, max_iterations=max_iterations)
    assert plan.decide(clean - 1, clean - 1) == "continue"
    # more than the 59 of a fixed design: the repeated looks cost some iterations
    assert clean > 59


def test_a_flow_failing_one_in_five_fails_early() -> None:
    result = _run(["success_rate >= 95%"], lambda i: i % 5 == 0, 600)
    assert result.operations == 30
    entry = _entry(result, "success_rate >= 95%")
    assert entry["status"] == "fail" and entry["events"] == 24
    assert entry["bound"] < 0.95  # the optimistic bound at the nominal level misses the limit
    assert entry["reason"].startswith("sequential: after 30 of at most 600 iterations")


def test_a_random_twenty_percent_failure_fails_long_before_the_maximum() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    failing = rng.random(600) < 0.2
    result = _run(["success_rate >= 95%"], lambda i: bool(failing[i - 1]), 600)
    assert _entry(result, "success_rate >= 95%")["status"] == "fail"
    assert result.operations < 100


def test_a_flow_on_the_limit_reaches_the_maximum_inconclusive() -> None:
    result = _run(["success_rate >= 95%"], lambda i: i % 20 == 0, 300)  # exactly 95 %
    assert result.operations == 300
    entry = _entry(result, "success_rate >= 95%")
    assert entry["status"] == "inconclusive"
    assert entry["more_iterations"] is None  # on the limit, no number of runs decides
    assert "would not decide" in entry["reason"]


def test_a_flow_just_above_the_limit_says_how_many_more_would_decide() -> None:
    result = _run(["success_rate >= 95%"], lambda i: i % 25 == 0, 300)  # 96 %
    assert result.operations == 300
    entry = _entry(result, "success_rate >= 95%")
    assert entry["status"] == "inconclusive"
    assert entry["more_iterations"] == 1831
    assert "at least about 1,831 more would decide" in entry["reason"]
    assert "max_iterations=2,131" in entry["reason"]


def test_an_error_rate_is_decided_on_errors() -> None:
    result = _run(["error_rate < 5%"], lambda i: False, 300)
    entry = _entry(result, "error_rate < 5%")
    assert (entry["status"], entry["iterations"], entry["events"]) == ("pass", 81, 0)
    assert entry["bound"] <= 0.05  # the upper bound of the error rate


def test_each_criterion_keeps_its_first_decision() -> None:
    criteria = ["error_rate < 20%", "success_rate >= 95%"]
    result = _run(criteria, lambda i: False, 600)
    loose, strict = _entry(result, criteria[0]), _entry(result, criteria[1])
    assert loose["status"] == strict["status"] == "pass"
    assert loose["iterations"] < strict["iterations"] == result.operations == 89


def test_a_fail_stops_the_run_and_leaves_the_others_undecided() -> None:
    criteria = ["success_rate >= 79%", "success_rate >= 95%"]  # 80 % seen: 79 % undecided
    result = _run(criteria, lambda i: i % 5 == 0, 600)
    assert _entry(result, criteria[1])["status"] == "fail"
    undecided = _entry(result, criteria[0])
    assert undecided["status"] == "inconclusive"
    assert "not decided when the iterations stopped" in undecided["reason"]


def _crossing(limit: float, max_n: int, fail_at: Callable[[int], int]) -> float:
    """Exact probability that a run whose iterations succeed with probability ``limit`` ever
    reaches ``good <= fail_at(n)`` within ``max_n`` looks (dynamic programming over the paths)."""
    import numpy as np

    alive = np.array([1.0])
    crossed = 0.0
    for n in range(1, max_n + 1):
        alive = np.concatenate([alive * (1 - limit), [0.0]]) + np.concatenate([[0.0], alive * limit])
        b = fail_at(n)
        if b >= 0:
            crossed += float(alive[: b + 1].sum())
            alive[: b + 1] = 0.0
    return crossed


def test_the_early_fail_keeps_its_confidence_where_a_bound_per_look_does_not() -> None:
    """A system exactly on the limit must be failed with probability <= 5 %. Stopping at the
    first look whose plain 95 % bound misses the limit fails it far more often; the corrected
    boundary keeps it."""
    max_n = 300
    plan = SequentialRate(">=", 0.95, max_iterations=max_n)

    def naive(n: int) -> int:
        # the last good count whose plain one-sided 95 % upper bound lies below the limit
        # (the bound grows with the count: bisect)
        lo, hi = -1, n
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if clopper_pearson_bounds(mid, n, 0.95)[1] < 0.95:
                lo = mid
            else:
                hi = mid - 1
        return lo

    assert _crossing(0.95, max_n, naive) > 0.2  # computed: 0.211 (0.250 over 600 looks)
    corrected = _crossing(0.95, max_n, lambda n: plan.thresholds(n)[1])
    assert corrected <= 0.05
    assert plan.nominal_alpha_fail < 0.01  # the per-look level behind it


def test_sequential_verdicts_replace_the_fixed_sample_ones() -> None:
    result = _run(["success_rate >= 95%", "p95 < 10s"], lambda i: i % 37 == 0, 300)
    result.metric("iteration").record(0.001)
    fixed = evaluate(result, ["success_rate >= 95%", "p95 < 10s"], 0.95)
    # 292 of 300 clear 95 % with one fixed bound, but not when it was looked at 300 times
    assert result.error_count == 8
    assert fixed[0].status == "pass"
    judged = sequential_verdicts(result, fixed)
    assert (judged[0].status, judged[0].passed, judged[0].samples) == ("inconclusive", False, 300)
    assert judged[0].reason.startswith("inconclusive at max_iterations=300")
    assert judged[1] is fixed[1]  # not a rate: judged as before


@pytest.mark.parametrize(
    ("criteria", "confidence", "max_iterations", "message"),
    [
        (["p95 < 1s"], 0.95, 600, "has none ('p95 < 1s')"),
        (["success_rate >= 95%"], 0.0, 600, "needs a confidence above 0, got 0.0"),
        (["success_rate >= 100%"], 0.95, 600, "cannot decide 'success_rate >= 100%'"),
        (["error_rate == 1%"], 0.95, 600, "cannot decide 'error_rate == 1%'"),
        (["success_rate >= 95%"], 0.95, 50, "max_iterations=50) is too few"),
        (["success_rate >= 95%"], 0.95, 58, "use max_iterations >= 59"),
        (["success_rate >= 99%"], 0.95, 200, "use max_iterations >= 299"),
    ],
)
def test_what_cannot_be_decided_is_refused_with_the_reason(
    criteria: list[str], confidence: float, max_iterations: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sequential_plans(criteria, confidence, max_iterations)


def test_the_least_maximum_named_in_the_error_is_enough() -> None:
    plans = sequential_plans(["success_rate >= 95%"], 0.95, 59)
    assert plans["success_rate >= 95%"][1].pass_after_clean_runs == 59


def test_exact_operating_characteristics() -> None:
    plan = SequentialRate(">=", 0.95, max_iterations=600)
    assert plan.operating_characteristics(1.0) == (1.0, 0.0, 89.0)
    on_limit = plan.operating_characteristics(0.95)
    assert on_limit[0] <= 0.05 and on_limit[1] <= 0.05  # both errors within alpha, exactly
    passed, failed, mean = plan.operating_characteristics(0.80)
    assert failed > 0.9999 and mean == pytest.approx(27, abs=0.5)
    # an upper limit on errors is the mirror image of a lower limit on successes
    errors = SequentialRate("<=", 0.05, max_iterations=600)
    assert errors.operating_characteristics(0.20) == pytest.approx((passed, failed, mean))
    with pytest.raises(ValueError, match="rate must lie in"):
        plan.operating_characteristics(1.5)


def test_exact_characteristics_agree_with_a_simulation() -> None:
    import numpy as np

    plan = SequentialRate(">=", 0.95, max_iterations=300)
    rng = np.random.default_rng(3)
    good = np.cumsum(rng.random((4000, 300)) < 0.97, axis=1)
    looks = range(1, 301)
    passes = good >= np.array([plan.thresholds(n)[0] for n in looks])
    fails = good <= np.array([plan.thresholds(n)[1] for n in looks])
    decided = passes | fails
    first = np.where(decided.any(axis=1), decided.argmax(axis=1), 299)
    simulated_pass = float((decided.any(axis=1) & passes[np.arange(4000), first]).mean())
    exact_pass, _, exact_mean = plan.operating_characteristics(0.97)
    assert simulated_pass == pytest.approx(exact_pass, abs=0.03)  # 4000 runs: SE about 0.008
    assert float((first + 1).mean()) == pytest.approx(exact_mean, rel=0.03)
