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
    # Deliveries of one line arrive together, so a p99 rests on the slowest lines: at least 150
    # lines per run, or one slow line (a stall of the shared machine) decides it. smoke: 150
    # lines to 10 subscribers (1,500 deliveries); 600 lines over the isolated users (enough to
    # see one misrouted in 200)
    smoke=SocketioSizes(subscribers=10, log_rate=30, duration=5, isolation_users=30,
                        isolation_rate=150, isolation_duration=4),
    standard=SocketioSizes(subscribers=30, log_rate=40, duration=5, isolation_users=30,
                           isolation_rate=150, isolation_duration=4),
    full=SocketioSizes(subscribers=100, log_rate=20, duration=30, isolation_users=50,
                       isolation_rate=200, isolation_duration=30),
)
