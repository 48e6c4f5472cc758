"""Sizes of the ready suites per profile (``--roo-profile smoke|standard|full``).

A profile changes how long a run lasts and how much headroom it adds; it never takes a size
below the figure the criterion itself names (100 database connections stay 100 in ``smoke``).
Rates are open-model arrival rates this 2-core reference box serves with the generator, the
app, PostgreSQL and Redis on the same cores: a criterion measures the system, not a
generator that ran out of CPU (a saturated generator fails its criteria, see docs/load.md).
The open model's worker pool costs the generator CPU in proportion to rate x clients, so the
runs with 100-200 clients keep their rates at a few hundred per second.
"""

from __future__ import annotations

import dataclasses

__all__ = ["PROFILES", "Sizes", "sizes_for"]


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Every size a ready suite reads. Durations are seconds."""

    # suites/db: direct PostgreSQL connections (criterion: 100+) and the app's pool under
    # 200 concurrent API requests (criterion: 200)
    db_connections: int
    db_rate: float
    db_duration: float
    db_app_clients: int
    db_app_bursts: int  # every client sends one request per burst (200 at once)
    db_app_burst_every: float
    # suites/ws: concurrent WebSocket clients (criterion: 50+, default 200)
    ws_clients: int
    ws_echo_rate: float
    ws_broadcast_rate: float
    ws_churn_rate: float
    ws_churn_clients: int
    ws_duration: float
    ws_integrity_rate: float  # echoes whose payload is compared, per second
    # suites/api: concurrent users (criterion: 100+)
    api_users: int
    api_rate: float
    api_duration: float
    api_bad_token_rate: float
    api_login_rate: float  # logins cost ~8 ms of app CPU each (PBKDF2)
    api_write_rate: float  # another user's writes (inject, start, stop, delete)
    cold_starts: int
    # suites/realtime: log subscribers, status watchers, isolated users
    rt_subscribers: int
    rt_log_rate: float
    rt_status_users: int
    rt_isolation_users: int
    rt_isolation_rate: float  # lines injected per second by the isolated users together
    rt_duration: float
    # suites/relay: connected devices (criterion: 100), commands per second, reconnects
    relay_devices: int
    relay_rate: float
    relay_duration: float
    relay_reconnect_every: int
    # suites/workflow: users running the whole workflow (a pool of workflow_users, new
    # journeys arriving at workflow_rate per second)
    workflow_users: int
    workflow_rate: float
    workflow_duration: float
    # a short unrecorded run before each measured one (connections, pools, caches)
    warmup: float


PROFILES: dict[str, Sizes] = {
    "smoke": Sizes(
        db_connections=100, db_rate=300, db_duration=3, db_app_clients=200, db_app_bursts=4,
        db_app_burst_every=0.75,
        ws_clients=50, ws_echo_rate=250, ws_broadcast_rate=10, ws_churn_rate=100,
        ws_churn_clients=50, ws_duration=3, ws_integrity_rate=250,
        api_users=100, api_rate=150, api_duration=5, api_bad_token_rate=150,
        api_login_rate=10, api_write_rate=150, cold_starts=2,
        rt_subscribers=20, rt_log_rate=10, rt_status_users=20, rt_isolation_users=20,
        rt_isolation_rate=150, rt_duration=6,
        relay_devices=100, relay_rate=25, relay_duration=4, relay_reconnect_every=3,
        workflow_users=10, workflow_rate=3, workflow_duration=4,
        warmup=1,
    ),
    "standard": Sizes(
        db_connections=100, db_rate=400, db_duration=10, db_app_clients=200, db_app_bursts=10,
        db_app_burst_every=1.0,
        ws_clients=200, ws_echo_rate=800, ws_broadcast_rate=10, ws_churn_rate=80,
        ws_churn_clients=100, ws_duration=10, ws_integrity_rate=400,
        api_users=100, api_rate=250, api_duration=12, api_bad_token_rate=250,
        api_login_rate=15, api_write_rate=200, cold_starts=3,
        rt_subscribers=50, rt_log_rate=20, rt_status_users=50, rt_isolation_users=20,
        rt_isolation_rate=150, rt_duration=10,
        relay_devices=100, relay_rate=40, relay_duration=12, relay_reconnect_every=4,
        # ">= 99.9%" needs 2,995 clean journeys to PASS at 95 % confidence: 25/s for 122 s
        workflow_users=40, workflow_rate=25, workflow_duration=122,
        warmup=2,
    ),
    "full": Sizes(
        db_connections=200, db_rate=800, db_duration=30, db_app_clients=300, db_app_bursts=30,
        db_app_burst_every=1.0,
        ws_clients=500, ws_echo_rate=1000, ws_broadcast_rate=10, ws_churn_rate=100,
        ws_churn_clients=150, ws_duration=30, ws_integrity_rate=500,
        api_users=200, api_rate=300, api_duration=30, api_bad_token_rate=300,
        api_login_rate=20, api_write_rate=300, cold_starts=5,
        rt_subscribers=100, rt_log_rate=20, rt_status_users=50, rt_isolation_users=50,
        rt_isolation_rate=200, rt_duration=30,
        relay_devices=150, relay_rate=50, relay_duration=30, relay_reconnect_every=4,
        workflow_users=60, workflow_rate=25, workflow_duration=240,
        warmup=3,
    ),
}

#: The criteria's own figures: no profile may go below them.
FLOORS = {"db_connections": 100, "db_app_clients": 200, "ws_clients": 50, "api_users": 100,
          "relay_devices": 100}


def sizes_for(profile: str) -> Sizes:
    """The sizes of ``profile``; raises ValueError naming the accepted profiles."""
    try:
        sizes = PROFILES[profile]
    except KeyError:
        raise ValueError(
            f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}"
        ) from None
    for name, floor in FLOORS.items():
        if getattr(sizes, name) < floor:  # a programming error in the table above
            raise ValueError(f"profile {profile}: {name}={getattr(sizes, name)} is below the "
                             f"criterion's own figure {floor}")
    return sizes
