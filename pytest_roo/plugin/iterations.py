"""``@pytest.mark.slo(..., iterations=N)``: run the test body N times, each failure is data."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pytest_roo.plugin.recording import get_recording

__all__ = ["run_iterations"]


def cannot_pass(criteria: Sequence[str], failures: int, n: int, confidence: float) -> str | None:
    """Why ``n`` iterations with ``failures`` failed ones can no longer PASS a success-rate
    criterion among ``criteria`` (even if every remaining iteration passes), or None."""
    from pytest_roo import slo
    from pytest_roo.slo import confidence as bounds

    for text in criteria:
        criterion = slo.parse(text)
        if criterion.stat not in ("success_rate", "error_rate"):
            continue
        good = n - failures
        events = good if criterion.stat == "success_rate" else failures
        judged = bounds.judge_rate(criterion.op, criterion.limit, events=events, trials=n,
                                   confidence=confidence)
        if judged.status != "pass":
            return (f"stopped early: with {failures} failed, {n} iterations can no longer show "
                    f"{criterion.text}")
    return None


def run_iterations(
    item: pytest.Function,
    function: Callable[..., Any],
    n: int,
    criteria: Sequence[str] = (),
    confidence: float = 0.0,
    pool: str | None = None,
) -> None:
    """Call ``function`` with the test's fixture values ``n`` times and record one LoadResult
    ``iterations`` (metric ``iteration``), failures counted by kind and the first 50 listed.

    Once a failure means the ``criteria``'s success rate can no longer PASS over ``n``
    iterations, the rest are not run (the verdict on the iterations run is FAIL or
    INCONCLUSIVE, never PASS): a broken flow costs a few iterations, not all of them.

    With ``pool="matrix"`` ``n`` is the size of the whole pool: each of its C cells runs
    ceil(n / C) iterations and the rate is judged over all of them together
    (:mod:`pytest_roo.plugin.pooling`); the result carries its pool, and a cell stops early
    only once its own failures mean the pooled rate can no longer PASS.
    """
    from pytest_roo.results.metrics import LoadResult

    kwargs = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
    result = LoadResult(name="iterations", info={"kind": "iterations", "failures": []})
    total = n
    if pool == "matrix":
        from pytest_roo.plugin.pooling import is_rate, pool_key, pool_size

        cells = pool_size(item)
        n = -(-total // cells)  # the pool's n iterations shared by its cells, rounded up
        total = n * cells
        result.info["pool"] = {"key": pool_key(item), "cells": cells,
                               "criteria": [c for c in criteria if is_rate(c)]}
    metric = result.metric("iteration")
    recording = get_recording(item)
    started = time.perf_counter()
    try:
        for index in range(1, n + 1):
            t0 = time.perf_counter()
            try:
                function(**kwargs)
            except (pytest.skip.Exception, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # an iteration's failure is data, not the end
                if type(exc).__name__ == "Failed" and "Timeout" in str(exc):
                    raise  # pytest-timeout ends the test, not one iteration
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
            if result.error_count and index < n:
                why = cannot_pass(criteria, result.error_count, total, confidence)
                if why:
                    if total != n:
                        why += f" pooled over the matrix's {total // n} cells"
                    result.info["stopped"] = f"{why} (after iteration {index} of {n})"
                    break
    finally:
        result.duration = time.perf_counter() - started
        result.info["iterations_requested"] = n
        recording.add_result(result)
