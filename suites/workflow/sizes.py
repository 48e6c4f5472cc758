"""Sizes of the workflow suite per profile (``--roo-profile``); durations are seconds.

Users running the whole workflow: a pool of ``users``, new journeys arriving at ``rate`` per
second (see suites/__init__.py for how the rates were chosen).
"""

from __future__ import annotations

import dataclasses

from pytest_roo.profiles import SuiteProfiles

__all__ = ["WORKFLOW", "WorkflowSizes"]


@dataclasses.dataclass(frozen=True)
class WorkflowSizes:
    """Every size the workflow suite reads."""

    users: int  # journeys running at once, at most
    rate: float  # new journeys per second
    duration: float


WORKFLOW = SuiteProfiles(
    "workflow",
    smoke=WorkflowSizes(users=10, rate=3, duration=4),
    # ">= 99.9%" needs 2,995 clean journeys to PASS at 95 % confidence: 40/s for 75 s (a
    # journey costs the reference system about 14 ms of CPU, fixtures/refapp/auth.py, and
    # lasts about 1.5 s: its first log line comes within the emitter's 1 s interval, so
    # about 60 run at once). At 50/s the generator, which runs every journey's HTTP calls
    # and WebSocket, fell behind its schedule once in two runs (6.2 % of the journeys started
    # late, event-loop lag up to 41 ms).
    standard=WorkflowSizes(users=90, rate=40, duration=75),
    full=WorkflowSizes(users=60, rate=25, duration=240),
)
