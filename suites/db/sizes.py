"""Sizes of the database suite per profile (``--roo-profile``); durations are seconds.

Direct PostgreSQL connections (criterion: 100+) and the app's pool under 200 concurrent API
requests (criterion: 200). Rates are open-model arrival rates the 2-core reference box serves
with the generator, the app, PostgreSQL and Redis on the same cores (see suites/__init__.py).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["DB", "DbSizes"]


@dataclasses.dataclass(frozen=True)
class DbSizes:
    """Every size the database suite reads."""

    connections: int  # direct PostgreSQL connections (criterion: 100+)
    rate: float
    duration: float
    app_clients: int  # concurrent API requests on the app's pool (criterion: 200)
    app_bursts: int  # every client sends one request per burst (200 at once)
    app_burst_every: float


#: The criteria's own figures are floors: no profile goes below them.
DB = SuiteProfiles(
    "db",
    floors={"connections": 100, "app_clients": 200},
    smoke=DbSizes(connections=100, rate=300, duration=3, app_clients=200, app_bursts=4,
                  app_burst_every=0.75),
    # 2,800 direct queries, 1,400 pool requests (7 bursts of 200)
    standard=DbSizes(connections=100, rate=400, duration=7, app_clients=200, app_bursts=7,
                     app_burst_every=1.0),
    full=DbSizes(connections=200, rate=800, duration=30, app_clients=300, app_bursts=30,
                 app_burst_every=1.0),
)
