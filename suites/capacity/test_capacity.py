"""Capacity suite: the system handles 10x the standard load, and the knee is on the curve.

The API read traffic of the standard load (1x, suites/capacity/sizes.py) is stepped up, 1x ->
10x, each step its own open-model run (its own percentiles, its own verdict on the generator).
Each step is judged like a result of its own (the criteria below, on their confidence bounds)
and on whether the answers still followed the offered rate (at least 90 % of it within the
step); the first step that breaks is the knee. A step where the load generator itself
saturated (its CPU, or its event loop late) is flagged as measuring the client, not the app.

- ``p95 < 100ms``, ``p99 < 250ms``, ``error_rate < 1%``: judged on the 10x step (the recorded
  result; its report entry carries the whole curve in ``info["capacity"]``, drawn in the HTML
  report as offered rate against achieved throughput and p50/p95/p99 per step);
- the 10x step kept up: its answers followed the offered rate and the generator did not
  saturate (asserted with the curve's summary).

Sizes: ``CAPACITY`` in suites/capacity/sizes.py, per ``--roo-profile``.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile
from pytest_roo.target import Target
from suites import client
from suites.capacity.sizes import CAPACITY, CapacitySizes

CRITERIA = ("p95 < 100ms", "p99 < 250ms", "error_rate < 1%")
#: a step whose successful answers are fewer than this share of the offered rate is broken
MIN_FOLLOW = 0.9
DEPLOYMENT = "capacity-web"


@contextlib.contextmanager
def _generator_gc_paused() -> Iterator[None]:
    """The load generator's own garbage collector off while a step runs (collected between the
    steps): a full collection of this process stalled its event loop for 117-124 ms here, and
    the arrivals it delayed counted as the app's latency. What pytest holds is frozen first, so
    a collection between steps scans only what the steps made."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()


@contextlib.contextmanager
def _step() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.collect()  # between steps, not measured


def _user(target: Target) -> client.User:
    async def make() -> client.User:
        async with client.session() as http:
            (user,) = await client.new_users(http, target.base_url, 1, prefix="capacity")
            await client.new_deployment(http, target.base_url, user, DEPLOYMENT)
            return user

    return client.run(make)


@pytest.mark.slo(*CRITERIA)
def test_handles_10x_the_standard_load(target: Target, roo_sizes: SelectedProfile,
                                       roo_record: Any, request: pytest.FixtureRequest) -> None:
    """``GET /api/deployments`` at 1x, 2x, ... 10x the standard rate: at 10x p95 < 100 ms,
    p99 < 250 ms, fewer than 1 % errors, and the answers follow the offered rate."""
    from pytest_roo.fixtures.load import engine_kwargs
    from pytest_roo.load.http import HttpLoad
    from pytest_roo.plugin.options import get_settings
    from pytest_roo.slo.capacity import judge_curve

    size: CapacitySizes = roo_sizes(CAPACITY)
    settings = get_settings(request.config)
    user = _user(target)
    url = target.url("/api/deployments")
    driver = HttpLoad(**engine_kwargs(request))
    driver.get(url, headers=user.auth, clients=size.clients, rate=f"{size.rate}/s",
               duration=size.warmup, expect=200)  # unrecorded: connections, the app's pool

    with _generator_gc_paused():
        steps = _run_steps(driver, url, user, size)
    curve = judge_curve(steps, CRITERIA, unit_rate=size.rate, clients=size.clients,
                        min_follow=MIN_FOLLOW, confidence=settings.confidence,
                        max_generator_cpu=settings.max_generator_cpu)
    top = steps[-1]
    assert top.result is not None
    top.result.info["capacity"] = curve.to_dict()
    roo_record(top.result)  # the marker's criteria are judged on the 10x step
    assert top.status not in ("broken", "generator"), (
        f"at {top.multiplier:g}x: {'; '.join(top.reasons)}\ncapacity: {curve.summary()}")


def _run_steps(driver: Any, url: str, user: client.User, size: CapacitySizes) -> list[Any]:
    """One open-model run per step; each step's figures (pytest_roo.slo.capacity)."""
    from pytest_roo.slo.capacity import measure_step

    steps = []
    for multiplier in size.multipliers:
        answered: list[float] = []

        def mine(answer: Any, answered: list[float] = answered) -> bool:
            """The user's own deployment list (anything else is a ``mismatch``); the time of
            each right answer counts towards the step's achieved throughput."""
            names = [d.get("name") for d in answer.json().get("deployments", [])]
            if names != [DEPLOYMENT]:
                return False
            answered.append(time.time())
            return True

        rate = size.rate * multiplier
        with _step():
            result = driver.get(url, headers=user.auth, clients=size.clients,
                                rate=f"{rate}/s", duration=size.step, expect=[200, mine])
        result.name = f"capacity.{multiplier:g}x"
        steps.append(measure_step(result, multiplier, rate, answered))
    return steps
