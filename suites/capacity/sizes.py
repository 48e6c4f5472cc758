"""Sizes of the capacity suite per profile (``--roo-profile``); durations are seconds.

1x is the API read traffic of the standard load: ``rate`` requests a second of ``GET
/api/deployments`` (a token check and one PostgreSQL read, the answer checked). The steps run
at ``rate x multiplier`` up to 10x. On this 2-core box (generator, app, PostgreSQL and Redis on
the same cores) 1x is 25/s in smoke and standard, so 10x is 250/s: the API suite's standard
rate, which the generator keeps with about 13 % of a core (measured at 250/s: p95 3.2 ms; at
800/s the app still answered with p95 46 ms and the generator used 29 % of a core, so the
healthy app's knee lies beyond 10x and a step up to 10x measures the app, not the generator).
The full profile's 1x is 40/s (10x = 400/s), with every step from 1x to 10x and longer steps.

The open model's pool is large (400-500 connections; the healthy app needs a handful): an app
that cannot keep up then shows as latency, its own queue, rather than as arrivals waiting for a
free connection in the generator (a missed schedule, which fails every criterion alike).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["CAPACITY", "CapacitySizes"]


@dataclasses.dataclass(frozen=True)
class CapacitySizes:
    """Every size the capacity suite reads."""

    rate: float  # 1x: requests per second
    multipliers: tuple[float, ...]  # the steps, from 1x up to (at least) 10x
    step: float  # seconds per step (each step is its own run with its own percentiles)
    clients: int  # connections of the open model's pool, per step
    warmup: float  # an unrecorded run at 1x first (connections, the app's pool)

    def __post_init__(self) -> None:
        steps = self.multipliers
        if not steps or steps[0] != 1 or max(steps) < 10 or list(steps) != sorted(set(steps)):
            raise ValueError(f"capacity multipliers {steps!r}: expected rising steps from 1 "
                             "up to at least 10, e.g. (1, 2, 5, 10)")


CAPACITY = SuiteProfiles(
    "capacity",
    floors={"step": 2},
    # 5 s steps: at 1x (125 arrivals) a missed schedule takes 7 late starts, a stall of the
    # generator's machine of about a quarter of a second; in 3 s steps 5 (170 ms) sufficed
    smoke=CapacitySizes(rate=25, multipliers=(1, 2, 5, 10), step=5, clients=400, warmup=1),
    standard=CapacitySizes(rate=25, multipliers=(1, 2, 4, 6, 8, 10), step=3, clients=500,
                           warmup=2),
    full=CapacitySizes(rate=40, multipliers=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), step=15,
                       clients=500, warmup=5),
)
