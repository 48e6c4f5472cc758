"""Sizes of the chaos suite per profile (``--roo-profile``); durations are seconds.

Each test runs HTTP load on the reference system from ``clients`` users, each waiting ``think``
seconds between its iterations (so new operations keep starting while others wait for a
service that is down; a user stuck in a request starts no other) while one of its services
fails: ``before`` seconds of load, the fault (``restarts``
restarts ``gap`` seconds apart, the service stopped ``down`` seconds each time, or the network to PostgreSQL down for ``drop`` seconds), then
``after`` seconds of load. A restart alone takes a fraction of a second: the service stays stopped a while
and the restart is repeated, so that enough operations start while it is down for the
``during`` criterion to be judged with confidence (on a busy machine the generator can miss a
tenth of a second). A user that waits out a stalled request starts no other, so the operations that
start while a service is down are about the users idle at that moment: many users with a long
think time give the ``during`` phase its samples. ``settle`` is the N of ``after(Ns).error_rate < 1%``.
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["CHAOS", "ChaosSizes"]


@dataclasses.dataclass(frozen=True)
class ChaosSizes:
    """Every size the chaos suite reads."""

    clients: int  # users, each writing a deployment and a log line per iteration
    think: float  # seconds a user waits between two iterations, on average (half of it random)
    before: float  # load before the first fault
    after: float  # load after the last fault (the settle time included)
    restarts: int  # restarts of the service in one test
    down: float  # seconds the service stays stopped in each restart
    gap: float  # seconds between the end of a restart and the next one
    drop: float  # how long the network to PostgreSQL is down
    settle: float  # after(settle).error_rate < 1%
    recovery_timeout: float  # how long the recovery probe waits (above the 5 s criterion)


CHAOS = SuiteProfiles(
    "chaos",
    smoke=ChaosSizes(clients=60, think=0.5, before=1.5, after=5.5, restarts=2, down=1.0,
                     gap=1.0, drop=1.5, settle=1.0, recovery_timeout=6.0),
    standard=ChaosSizes(clients=60, think=0.5, before=1.5, after=6.0, restarts=2, down=1.0,
                        gap=1.0, drop=1.5, settle=1.5, recovery_timeout=6.0),
    full=ChaosSizes(clients=150, think=0.5, before=5.0, after=15.0, restarts=5, down=1.0,
                    gap=3.0, drop=3.0, settle=2.0, recovery_timeout=10.0),
)
