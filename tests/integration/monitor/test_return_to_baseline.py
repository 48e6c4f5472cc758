"""Return to baseline on real processes: a burst that is given back, and a leak that is not.

Sampled every 50 ms for 4 s. The burst child holds 40 MiB from 1 s to 2 s and frees it: its
RSS after 3 s is back within 10 % of the first second's: PASS. The leaking child keeps 8 MiB
more every second: after 3 s it is 20 MiB or more above its first second: FAIL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_roo.monitor import ResourceMonitor, judge_return_to_baseline

if TYPE_CHECKING:
    from tests.integration.monitor.conftest import StartChild

pytestmark = pytest.mark.integration


def before_and_after(pid: int) -> tuple[list[float], list[float], float]:
    with ResourceMonitor([pid], interval=0.05, duration=4.0) as monitor:
        assert monitor.wait(30), "the monitor did not stop by its own duration"
    rss = monitor.timeline.get("rss")
    _, before = rss.between(end=0.9).finite()
    _, after = rss.between(start=3.0).finite()
    _, values = rss.finite()
    return before, after, max(values)


def test_memory_given_back_passes(memory_child: StartChild) -> None:
    child = memory_child("burst", 40)
    before, after, peak = before_and_after(child.pid)
    assert peak > min(before) + 30 * 2**20, "the burst was not seen"
    verdict = judge_return_to_baseline(before, after, 0.10)
    assert verdict.status == "pass", verdict.reason


def test_memory_kept_fails(memory_child: StartChild) -> None:
    child = memory_child("leak", 8)
    before, after, _ = before_and_after(child.pid)
    verdict = judge_return_to_baseline(before, after, 0.10)
    assert verdict.status == "fail", verdict.reason
