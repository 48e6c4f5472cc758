"""The run's watchdog: expired waits fail as timeouts without a timer per await."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from pytest_roo.load.engine import Recorder
from pytest_roo.load.executor import EARLY_NS, Watchdog, sleep_until
from pytest_roo.results.metrics import LoadResult


def recorder() -> Recorder:
    return Recorder(LoadResult("unit"), "rtt")


def test_expired_slot_counts_a_timeout_and_cancels_its_task() -> None:
    async def main() -> tuple[Recorder, list[int], asyncio.Task[None], asyncio.Task[None]]:
        rec = recorder()
        waiting = [0, 0]

        async def stuck(i: int) -> None:
            waiting[i] = time.perf_counter_ns()
            await asyncio.sleep(3600)

        async def quick(i: int) -> None:
            waiting[i] = time.perf_counter_ns()
            await asyncio.sleep(0.01)
            waiting[i] = 0

        tasks = [asyncio.ensure_future(stuck(0)), asyncio.ensure_future(quick(1))]
        dog = Watchdog(rec, timeout=0.2)
        dog.watch_slots(waiting, tasks)
        started = time.perf_counter_ns()
        await dog.run_until_done(tasks, deadline_ns=started + 10**9)
        assert time.perf_counter_ns() - started < 0.6e9  # timeout + at most a few ticks
        return rec, waiting, tasks[0], tasks[1]

    rec, waiting, stuck_task, quick_task = asyncio.run(main())
    assert rec.result.errors == {"timeout": 1}
    assert waiting == [0, 0]
    assert stuck_task.cancelled()
    assert quick_task.done() and not quick_task.cancelled()


def test_expired_messages_count_as_timeouts_one_by_one_and_are_marked() -> None:
    """Only the messages older than the timeout expire; their ids are marked so that a late
    reply is recognised as such and never matched to another message."""
    rec = recorder()
    now = time.perf_counter_ns()
    queues = [deque([(now - 2 * 10**9, 0, "m0"), (now - 10**9, 1, "m1"), (now, 3, "m3")]),
              deque([(now, 2, "m2")]), None]
    status = bytearray(4)
    dog = Watchdog(rec, timeout=0.5)
    dog.watch_queues(queues, status)
    dog.check()
    assert rec.result.errors == {"timeout": 2}
    assert list(status) == [Watchdog.EXPIRED, Watchdog.EXPIRED, 0, 0]
    assert [len(q) if q is not None else None for q in queues] == [1, 1, None]


def test_a_stop_ends_the_wait_at_once() -> None:
    async def main() -> float:
        rec = recorder()
        task = asyncio.ensure_future(asyncio.sleep(3600))
        asyncio.get_running_loop().call_later(0.1, rec.stop, "interrupted (Ctrl-C)")
        started = time.perf_counter()
        await Watchdog(rec, timeout=60).run_until_done([task], time.perf_counter_ns() + 10**11)
        assert task.cancelled()
        return time.perf_counter() - started

    assert asyncio.run(main()) < 0.5


def test_sleep_until_wakes_at_most_a_millisecond_early() -> None:
    async def main() -> int:
        rec = recorder()
        due = time.perf_counter_ns() + 30_000_000
        assert await sleep_until(rec, due)
        return time.perf_counter_ns() - due

    assert asyncio.run(main()) >= -EARLY_NS
