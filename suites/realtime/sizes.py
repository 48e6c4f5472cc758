"""Sizes of the realtime suite per profile (``--roo-profile``); durations are seconds.

Log subscribers, status watchers and isolated users. Rates are open-model arrival rates the
2-core reference box serves (see suites/__init__.py).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["REALTIME", "RealtimeSizes"]


@dataclasses.dataclass(frozen=True)
class RealtimeSizes:
    """Every size the realtime suite reads."""

    subscribers: int
    log_rate: float
    status_users: int
    #: each user injects its lines one after another: at 150 lines a second 40 users give each
    #: injection 267 ms before that user's next is due (20 users' 133 ms were missed by 6 % of
    #: the arrivals once, when a busy machine held 5 % of the injections 90-260 ms)
    isolation_users: int
    isolation_rate: float  # lines injected per second by the isolated users together
    duration: float


REALTIME = SuiteProfiles(
    "realtime",
    smoke=RealtimeSizes(subscribers=20, log_rate=10, status_users=20, isolation_users=40,
                        isolation_rate=150, duration=6),
    # 7 s: 7,000 deliveries, about 360 status changes, 1,050 lines checked for isolation
    standard=RealtimeSizes(subscribers=50, log_rate=20, status_users=50, isolation_users=40,
                           isolation_rate=150, duration=7),
    full=RealtimeSizes(subscribers=100, log_rate=20, status_users=50, isolation_users=50,
                       isolation_rate=200, duration=30),
)
