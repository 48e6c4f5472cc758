"""Sizes of the relay-under-network-conditions suite per profile (``--roo-profile``); seconds.

Devices behind the network, commands per second for all of them together, how long commands
are enqueued, and the reset bursts (suites/resets.py) on top of the network profile.
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["NETWORK", "NetworkSizes"]


@dataclasses.dataclass(frozen=True)
class NetworkSizes:
    """Every size the network suite reads."""

    devices: int
    rate: float  # commands per second, all devices together
    duration: float  # seconds of enqueuing; then the run waits for the last deliveries
    reset_share: float  # share of connections each reset burst draws
    reset_every: float  # seconds between reset bursts
    reset_window: float  # seconds a burst lasts


NETWORK = SuiteProfiles(
    "network",
    # 240 commands: at 150, a healthy 3g run on a busy machine (p95 1.29 s against 1.74 s) was
    # left INCONCLUSIVE, its 95 % bound resting on the few slowest commands
    smoke=NetworkSizes(devices=10, rate=30, duration=8, reset_share=0.3, reset_every=0.8,
                       reset_window=0.25),
    standard=NetworkSizes(devices=20, rate=30, duration=8, reset_share=0.3, reset_every=0.8,
                          reset_window=0.25),
    full=NetworkSizes(devices=50, rate=40, duration=30, reset_share=0.3, reset_every=0.8,
                      reset_window=0.25),
)
