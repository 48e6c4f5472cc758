"""Generic executors: closed virtual-user loops and an open arrival schedule over a worker pool.

Every driver turns its operation into ``one(vu, intended_ns) -> None`` (which records its own
latency and errors) and hands it to :func:`drive`. In the open model a worker pool of
``clients`` users takes arrivals off a bounded queue; an arrival's latency runs from its
intended time, so queueing behind a slow server counts (no coordinated omission). Arrivals that
find the queue full are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pytest_roo.load.errors import classify, describe
from pytest_roo.load.recorder import EARLY_NS, LATE_NS, OP_START, Recorder
from pytest_roo.load.workload import Workload

__all__ = [
    "EARLY_NS",
    "LATE_NS",
    "OperationFailed",
    "Watchdog",
    "check_connection_limit",
    "drive",
    "mark_counted",
    "sleep_until",
]

One = Callable[[Any, int], Awaitable[None]]


class OperationFailed(Exception):
    """Raised inside an operation after its error was already counted."""


def mark_counted(exc: BaseException) -> BaseException:
    """Mark ``exc`` as counted already, so that the run does not count it as an error again."""
    exc._roo_counted = True  # type: ignore[attr-defined]
    return exc


def is_counted(exc: BaseException) -> bool:
    return bool(getattr(exc, "_roo_counted", False))


def check_connection_limit(connections: int) -> int:
    """Make sure ``connections`` sockets fit under RLIMIT_NOFILE (raising the soft limit up to the
    hard one if needed); return the limit. Raises ValueError explaining what to do otherwise."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = connections + 128  # the interpreter, pytest, logs, the servers' own sockets
    if needed <= soft or soft == resource.RLIM_INFINITY:
        return soft if soft != resource.RLIM_INFINITY else needed
    if hard == resource.RLIM_INFINITY or needed <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return needed
    raise ValueError(
        f"clients={connections} needs about {needed} open files, but this process may open at "
        f"most {hard} (RLIMIT_NOFILE hard limit; the soft limit is {soft}). Use fewer clients "
        f"(at most {max(1, hard - 128)} here), raise the hard limit (`ulimit -Hn`, "
        "/etc/security/limits.conf, `docker run --ulimit nofile=...`, systemd LimitNOFILE=), "
        "or split the swarm across machines. A server on the same machine needs one file per "
        "connection too."
    )


class Watchdog:
    """Deadlines of the waits in flight, checked ten times a second by the task that waits for
    the run, instead of a timer per await.

    A timer per message (``asyncio.wait_for``, ``receive(timeout)``) costs about a third of the
    client's CPU in an echo swarm; a slot write per message and one scan every 100 ms cost
    next to nothing, and a stuck wait still fails within ``timeout`` + 0.1 s as ``timeout``.

    Two kinds of watch:

    * slots (closed loops): ``waiting[i]`` is the perf_counter_ns at which connection ``i``
      started waiting (0: not waiting); an expired wait counts one ``timeout`` and cancels
      ``tasks[i]`` (the connection is dropped from the run).
    * queues (open model): ``queues[i]`` holds the messages in flight on connection ``i`` as
      ``(intended_ns, id, ...)`` tuples, oldest first (None: nothing sent yet); each one older
      than the timeout counts as a ``timeout`` and ``status[id]`` becomes EXPIRED, so that its
      late reply is recognised and skipped, never matched to another message.
    """

    TICK = 0.1
    #: ``status[id]`` of a message the watchdog gave up on
    EXPIRED = 2

    def __init__(self, rec: Recorder, timeout: float) -> None:
        self.rec = rec
        self.timeout_ns = int(timeout * 1e9)
        self._waiting: list[int] | None = None
        self._tasks: Sequence[asyncio.Future[Any] | None] = ()
        self._queues: Sequence[deque[Any] | None] | None = None
        self._status = bytearray()

    def watch_slots(self, waiting: list[int],
                    tasks: Sequence[asyncio.Future[Any] | None]) -> None:
        """Watch one send time per slot (0 when not waiting) and the task waiting on it (closed
        model)."""
        self._waiting = waiting
        self._tasks = tasks

    def watch_queues(self, queues: Sequence[deque[Any] | None],
                     status: bytearray) -> None:
        """Watch the queues of ``(send time, message id)`` in flight per connection and the
        messages' status (open model)."""
        self._queues = queues
        self._status = status

    def check(self) -> None:
        """Count every wait older than the timeout as an error of kind timeout: a waiting slot is
        released and its task cancelled, a message in flight is marked expired."""
        limit = time.perf_counter_ns() - self.timeout_ns
        waiting = self._waiting
        if waiting is not None:
            for i, t0 in enumerate(waiting):
                if t0 and t0 < limit:
                    waiting[i] = 0
                    self.rec.error("timeout", detail="no reply within the timeout")
                    task = self._tasks[i]
                    if task is not None and not task.done():
                        task.cancel()
        if self._queues is not None:
            status = self._status
            expired = 0
            for queue in self._queues:
                while queue and queue[0][0] < limit:
                    status[queue.popleft()[1]] = self.EXPIRED
                    expired += 1
            if expired:
                self.rec.error("timeout", expired, detail="no reply within the timeout")

    async def run_until_done(self, tasks: Sequence[asyncio.Future[Any]], deadline_ns: int) -> None:
        """Wait for ``tasks`` (which end by themselves at the deadline) while checking the
        deadlines; on a stop, or ``timeout`` + 0.5 s after ``deadline_ns``, cancel the rest."""
        pending = {t for t in tasks if not t.done()}
        hard_ns = deadline_ns + self.timeout_ns + 500_000_000
        while pending and not self.rec.stopping and time.perf_counter_ns() < hard_ns:
            _, pending = await asyncio.wait(pending, timeout=self.TICK)
            self.check()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    async def run_until(self, done: Callable[[], bool], until_ns: int) -> None:
        """Check the deadlines until ``done()`` is true, the run stops or ``until_ns``."""
        while not done() and not self.rec.stopping and time.perf_counter_ns() < until_ns:
            await asyncio.sleep(self.TICK / 2)
            self.check()


async def sleep_until(rec: Recorder, due_ns: int, chunk: float = 0.25) -> bool:
    """Sleep until about ``due_ns`` (perf_counter_ns; up to EARLY_NS early) in chunks; False
    when the run stops meanwhile."""
    wake_ns = due_ns - EARLY_NS
    while True:
        if rec.stopping:
            return False
        left = (wake_ns - time.perf_counter_ns()) / 1e9
        if left <= 0:
            return True
        await asyncio.sleep(min(left, chunk))


async def drive(
    rec: Recorder,
    wl: Workload,
    one: One,
    *,
    setup_vu: Callable[[int], Awaitable[Any]] | None = None,
    teardown_vu: Callable[[Any], Awaitable[None]] | None = None,
    timeout: float = 5.0,
    grace: float = 5.0,
    max_backlog: int | None = None,
) -> None:
    """Run ``one`` under the workload until the deadline; then give in-flight work ``grace``."""
    states: list[Any] = [None] * wl.clients
    kinds = [""] * wl.clients  # why a user's setup failed
    sem = asyncio.Semaphore(256)  # bounded concurrent handshakes / connects

    async def setup(i: int) -> None:
        if setup_vu is None:
            states[i] = i
            return
        async with sem:
            if rec.stopping:
                return
            try:
                states[i] = await setup_vu(i)
            except Exception as exc:
                kinds[i] = classify(exc)
                if not is_counted(exc):
                    rec.error(kinds[i], detail=f"client setup failed: {describe(exc)}")
                rec.ops += 1
                states[i] = None

    await asyncio.gather(*(setup(i) for i in range(wl.clients)))
    if setup_vu is not None:
        rec.count("clients_connected", sum(1 for state in states if state is not None))
    begin(rec, wl.duration)
    deadline_ns = int(rec.deadline * 1e9)
    if wl.open:
        await _open(rec, wl, one, states, deadline_ns, timeout, max_backlog)
    else:
        await _closed(rec, wl, one, states, kinds, deadline_ns, grace)
    if teardown_vu is not None:
        async def down(state: Any) -> None:
            if state is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(teardown_vu(state), 2.0)

        await asyncio.gather(*(down(s) for s in states))


def begin(rec: Recorder, duration: float) -> None:
    """Start the measured window now (after the connections are up); in a worker of a
    multi-process run, at the start instant common to every worker (``rec.start_gate``)."""
    if rec.start_gate is not None:
        rec.start_gate(rec)
    now = time.perf_counter()
    rec.deadline = now + duration
    rec.result.info["setup_seconds"] = round(now - rec.window_start, 3)
    rec.window_start = now
    rec.window_generation += 1


async def run_one(rec: Recorder, one: One, state: Any, intended_ns: int) -> None:
    rec.ops += 1
    # when it was meant to start, for the phases of a fault (failures count there)
    token = OP_START.set(time.monotonic() - (time.perf_counter_ns() - intended_ns) / 1e9)
    try:
        await one(state, intended_ns)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if not is_counted(exc):
            rec.error(classify(exc), detail=describe(exc))
    finally:
        OP_START.reset(token)


async def _closed(
    rec: Recorder,
    wl: Workload,
    one: One,
    states: list[Any],
    kinds: list[str],
    deadline_ns: int,
    grace: float,
) -> None:
    pc = time.perf_counter_ns
    think = wl.think
    done = [0] * len(states)

    async def vu(i: int) -> None:
        state = states[i]
        if state is None:
            return
        while not rec.stopping:
            now = pc()
            if now >= deadline_ns:
                return
            done[i] += 1
            await run_one(rec, one, state, now)
            if think:
                await asyncio.sleep(think)

    tasks = [rec.spawn(vu(i), "virtual user") for i in range(wl.clients)]
    await _finish(rec, tasks, deadline_ns, grace)
    failed = [i for i, state in enumerate(states) if state is None and kinds[i]]
    healthy = len(states) - len(failed)
    if failed and healthy and not rec.stopping:
        # A user whose setup failed counts as its share of the load (as many operations as
        # the users that ran did on average), not as one failed operation beside thousands:
        # one operation was counted for it already.
        share = round(sum(done) / healthy) - 1
        if share > 0:
            for i in failed:
                rec.ops += share
                rec.error(kinds[i], share)
            rec.count("failed_client_ops", share * len(failed))


async def _finish(rec: Recorder, tasks: Sequence[asyncio.Future[Any]], deadline_ns: int,
                  grace: float) -> None:
    """Wait for the tasks until the deadline (or a stop), then ``grace``, then cancel them."""
    if not tasks:
        return
    pending: set[asyncio.Future[Any]] = set(tasks)
    while pending and not rec.stopping:
        left = (deadline_ns - time.perf_counter_ns()) / 1e9
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(left, 0.25))
    if pending and not rec.stopping:
        end = time.perf_counter() + grace
        while pending and not rec.stopping and time.perf_counter() < end:
            _, pending = await asyncio.wait(pending, timeout=0.25)
    if pending and not rec.stopping:
        # still waiting for replies after the grace period: those are timeouts
        rec.error("timeout", len(pending), detail="still running after the grace period")
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)


async def _open(
    rec: Recorder,
    wl: Workload,
    one: One,
    states: list[Any],
    deadline_ns: int,
    timeout: float,
    max_backlog: int | None,
) -> None:
    schedule = wl.schedule()
    start_ns = int(rec.window_start * 1e9)
    queue: deque[int] = deque()
    # Idle workers park on a future each; an arrival wakes exactly one of them (an Event would
    # wake every idle worker per arrival, making the generator's CPU grow with rate x clients).
    idle: deque[asyncio.Future[None]] = deque()
    loop = asyncio.get_running_loop()
    backlog = max_backlog if max_backlog is not None else max(
        1000, int(schedule.stages[0].target * timeout))
    pc = time.perf_counter_ns
    done_generating = False

    async def generator() -> None:
        nonlocal done_generating
        k = 0
        try:
            while not rec.stopping:
                t = schedule.time_of(k)
                if t == float("inf"):
                    break
                due = start_ns + int(t * 1e9)
                if due >= deadline_ns:
                    break
                now = pc()
                if due > now + EARLY_NS and not await sleep_until(rec, due):
                    break
                rec.starts += 1
                if len(queue) >= backlog:
                    rec.ops += 1
                    rec.error("dropped", detail="no free client: the backlog of arrivals was full")
                    rec.count("dropped")
                else:
                    queue.append(due)
                    while idle:
                        waiter = idle.popleft()
                        if not waiter.done():
                            waiter.set_result(None)
                            break
                k += 1
        finally:
            done_generating = True
            for waiter in idle:
                if not waiter.done():
                    waiter.set_result(None)
            idle.clear()

    async def worker(i: int) -> None:
        state = states[i]
        if state is None:
            return
        while not rec.stopping:
            if not queue:
                if done_generating:
                    return
                waiter = loop.create_future()
                idle.append(waiter)
                # woken by an arrival, or every 0.25 s to notice a stop
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(waiter, 0.25)
                continue
            due = queue.popleft()
            now = pc()
            if now - due > LATE_NS:
                rec.count("late")
            # latency from the intended start; an arrival taken early (see EARLY_NS) is
            # measured from its actual start
            await run_one(rec, one, state, due if due <= now else now)

    gen = rec.spawn(generator(), "arrival generator")
    tasks: list[asyncio.Future[Any]] = [rec.spawn(worker(i), "worker")
                                        for i in range(wl.clients)]
    await _finish(rec, [gen, *tasks], deadline_ns, timeout)
    if queue:
        rec.ops += len(queue)
        rec.error("dropped", len(queue), detail="arrivals still waiting for a client at the end")
        rec.count("dropped", len(queue))
        queue.clear()
