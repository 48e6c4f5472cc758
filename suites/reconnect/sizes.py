"""Sizes of the reconnect suite per profile (``--roo-profile``); durations are seconds.

Subscribed WebSocket clients, messages per second published to their topic, how long, and the
reset bursts (suites/resets.py) that cut their connections meanwhile.
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["RECONNECT", "ReconnectSizes"]


@dataclasses.dataclass(frozen=True)
class ReconnectSizes:
    """Every size the reconnect suite reads."""

    clients: int
    rate: float  # messages per second published to the topic (each client gets each)
    duration: float  # seconds of publishing
    reset_share: float  # share of connections each reset burst draws
    reset_every: float  # seconds between reset bursts
    reset_window: float  # seconds a burst lasts


RECONNECT = SuiteProfiles(
    "reconnect",
    smoke=ReconnectSizes(clients=50, rate=10, duration=6, reset_share=0.2, reset_every=0.5,
                         reset_window=0.2),
    standard=ReconnectSizes(clients=200, rate=10, duration=10, reset_share=0.1,
                            reset_every=1.0, reset_window=0.2),
    full=ReconnectSizes(clients=300, rate=10, duration=30, reset_share=0.1, reset_every=1.0,
                        reset_window=0.2),
)
