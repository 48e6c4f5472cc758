"""Sizes of the WebSocket suite per profile (``--roo-profile``); durations are seconds.

Concurrent WebSocket clients (criterion: 50+, default 200). Rates are open-model arrival rates
the 2-core reference box serves (see suites/__init__.py).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["WS", "WsSizes"]


@dataclasses.dataclass(frozen=True)
class WsSizes:
    """Every size the WebSocket suite reads."""

    clients: int  # concurrent WebSocket clients (criterion: 50+, default 200)
    echo_rate: float
    broadcast_rate: float
    churn_rate: float
    churn_clients: int
    duration: float
    integrity_rate: float  # echoes whose payload is compared, per second
    warmup: float  # a short unrecorded run before each measured one (connections, pools, caches)


#: The criterion's own figure is a floor: no profile has fewer than 50 clients.
WS = SuiteProfiles(
    "ws",
    floors={"clients": 50},
    smoke=WsSizes(clients=50, echo_rate=250, broadcast_rate=10, churn_rate=100,
                  churn_clients=50, duration=3, integrity_rate=250, warmup=1),
    # 7 s: 5,600 echoes, 14,000 deliveries, 2,800 compared echoes, 560 churn sessions
    standard=WsSizes(clients=200, echo_rate=800, broadcast_rate=10, churn_rate=80,
                     churn_clients=100, duration=7, integrity_rate=400, warmup=2),
    full=WsSizes(clients=500, echo_rate=1000, broadcast_rate=10, churn_rate=100,
                 churn_clients=150, duration=30, integrity_rate=500, warmup=3),
)
