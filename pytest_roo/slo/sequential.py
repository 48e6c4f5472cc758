"""Iterations until conclusive: a rate criterion decided after every iteration by repeated
Clopper-Pearson bounds at levels corrected for the repeated looks (:class:`SequentialRate`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Literal

from pytest_roo.slo.bounds import DEFAULT_CONFIDENCE, Status, _check_confidence, _check_counts
from pytest_roo.slo.decision import Judgement, decide, samples_to_decide
from pytest_roo.slo.rate_bounds import clopper_pearson_bounds

__all__ = ["SequentialRate"]


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
