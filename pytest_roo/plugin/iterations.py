"""``@pytest.mark.slo(..., iterations=N)``: run the test body N times, each failure is data.

``iterations="auto"`` runs it until every rate criterion (``success_rate``, ``error_rate``) is
decided by a sequential rule that keeps the stated confidence over all the looks
(:class:`pytest_roo.slo.confidence.SequentialRate`), or until ``max_iterations``.

The rule is repeated one-sided Clopper-Pearson bounds at a per-look level below the stated one,
the largest for which a rate exactly on the limit crosses the PASS boundary (and, separately,
the FAIL boundary) over all looks with probability <= 1 - confidence, computed exactly over the
binomial paths. Chosen over Wald's SPRT because PASS and FAIL keep their fixed-count meaning
(the bound clears the limit / misses it) with no invented second hypothesis, and over a
Bonferroni split of the level because that spends it on looks that cannot cross: a clean flow
would need 184 iterations at ">= 95%" instead of 89. Looking after every iteration with the
plain 95 % bound would fail a flow exactly on 95 % one time in four within 600 looks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_roo.plugin.recording import get_recording

if TYPE_CHECKING:
    from pytest_roo.results.metrics import LoadResult
    from pytest_roo.results.verdict import Verdict
    from pytest_roo.slo.confidence import SequentialRate
    from pytest_roo.slo.spec import Criterion

__all__ = ["SequentialStop", "cannot_pass", "run_iterations", "sequential_plans", "sequential_verdicts",
           "validate_concurrency"]

RATE_STATS = ("success_rate", "error_rate")


def cannot_pass(criteria: Sequence[str], failures: int, n: int, confidence: float) -> str | None:
    """Why ``n`` iterations with ``failures`` failed ones can no longer PASS a success-rate
    criterion among ``criteria`` (even if every remaining iteration passes), or None.

    For a fixed ``n`` only. Stopping here and judging the iterations run keeps the confidence:
    the stop fires when the failures reach a fixed count F, and a FAIL at that moment needs
    F failures among so few iterations that the one-sided bound excludes the limit; F failures
    in k iterations is more damning the smaller k, so the verdict is FAIL exactly when F
    failures came within the first k* iterations for one fixed k*: a single fixed-sample test
    at k*, with error <= alpha.
    """
    from pytest_roo import slo
    from pytest_roo.slo import confidence as bounds

    for text in criteria:
        criterion = slo.parse(text)
        if criterion.stat not in RATE_STATS:
            continue
        good = n - failures
        events = good if criterion.stat == "success_rate" else failures
        judged = bounds.judge_rate(criterion.op, criterion.limit, events=events, trials=n,
                                   confidence=confidence)
        if judged.status != "pass":
            return (f"stopped early: with {failures} failed, {n} iterations can no longer show "
                    f"{criterion.text}")
    return None


def sequential_plans(
    criteria: Sequence[str], confidence: float, max_iterations: int
) -> dict[str, tuple[Criterion, SequentialRate]]:
    """The sequential rule of every rate criterion for ``iterations="auto"``, keyed by the
    criterion's text; ValueError naming the value and what is accepted when one cannot be
    decided sequentially (no rate criterion, confidence 0, ``==``, a limit of 0 % or 100 %, or a
    maximum too small for even a clean run to pass)."""
    from pytest_roo import slo
    from pytest_roo.slo.confidence import SequentialRate

    if not 0.0 < confidence < 1.0:
        raise ValueError(
            f'@pytest.mark.slo(iterations="auto") needs a confidence above 0, got '
            f"{confidence!r} (--roo-confidence=0 judges the bare estimate, which no number of "
            "iterations makes conclusive): set --roo-confidence to e.g. 0.95, or give a fixed "
            "iterations=N"
        )
    plans: dict[str, tuple[Criterion, SequentialRate]] = {}
    for text in criteria:
        criterion = slo.parse(text)
        if criterion.stat not in RATE_STATS:
            continue
        if criterion.op == "==" or not 0.0 < criterion.limit < 1.0:
            raise ValueError(
                f'@pytest.mark.slo(iterations="auto") cannot decide {text!r}: it needs a limit '
                "strictly between 0 % and 100 % with < <= > or >= (\"no failure at all\" is "
                "never shown by a sample); give a fixed iterations=N or a limit such as "
                "'success_rate >= 99%'"
            )
        plan = SequentialRate(criterion.op, criterion.limit, confidence=confidence,
                              max_iterations=max_iterations)
        if plan.pass_after_clean_runs is None:
            good_limit = 1.0 - criterion.limit if criterion.op in ("<", "<=") else criterion.limit
            least = math.ceil(math.log(1.0 - confidence) / math.log(good_limit))
            raise ValueError(
                f"@pytest.mark.slo(max_iterations={max_iterations}) is too few to ever show "
                f"{text!r} at {confidence:.0%} confidence, even if no iteration fails: use "
                f"max_iterations >= {least} (more leave room for a failure), or leave it out "
                "for the default"
            )
        plans[text] = (criterion, plan)
    if not plans:
        raise ValueError(
            f'@pytest.mark.slo(iterations="auto") decides when to stop from a success_rate or '
            f"error_rate criterion, and the marker has none ({', '.join(map(repr, criteria))}): "
            "add one such as 'success_rate >= 95%', or give a fixed iterations=N"
        )
    return plans


def _events(criterion: Criterion, runs: int, failures: int) -> int:
    return runs - failures if criterion.stat == "success_rate" else failures


class SequentialStop:
    """Decides after every iteration; each criterion keeps its first decision (the guarantee of
    a sequential rule is about its first boundary crossing). The iterations stop when one
    criterion is decided FAIL (the test fails whatever the others do) or all are decided."""

    def __init__(self, plans: dict[str, tuple[Criterion, SequentialRate]]) -> None:
        self.plans = plans
        self.decided: dict[str, tuple[int, int]] = {}  # text -> (events, iterations)

    def __call__(self, result: LoadResult, index: int) -> str | None:
        """Decide after iteration ``index`` (``result`` counts every iteration so far, failed ones
        as errors): the reason to stop now (a criterion decided FAIL, or every one decided), or None
        to go on."""
        failed: list[str] = []
        for text, (criterion, plan) in self.plans.items():
            if text in self.decided:
                continue
            events = _events(criterion, index, result.error_count)
            decision = plan.decide(events, index)
            if decision in ("pass", "fail"):
                self.decided[text] = (events, index)
                if decision == "fail":
                    failed.append(text)
        if failed:
            return f"{' and '.join(failed)} decided FAIL after {index} iterations"
        if len(self.decided) == len(self.plans):
            return f"every rate criterion decided after {index} iterations"
        return None

    def record(self, result: LoadResult, runs: int, max_iterations: int) -> None:
        """Each criterion's sequential judgement into ``result.info["sequential"]``."""
        entries = []
        for text, (criterion, plan) in self.plans.items():
            events, trials = self.decided.get(
                text, (_events(criterion, runs, result.error_count), runs))
            judged = plan.judge(events, trials)
            if judged.status != "inconclusive":
                level = plan.nominal_alpha_pass if judged.status == "pass" else \
                    plan.nominal_alpha_fail
                reason = (f"sequential: after {trials} of at most {max_iterations} iterations, "
                          f"a {1 - level:.2%} bound per look keeps {plan.confidence:.0%} overall")
            elif runs < max_iterations:
                reason = (f"inconclusive: not decided when the iterations stopped after {runs} "
                          f"of at most {max_iterations}")
            elif judged.more_samples is None:
                reason = (f"inconclusive at max_iterations={runs}: on the limit, more "
                          "iterations would not decide")
            else:
                reason = (f"inconclusive at max_iterations={runs}: at least about "
                          f"{judged.more_samples:,} more would decide if the rate holds "
                          f"(max_iterations={runs + judged.more_samples:,})")
            entries.append({
                "criterion": text,
                "status": judged.status,
                "iterations": trials,
                "events": events,
                "estimate": judged.estimate,
                "bound": judged.bound,
                "confidence": judged.confidence,
                "nominal_confidence_pass": 1.0 - plan.nominal_alpha_pass,
                "nominal_confidence_fail": 1.0 - plan.nominal_alpha_fail,
                "more_iterations": judged.more_samples,
                "reason": reason,
            })
        result.info["sequential"] = entries


def sequential_verdicts(result: LoadResult, verdicts: list[Verdict]) -> list[Verdict]:
    """The marker's verdicts with each rate criterion judged by the sequential rule of an
    ``iterations="auto"`` run (what ``result.info["sequential"]`` holds), not by a fixed-sample
    bound: a bound at the stated confidence, looked at after every iteration, would pass or
    fail wrongly more often than it says."""
    import dataclasses

    judged = {entry["criterion"]: entry for entry in result.info.get("sequential", [])}
    out = []
    for verdict in verdicts:
        entry = judged.get(verdict.criterion)
        if entry is None or result.saturated:
            out.append(verdict)
            continue
        out.append(dataclasses.replace(
            verdict,
            measured=entry["estimate"],
            samples=entry["iterations"],
            passed=entry["status"] == "pass",
            status=entry["status"],
            bound=entry["bound"],
            confidence=entry["confidence"],
            reason=entry["reason"],
        ))
    return out


def run_iterations(
    item: pytest.Function,
    function: Callable[..., Any],
    n: int | Literal["auto"],
    criteria: Sequence[str] = (),
    confidence: float = 0.0,
    *,
    max_iterations: int | None = None,
    pool: str | None = None,
    concurrency: int = 1,
) -> None:
    """Call ``function`` with the test's fixture values ``n`` times and record one LoadResult
    ``iterations`` (metric ``iteration``), failures counted by kind and the first 50 listed.

    Once a failure means the ``criteria``'s success rate can no longer PASS over ``n``
    iterations, the rest are not run (the verdict on the iterations run is FAIL or
    INCONCLUSIVE, never PASS): a broken flow costs a few iterations, not all of them.

    ``n="auto"``: run until the sequential rule of every rate criterion decides (or one decides
    FAIL), at most ``max_iterations``; ``result.info["sequential"]`` holds each judgement, which
    :func:`sequential_verdicts` puts into the verdicts.

    With ``pool="matrix"`` (a fixed ``n`` only) ``n`` is the size of the whole pool: each of its
    C cells runs ceil(n / C) iterations and the rate is judged over all of them together
    (:mod:`pytest_roo.plugin.pooling`); the result carries its pool, and a cell stops early
    only once its own failures mean the pooled rate can no longer PASS.

    ``concurrency=K`` (a fixed ``n``, a browser matrix test) runs K iterations at a time, each
    in a greenlet of its own on the cell's browser (:mod:`pytest_roo.browser.interleave`):
    the same iterations, each judged alone, fewer seconds. Once one stops the rest, the
    iterations already under way still end and count.
    """
    from pytest_roo.results.metrics import LoadResult

    sequential: SequentialStop | None = None
    if n == "auto":
        if max_iterations is None:
            raise ValueError('iterations="auto" needs max_iterations')
        sequential = SequentialStop(sequential_plans(criteria, confidence, max_iterations))
        count = max_iterations
    else:
        count = n
    kwargs = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
    result = LoadResult(name="iterations", info={"kind": "iterations", "failures": []})
    total = count
    if pool == "matrix" and sequential is None:
        from pytest_roo.plugin.pooling import is_rate, pool_key, pool_size

        cells = pool_size(item)
        count = -(-total // cells)  # the pool's n iterations shared by its cells, rounded up
        total = count * cells
        result.info["pool"] = {"key": pool_key(item), "cells": cells,
                               "criteria": [c for c in criteria if is_rate(c)]}
    metric = result.metric("iteration")
    recording = get_recording(item)
    lanes = check_concurrency(item, concurrency, sequential is not None)

    def run_one(index: int) -> str | None:
        """Run iteration ``index`` and record it; the reason to stop after it, or None."""
        t0 = time.perf_counter()
        try:
            function(**kwargs)
        except (pytest.skip.Exception, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # an iteration's failure is data, not the end
            if type(exc).__name__ == "Failed" and "Timeout" in str(exc):
                raise  # pytest-timeout ends the test, not one iteration
            if type(exc).__name__ == "GreenletExit":
                raise  # an interleaved iteration abandoned with its test
            result.add_error("assertion" if isinstance(exc, AssertionError) else "exception")
            first_line = (str(exc).strip().splitlines() or [""])[0]
            text = f"{type(exc).__name__}: {first_line}".rstrip(": ")
            failures = result.info["failures"]
            if len(failures) < 50:
                failures.append({"iteration": index, "error": text[:500]})
            item.config.hook.pytest_roo_iteration_failed(
                item=item, iteration=index, excinfo=pytest.ExceptionInfo.from_exception(exc)
            )
        finally:
            result.operations += 1
            metric.record(time.perf_counter() - t0)
        if sequential is not None:
            why = sequential(result, index)
            if why:
                if index < count:
                    result.info["stopped"] = f"stopped early: {why} (of at most {count})"
                return why
        elif result.error_count and result.operations < count:
            why = cannot_pass(criteria, result.error_count, total, confidence)
            if why:
                if total != count:
                    why += f" pooled over the matrix's {total // count} cells"
                result.info["stopped"] = f"{why} (after iteration {index} of {count})"
                return why
        return None

    started = time.perf_counter()
    try:
        if lanes is None:
            for index in range(1, count + 1):
                if run_one(index):
                    break
        else:
            run_lanes(lanes, concurrency, count, run_one)
    finally:
        result.duration = time.perf_counter() - started
        result.info["iterations_requested"] = count if sequential is None else n
        result.info["iterations_run"] = result.operations
        if lanes is not None:
            result.info["concurrency"] = concurrency
        if sequential is not None:
            result.info["max_iterations"] = count
            sequential.record(result, result.operations, count)
        recording.add_result(result)


#: Fixtures an interleaved iteration must not use: one context or page for every iteration.
SHARED_BROWSER_FIXTURES = ("roo_page", "roo_context")


def validate_concurrency(concurrency: object, iterations: object,
                         fixturenames: Sequence[str]) -> int:
    """``@pytest.mark.slo(concurrency=K)`` checked: K; ValueError naming the value and what is
    accepted."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"@pytest.mark.slo(concurrency={concurrency!r}): expected a whole "
                         "number >= 1 (iterations run at a time)")
    if concurrency == 1:
        return 1
    if iterations is None or iterations == "auto":
        raise ValueError(
            f"@pytest.mark.slo(concurrency={concurrency}) needs a fixed iterations=N (got "
            f"iterations={iterations!r}): \"auto\" decides after every iteration in order")
    if "roo_new_context" not in fixturenames:
        raise ValueError(
            f"@pytest.mark.slo(concurrency={concurrency}) interleaves the iterations on the "
            "cell's browser: it needs a browser matrix test that makes a context per iteration "
            "with roo_new_context")
    shared = [name for name in SHARED_BROWSER_FIXTURES if name in fixturenames]
    if shared:
        raise ValueError(
            f"@pytest.mark.slo(concurrency={concurrency}) runs iterations at once, and "
            f"{shared[0]} is one for all of them: make a context per iteration with "
            "roo_new_context instead")
    return concurrency


def check_concurrency(item: pytest.Function, concurrency: int, sequential: bool) -> Any:
    """The browser the iterations are interleaved on (``concurrency`` > 1), or None to run them
    one after the other; ValueError naming what is wrong."""
    validate_concurrency(concurrency, "auto" if sequential else 1, item.fixturenames)
    if concurrency == 1:
        return None
    return item.funcargs["roo_browser"]


def run_lanes(browser: Any, concurrency: int, count: int,
              run_one: Callable[[int], str | None]) -> None:
    """Iterations 1..``count``, ``concurrency`` at a time on ``browser``'s Playwright: each lane
    takes the next iteration when its own ended, until all ran or one gave a reason to stop."""
    from pytest_roo.browser.interleave import run_interleaved

    state = {"next": 1, "stop": False}

    def lane() -> None:
        while not state["stop"] and state["next"] <= count:
            index = state["next"]
            state["next"] += 1
            try:
                if run_one(index):
                    state["stop"] = True
            except BaseException:
                state["stop"] = True  # the test ends: the other lanes take no new iteration
                raise

    run_interleaved(browser, [lane] * min(concurrency, count))
