"""Sizes of the API suite per profile (``--roo-profile``); durations are seconds.

Concurrent users (criterion: 100+). Rates are open-model arrival rates the 2-core reference
box serves (see suites/__init__.py).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["API", "ApiSizes"]


@dataclasses.dataclass(frozen=True)
class ApiSizes:
    """Every size the API suite reads."""

    users: int  # concurrent users (criterion: 100+)
    rate: float
    duration: float  # the concurrent-users run (p95, p99, error rate)
    census_duration: float  # each refusal run (errors == 0): bad tokens, logins, writes
    bad_token_rate: float
    login_rate: float  # logins cost ~3 ms of app CPU each (PBKDF2, fixtures/refapp/auth.py)
    write_rate: float  # another user's writes (inject, start, stop, delete)
    cold_starts: int
    warmup: float  # a short unrecorded run before each measured one (connections, pools, caches)


#: The criterion's own figure is a floor: no profile has fewer than 100 users.
API = SuiteProfiles(
    "api",
    floors={"users": 100},
    smoke=ApiSizes(users=100, rate=150, duration=5, census_duration=5, bad_token_rate=150,
                   login_rate=10, write_rate=150, cold_starts=2, warmup=1),
    # the refusal runs check every answer: 3,000 bad tokens, 184 wrong passwords and 2,400
    # foreign writes in 8 s each (a refusal costs the app less than the answer it guards)
    standard=ApiSizes(users=100, rate=250, duration=12, census_duration=8, bad_token_rate=375,
                      login_rate=23, write_rate=300, cold_starts=3, warmup=2),
    full=ApiSizes(users=200, rate=300, duration=30, census_duration=30, bad_token_rate=300,
                  login_rate=20, write_rate=300, cold_starts=5, warmup=3),
)
