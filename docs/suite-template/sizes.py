"""How big each run of this suite is, per profile: ``pytest --roo-profile smoke|standard|full``.

``standard`` (the default) is what a normal run uses; ``smoke`` is a quick check that the suite
works; ``full`` is the figures of your test plan with headroom. A floor is a figure the
criterion itself names ("50+ WebSocket clients"): no profile may go below it, and a profile
that does is refused when this file is imported.

Add or change a profile without editing this file, e.g. in conftest.py::

    from sizes import PROFILES
    PROFILES.register("nightly", parent="full", duration=600)
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Every size this suite reads. Rates are per second, durations in seconds."""

    http_clients: int
    http_rate: float
    ws_clients: int  # the plan says "50+ WebSocket clients": a floor
    ws_rate: float
    duration: float


PROFILES = SuiteProfiles(
    "my-suite",
    floors={"ws_clients": 50},
    smoke=Sizes(http_clients=20, http_rate=200, ws_clients=50, ws_rate=250, duration=3),
    standard=Sizes(http_clients=20, http_rate=200, ws_clients=50, ws_rate=250, duration=5),
    full=Sizes(http_clients=100, http_rate=500, ws_clients=200, ws_rate=500, duration=60),
)
