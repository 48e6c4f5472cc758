"""Sizes of the backup suite per profile (``--roo-profile``); durations are seconds.

``clients`` users each write a deployment (PostgreSQL) and a log line (Redis) per iteration,
then wait up to ``think`` seconds. ``before`` seconds after the first acknowledged write the
backup is taken (an RDB snapshot of Redis, then ``pg_dump`` of the database); the load goes on
``gap`` seconds more, then the data is destroyed and restored. ``gap`` is the same in every
profile: the data-loss window (``rpo.max < 4s``) of a healthy system is about the backup's
duration plus ``gap``. ``before`` is above that limit, so a system whose backup lags its
acknowledgements by more than it (a write-behind queue) can show it: the window cannot reach
further back than the first write.
``rto_timeout`` is how long the recovery probe waits (above the ``rto.max`` limit).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["BACKUP", "BackupSizes"]


@dataclasses.dataclass(frozen=True)
class BackupSizes:
    """Every size the backup suite reads."""

    clients: int  # users, each writing a deployment and a log line per iteration
    think: float  # the most a user waits between two iterations (uniformly random)
    before: float  # load before the backup starts
    gap: float  # load between the end of the backup and the disaster
    rto_timeout: float  # how long the recovery probe waits after the disaster


BACKUP = SuiteProfiles(
    "backup",
    smoke=BackupSizes(clients=10, think=0.5, before=5.0, gap=0.5, rto_timeout=9.0),
    standard=BackupSizes(clients=20, think=0.5, before=5.0, gap=0.5, rto_timeout=9.0),
    full=BackupSizes(clients=60, think=0.5, before=20.0, gap=0.5, rto_timeout=9.0),
)
