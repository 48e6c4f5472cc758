"""Sizes of the device relay suite per profile (``--roo-profile``); durations are seconds.

Connected devices (criterion: 100), commands per second, reconnects. Rates are open-model
arrival rates the 2-core reference box serves (see suites/__init__.py).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["RELAY", "RelaySizes"]


@dataclasses.dataclass(frozen=True)
class RelaySizes:
    """Every size the relay suite reads."""

    devices: int  # connected devices (criterion: 100)
    rate: float  # commands per second
    duration: float
    reconnect_every: int  # a device reconnects every N-th iteration


#: The criterion's own figure is a floor: no profile has fewer than 100 devices.
RELAY = SuiteProfiles(
    "relay",
    floors={"devices": 100},
    smoke=RelaySizes(devices=100, rate=25, duration=4, reconnect_every=3),
    standard=RelaySizes(devices=100, rate=40, duration=12, reconnect_every=4),
    full=RelaySizes(devices=150, rate=50, duration=30, reconnect_every=4),
)
