"""Resources suite: the app stays under 1 GB of memory and 80 % of a core under the standard load.

The load is WebSocket echo traffic (``clients`` connections, ``rate`` echoes a second on an open
schedule) together with HTTP API reads; the app's process tree is sampled every ``interval``
(RSS of the tree; CPU in % of one core). The criteria read the samples between the marks
``load_start`` and ``load_end`` (docs/monitor.md):

- ``memory.max < 1GB``: no sample reached 1 GiB;
- ``cpu.p95 < 80%``: the upper confidence bound of the CPU's p95 is under 80 % of one core
  (at least 59 samples are needed for that bound at 95 %).

Sizes: ``RESOURCES`` below, per ``--roo-profile`` (a profile of your own: ``RESOURCES.register``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pytest_roo.profiles import SelectedProfile, SuiteProfiles
from pytest_roo.target import Target


@dataclasses.dataclass(frozen=True)
class ResourceSizes:
    """The resources suite's sizes (durations in seconds)."""

    clients: int
    rate: float
    duration: float
    interval: float


RESOURCES = SuiteProfiles(
    "resources",
    smoke=ResourceSizes(clients=50, rate=200, duration=16, interval=0.25),
    standard=ResourceSizes(clients=100, rate=300, duration=20, interval=0.25),
    full=ResourceSizes(clients=200, rate=400, duration=120, interval=0.5),
)



@pytest.mark.slo("memory.max < 1GB", "cpu.p95 < 80%")
def test_memory_and_cpu_under_standard_load(ws_swarm: Any, resource_monitor: Any,
                                            target: Target, roo_sizes: SelectedProfile) -> None:
    """The app's memory stays under 1 GB and its CPU p95 under 80 % of one core."""
    from pytest_roo.load.ws import WsSwarm

    if not target.pids:
        pytest.skip("the resources suite samples the app's processes: it needs the embedded "
                    "target (an external --roo-target has no local pids)")
    size = roo_sizes(RESOURCES)
    url = target.ws_url("/ws/echo")
    WsSwarm().echo(url, clients=20, rate="100/s", duration=1.0)  # unrecorded warm-up
    monitor = resource_monitor(target.pids, interval=size.interval, uss=False,
                               per_process=False, duration=size.duration + 60)
    monitor.mark("load_start")
    result = ws_swarm.echo(url, clients=size.clients, rate=f"{size.rate}/s",
                           duration=size.duration, message_size=128)
    monitor.mark("load_end")
    monitor.stop()
    monitor.attach(result)
