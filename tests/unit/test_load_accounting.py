"""Pure accounting of the load engine: open-model timing from the intended start, checks,
the schedule tolerance and the timeline's last second."""

from __future__ import annotations

import pytest

from pytest_roo.load.engine import RunOptions, _schedule_verdict
from pytest_roo.load.recorder import Recorder
from pytest_roo.load.session import Session
from pytest_roo.load.ticker import Timeline
from pytest_roo.results.metrics import LoadResult


def recorder() -> Recorder:
    return Recorder(LoadResult("unit"), "iteration")


def test_the_first_timing_of_an_iteration_includes_its_wait_for_a_user() -> None:
    rec = recorder()
    session = Session(rec, 0, timeout=1.0)
    session._begin_iteration(queued_ns=80_000_000)  # the arrival waited 80 ms
    with session.measure("first"):
        pass
    with session.measure("second"):
        pass
    session._begin_iteration(queued_ns=30_000_000)
    session.record("own", 0.002)
    session.record("own", 0.002)
    assert rec.batches["first"][0] >= 80_000
    assert rec.batches["second"][0] < 80_000
    assert list(rec.batches["own"]) == [32_000, 2_000]


def test_a_failed_check_counts_once_per_iteration() -> None:
    rec = recorder()
    session = Session(rec, 0, timeout=1.0)
    session._begin_iteration(0)
    assert session.check("status", True)
    assert not session.check("status", False)
    assert not session.check("body", False)
    session._begin_iteration(0)
    assert not session.check("body", False)
    assert rec.result.errors == {"mismatch": 2}
    assert rec.result.counters == {"check_failed:status": 1, "check_failed:body": 2}
    assert rec.result.info["error_examples"]["mismatch"] == "check 'status' failed"


@pytest.mark.parametrize(
    ("scheduled", "late", "dropped", "flagged"),
    [
        (1000, 50, 0, False),  # 5 %: within the default tolerance
        (1000, 51, 0, True),
        (1000, 26, 26, True),  # dropped arrivals were not applied either
        (100, 4, 0, False),  # a handful in a short run is noise
        (0, 0, 0, False),  # closed model: no schedule
    ],
)
def test_schedule_tolerance(scheduled: int, late: int, dropped: int, flagged: bool) -> None:
    rec = recorder()
    rec.starts = scheduled
    rec.result.counters["late"] = late
    rec.result.counters["dropped"] = dropped
    reason = _schedule_verdict(rec, RunOptions())
    assert (reason is not None) == flagged
    if reason:
        assert reason.startswith("schedule not kept:")
        assert f"of {scheduled:,} scheduled operations" in reason


def test_the_schedule_tolerance_is_a_fraction() -> None:
    with pytest.raises(ValueError, match="max_late_share"):
        RunOptions(max_late_share=5)


def test_the_timeline_ends_with_the_partial_last_second() -> None:
    rec = recorder()
    timeline = Timeline(rec, duration=5.0)
    for _ in range(4):  # ticks at 1, 2, 3, 4 s
        rec.ops += 100
        timeline.add(0.01)
    rec.ops += 60  # the last 0.99 s, replies in the grace period
    rec.result.errors["timeout"] += 2
    timeline.close(0.02, duration=4.99)
    points = rec.result.timeline
    assert [p.second for p in points] == [0, 1, 2, 3, 4]
    assert (points[-1].ops, points[-1].errors, points[-1].p95) == (60, 2, 0.02)
    late_tick = Timeline(rec, duration=2.0)
    rec.result.timeline.clear()
    rec.ops = 0
    for _ in range(3):  # a tick after the window (the grace period) joins the last second
        rec.ops += 10
        late_tick.add(None)
    late_tick.close(None, duration=2.0)
    assert [(p.second, p.ops) for p in rec.result.timeline] == [(0, 10), (1, 20)]
