"""The trend verdict on real processes: one that leaks 8 MiB a second, one that does not.

Each is sampled every 100 ms for 5 s; the first second is warm-up; the allowed growth is 4 MiB
over the judged 4 s. The leak grows about 32 MiB: FAIL. The flat one allocates and frees 8 MiB a
second: its floor does not move, so it PASSes, or is INCONCLUSIVE when the machine is so busy
that too few samples land in the windows; it never FAILs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_roo.monitor import ResourceMonitor, judge_trend

if TYPE_CHECKING:
    from tests.integration.monitor.conftest import StartChild

pytestmark = pytest.mark.integration

MiB = 2**20


def sample(pid: int) -> tuple[list[float], list[float], dict[str, object]]:
    with ResourceMonitor([pid], interval=0.1, duration=5.0) as monitor:
        assert monitor.wait(30), "the monitor did not stop by its own duration"
    timeline = monitor.timeline
    times, rss = timeline.get("rss").finite()
    return times, rss, timeline.info


def test_leaking_process_fails_the_trend(memory_child: StartChild) -> None:
    child = memory_child("leak", 8)
    times, rss, info = sample(child.pid)
    assert len(rss) >= 20, info
    verdict = judge_trend(times, rss, max_growth=4 * MiB, warmup=1.0, windows=8)
    assert verdict.status == "fail", verdict.reason
    # about 8 MiB/s; a busy machine slows the child's loop, never speeds it up
    assert 2 * MiB < verdict.details["slope_per_s"] < 10 * MiB, verdict.reason


def test_flat_process_does_not_fail(memory_child: StartChild) -> None:
    child = memory_child("flat", 8)
    times, rss, info = sample(child.pid)
    assert len(rss) >= 20, info
    verdict = judge_trend(times, rss, max_growth=4 * MiB, warmup=1.0, windows=8)
    assert verdict.status in ("pass", "inconclusive"), verdict.reason
