"""Sizes of the Socket.IO suite per profile (``--roo-profile``); durations are seconds.

Log subscribers and the rate lines are injected at; isolated users and their lines per second
together. The reference system's Socket.IO server (python-socketio) shares the 2-core box with
the generator, PostgreSQL and Redis (see suites/__init__.py).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["SOCKETIO", "SocketioSizes"]


@dataclasses.dataclass(frozen=True)
class SocketioSizes:
    """Every size the Socket.IO suite reads."""

    subscribers: int
    log_rate: float  # lines injected per second into the subscribers' deployment
    duration: float  # seconds of injections, log delivery
    isolation_users: int
    isolation_rate: float  # lines injected per second by the isolated users together
    isolation_duration: float


SOCKETIO = SuiteProfiles(
    "socketio",
    # smoke: 50 lines to 20 subscribers (1,000 deliveries: enough for a p99 to PASS); 600
    # lines over the isolated users (enough to see one misrouted in 200)
    smoke=SocketioSizes(subscribers=20, log_rate=10, duration=5, isolation_users=30,
                        isolation_rate=150, isolation_duration=4),
    standard=SocketioSizes(subscribers=50, log_rate=20, duration=5, isolation_users=30,
                           isolation_rate=150, isolation_duration=4),
    full=SocketioSizes(subscribers=100, log_rate=20, duration=30, isolation_users=50,
                       isolation_rate=200, isolation_duration=30),
)
