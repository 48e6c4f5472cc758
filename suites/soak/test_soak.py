"""Soak suite: memory stays stable while WebSocket connections open and close for a long time.

WebSocket sessions (connect, one echo, close) arrive on an open schedule against ``/ws/echo``
while the app's process tree is sampled (RSS of the tree, every ``interval``). After an idle
baseline and an unrecorded warm-up run the load runs ``duration`` seconds; the timeline marks
``load_start`` (the end of the baseline: the warm-up counts as load), ``steady`` (the end of
the part the trend does not judge), ``load_end`` and ``settled`` are what the criteria read
(docs/monitor.md):

- ``memory.slope < 2MB/min``: the Theil-Sen slope of the per-window RSS floor; PASS only when
  the upper bound of its interval clears 2 MB a minute (no significant trend proves nothing);
- ``memory.growth < 5%``: the same fit projected over the judged span, against 5 % of the floor;
- ``memory.after_load < 10%``: the idle level after the load against the idle level before it
  (memory the load left behind: a cache that grew and never shrinks fails this one alone).

A leak of 60 KB per connection at ``rate`` connections a second grows ``rate`` x 3.5 MB a
minute: the standard profile's 20/s leak 70 MB a minute, 35 times the limit.
Sizes: ``SOAK`` below, per ``--roo-profile`` (a profile of your own: ``SOAK.register``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile, SuiteProfiles
from pytest_roo.target import Target


#: per profile: sessions per second, concurrent sessions, the measured load (s), the sampling
#: interval (s), the idle baseline and the idle sampling after the load (s)
@dataclasses.dataclass(frozen=True)
class SoakSizes:
    """The soak suite's sizes (durations in seconds)."""

    rate: float
    clients: int
    duration: float
    interval: float
    idle: float
    warmup: float


SOAK = SuiteProfiles(
    "soak",
    smoke=SoakSizes(rate=20, clients=20, duration=12, interval=0.25, idle=2, warmup=2),
    standard=SoakSizes(rate=20, clients=20, duration=24, interval=0.25, idle=3, warmup=3),
    full=SoakSizes(rate=20, clients=40, duration=600, interval=1.0, idle=10, warmup=5),
)



@pytest.mark.slo("memory.slope < 2MB/min", "memory.growth < 5%", "memory.after_load < 10%",
                 "error_rate < 1%")
@pytest.mark.timeout(1200)  # the full profile soaks for 600 s, past the 300 s default
def test_memory_stable_under_connection_churn(ws_swarm: Any, resource_monitor: Any,
                                              target: Target, roo_sizes: SelectedProfile) -> None:
    """Connections open and close for ``duration``: the app's RSS floor does not grow, and after
    the load it is back within 10 % of where it was before."""
    from pytest_roo.load.ws import WsSwarm

    if not target.pids:
        pytest.skip("the soak suite samples the app's processes: it needs the embedded target "
                    "(an external --roo-target has no local pids)")
    size = roo_sizes(SOAK)
    url = target.ws_url("/ws/echo")
    rate = f"{size.rate}/s"
    monitor = resource_monitor(target.pids, interval=size.interval, uss=False,
                               per_process=False, duration=size.duration + 60 + 3 * size.idle)
    # the baseline: the app idle before this suite's connections (the other suites' load may
    # have run before it; their memory is part of the baseline)
    time.sleep(size.idle)
    monitor.mark("load_start")
    # unrecorded: connections, buffers and the allocator reach their working size
    WsSwarm().churn(url, clients=size.clients, rate=rate, duration=size.warmup)
    # the first fifth of the load is not judged by the trend (still growing to its working set)
    monitor.timeline.marks["steady"] = monitor.now() + size.duration / 5
    result = ws_swarm.churn(url, clients=size.clients, rate=rate,
                            duration=size.duration)
    monitor.mark("load_end")
    time.sleep(1.0)
    monitor.mark("settled")
    time.sleep(size.idle)
    monitor.stop()
    monitor.attach(result)
