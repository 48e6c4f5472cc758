"""The run loop shared by every driver: a fresh event loop, the recorder, the once-a-second tick.

The tick folds the latency batches into the result's HdrHistograms (in bulk, numpy), appends a
timeline point, prints a progress line, checks the abort condition and watches the generator
itself (process CPU per wall second, event-loop lag). Ctrl-C sets the stop flag: the run ends
within a second and :class:`RunInterrupted` carries what was measured.

Exceptions that are not the run's own (pytest-timeout's ``Failed`` raised by its SIGALRM
handler, SystemExit, a second Ctrl-C) and engine tasks that die stop the run within a second
and are raised from :func:`run_load`: Python signal handlers are wrapped for the run, because
an exception raised by a handler inside an event-loop callback is only logged by the loop
("Exception in callback Loop._read_from_self") and the run would go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from pytest_roo.load.errors import classify
from pytest_roo.load.phases import PhaseSplitter
from pytest_roo.load.phases import watch as watch_phases
from pytest_roo.load.recorder import LATE_NS, Recorder, corrected
from pytest_roo.load.signals import SignalGuard, drive_in_thread
from pytest_roo.load.ticker import Monitor, Timeline, tick
from pytest_roo.results.metrics import LoadResult
from pytest_roo.units import format_duration

__all__ = [
    "AbortCheck",
    "BlockingCallError",
    "EngineFailure",
    "ProgressCallback",
    "Recorder",
    "RunInterrupted",
    "RunOptions",
    "classify",
    "corrected",
    "new_event_loop",
    "quiet_collector",
    "run_load",
]

ProgressCallback = Callable[[str], None]
#: ``abort(result_so_far, expected_operations) -> reason or None``
AbortCheck = Callable[[LoadResult, int], "str | None"]

#: Default schedule tolerance: a run in which more than this share of the scheduled operations
#: started more than LATE_NS late (or were dropped) did not apply the load asked for.
MAX_LATE_SHARE = 0.05
#: ... and at least this many of them: a handful of late starts in a short run is noise.
MIN_LATE_COUNT = 5

class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a load run; ``.result`` holds what was measured until then."""

    def __init__(self, result: LoadResult) -> None:
        super().__init__(f"load run {result.name!r} interrupted after {result.duration:.1f}s")
        self.result = result


class EngineFailure(RuntimeError):
    """A task of the load engine died; ``__cause__`` is what killed it."""


class BlockingCallError(RuntimeError):
    """A blocking load run was started from a coroutine on this thread's running event loop
    (an ``async def`` test): it would stall that loop, and every server it serves, for the
    whole run. The message names the awaitable spelling to use instead."""


def check_not_in_coroutine(what: str, instead: str) -> None:
    """Raise :class:`BlockingCallError` when called from a task of a running loop in this
    thread. A loop that runs without a current task here is not the caller's own: Playwright's
    sync API keeps one running between its calls (the run then gets a thread of its own)."""
    loop = asyncio._get_running_loop()
    if loop is None or asyncio.current_task(loop) is None:
        return
    raise BlockingCallError(
        f"{what} blocks until the load run ends, and it was called from a coroutine on this "
        "thread's running event loop (an `async def` test): that loop, and any server or "
        f"client it serves, would stall for the whole run. Use {instead}"
    )


class RunOptions:
    """Knobs of the run loop that the fixtures fill from the settings."""

    def __init__(
        self,
        *,
        progress: ProgressCallback | None = None,
        abort: AbortCheck | None = None,
        max_generator_cpu: float = 0.90,
        timeout: float = 5.0,
        grace: float | None = None,
        use_uvloop: bool = True,
        handle_sigint: bool = True,
        max_late_share: float = MAX_LATE_SHARE,
        stop: threading.Event | None = None,
        start_gate: Callable[[Recorder], None] | None = None,
    ) -> None:
        if not 0.0 <= max_late_share <= 1.0:
            raise ValueError(
                f"invalid max_late_share={max_late_share!r}: expected a fraction such as 0.01 "
                "(1 % of the scheduled operations may start late)"
            )
        if not 0.0 < max_generator_cpu <= 4.0:
            raise ValueError(
                f"invalid max_generator_cpu={max_generator_cpu!r}: expected a fraction of one "
                "core such as 0.9"
            )
        if timeout <= 0:
            raise ValueError(f"invalid timeout={timeout!r}: expected seconds > 0")
        self.progress = progress
        self.abort = abort
        self.max_generator_cpu = max_generator_cpu
        self.timeout = timeout
        self.grace = timeout if grace is None else grace
        self.use_uvloop = use_uvloop
        self.handle_sigint = handle_sigint
        self.max_late_share = max_late_share
        #: set from another thread to end the run early (an awaiting task was cancelled)
        self.stop = stop
        #: called when the connections are up, before the measured window: a worker of a
        #: multi-process run blocks there until the common start instant (load.workers)
        self.start_gate = start_gate


class LoadDriver:
    """What every driver (WebSocket swarm, HTTP, database) shares: the run-loop knobs."""

    _given: tuple[tuple[Any, ...], dict[str, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # what the caller gave the constructor, so that a worker process rebuilds the driver
        # with it even where the constructor keeps no attribute of the same name
        # (pytest_roo.load.split.DriverSpec)
        driver = super().__new__(cls)
        driver._given = (args, dict(kwargs))
        return driver

    def __init__(
        self,
        *,
        progress: ProgressCallback | None = None,
        abort: Any = None,
        max_generator_cpu: float = 0.90,
        timeout: float = 5.0,
        use_uvloop: bool = True,
        max_late_share: float | None = None,
    ) -> None:
        self.progress = progress
        self.abort = abort
        self.max_generator_cpu = max_generator_cpu
        self.timeout = timeout
        self.use_uvloop = use_uvloop
        self.max_late_share = MAX_LATE_SHARE if max_late_share is None else max_late_share
        #: set from another thread to end the current run early
        self.stop_event: threading.Event | None = None
        #: see RunOptions.start_gate
        self.start_gate: Callable[[Recorder], None] | None = None

    def _options(self, timeout: float | None, abort: Any = None) -> RunOptions:
        return RunOptions(
            progress=self.progress,
            abort=abort if abort is not None else self.abort,
            max_generator_cpu=self.max_generator_cpu,
            timeout=timeout or self.timeout,
            use_uvloop=self.use_uvloop,
            max_late_share=self.max_late_share,
            stop=self.stop_event,
            start_gate=self.start_gate,
        )


def new_event_loop(use_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    """A fresh loop: uvloop when it is installed (it halves the client CPU per message)."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_load(
    name: str,
    primary: str,
    body: Callable[[Recorder], Coroutine[Any, Any, None]],
    *,
    duration: float,
    options: RunOptions,
    expected_ops: Callable[[Recorder, float], int] | None = None,
    info: dict[str, Any] | None = None,
    finish: Callable[[Recorder], None] | None = None,
    setup_budget: float = 30.0,
) -> LoadResult:
    """Run ``body(rec)`` in a fresh event loop for ``duration`` seconds (plus the grace period
    for replies in flight), with the tick, Ctrl-C handling and the saturation verdict.

    Called from a coroutine of a loop running in this thread it raises
    :class:`BlockingCallError` (run it in a worker thread instead); beside a loop that runs
    with no current task (Playwright's sync API) it drives its own loop in a thread."""
    check_not_in_coroutine(f"load run {name!r}",
                           "the fixture's awaitable method (`await ws_swarm.echo_async(...)`, "
                           "`await http_load.get_async(...)`), or `await asyncio.to_thread(...)` "
                           "around the driver's call")
    # The tick folds samples with numpy into HdrHistograms: import both (~0.2 s) and build the
    # primary histogram now, not inside the first tick, where they would stall the event loop
    # and show up as latency.
    import hdrh.histogram  # noqa: F401
    import numpy  # noqa: F401

    result = LoadResult(name=name)
    result.info.update(info or {})
    rec = Recorder(result, primary)
    splitter = rec.phases = PhaseSplitter(rec)  # before / during / after a fault it overlaps
    rec.start_gate = options.start_gate
    _ = result.metric(primary).histogram
    loop = new_event_loop(options.use_uvloop)
    guard = SignalGuard(loop, rec, options.handle_sigint)
    monitor = Monitor()
    timeline = Timeline(rec, duration)

    def drive() -> None:
        try:
            loop.run_until_complete(
                _main(rec, body, duration, options, monitor, timeline, expected_ops,
                      setup_budget)
            )
            # Let transports close cleanly before the loop goes away.
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            _close_loop(loop)

    with guard, quiet_collector():
        if asyncio._get_running_loop() is None:
            drive()
        else:
            # Another loop runs in this thread (Playwright's sync API keeps one): drive ours in a
            # thread of its own. Signals still reach the guard's handlers here, in this thread.
            drive_in_thread(drive, f"roo-load-{name}", rec, loop)
    _raise_failure(rec)
    splitter.poll()
    p95 = rec.fold()
    if finish is not None:
        finish(rec)
    result.operations = rec.ops
    splitter.finish()
    timeline.close(p95, result.duration)
    summary = monitor.summary()
    result.generator.update(summary)
    result.generator["max_cpu"] = options.max_generator_cpu
    if rec.stop_reason:
        result.info["stopped"] = rec.stop_reason
    reasons = [r for r in (_cpu_verdict(summary, options), _schedule_verdict(rec, options)) if r]
    if reasons:
        result.saturated = "; and ".join(reasons)
    if guard.interrupted:
        result.info["interrupted"] = True
        raise RunInterrupted(result)
    return result


_frozen_depth = 0
_frozen_lock = threading.Lock()


@contextlib.contextmanager
def quiet_collector() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects that existed before the run.

    A full (oldest-generation) collection walks every object the process holds: inside pytest,
    with the plugin, aiohttp and psycopg imported, about 130,000 of them, which takes 25-65 ms on
    a small VM. Two of them ran inside the WebSocket and database suites' standard runs, each
    stalling the event loop: arrivals started late and the pause showed up in the measured
    latencies as if the server had been slow. ``gc.freeze()`` moves the objects of before the
    run out of the collector's reach for its duration (the collector still runs, over what the
    run creates); ``gc.unfreeze()`` hands them back when the last of nested or concurrent runs
    ends."""
    global _frozen_depth
    with _frozen_lock:
        _frozen_depth += 1
        gc.freeze()
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_depth -= 1
            if _frozen_depth == 0:
                gc.unfreeze()


def _raise_failure(rec: Recorder) -> None:
    exc = rec.failure
    if exc is None:
        return
    if isinstance(exc, Exception) and not rec.failure_where.startswith("signal"):
        raise EngineFailure(f"{rec.failure_where}: {type(exc).__name__}: {exc}") from exc
    raise exc  # an interrupt (pytest-timeout's Failed, SystemExit, KeyboardInterrupt) goes on


def _cpu_verdict(summary: dict[str, float], options: RunOptions) -> str | None:
    cpu = summary["cpu"]
    if cpu <= options.max_generator_cpu or summary["wall_seconds"] < 0.5:
        return None
    return (
        f"load generator saturated: client CPU {cpu:.0%} of one core over the run "
        f"(limit {options.max_generator_cpu:.0%}), event-loop lag up to "
        f"{format_duration(summary['loop_lag_max'])}; the figures measure the client, not "
        "the server. Lower clients=/rate=, or run the generator on its own core"
    )


def _schedule_verdict(rec: Recorder, options: RunOptions) -> str | None:
    """"Schedule not kept" when too many open-model operations started late or were dropped:
    the load asked for was not applied, whatever the generator's CPU figure says."""
    scheduled = rec.starts
    if not scheduled:
        return None
    counters = rec.result.counters
    counters["scheduled"] += scheduled
    late = counters["late"] + counters["dropped"]
    if late < MIN_LATE_COUNT or late <= options.max_late_share * scheduled:
        return None
    lag = rec.result.generator.get("loop_lag_max", 0.0)
    return (
        f"schedule not kept: {late:,} of {scheduled:,} scheduled operations "
        f"({late / scheduled:.1%}) started more than {LATE_NS // 1_000_000} ms late or were "
        f"dropped (tolerance {options.max_late_share:.0%}; event-loop lag up to "
        f"{format_duration(lag)}); the load asked for was not applied. Lower rate=, raise "
        "clients= (each open-model client runs one operation at a time), or give the "
        "generator a core of its own"
    )


async def _main(
    rec: Recorder,
    body: Callable[[Recorder], Coroutine[Any, Any, None]],
    duration: float,
    options: RunOptions,
    monitor: Monitor,
    timeline: Timeline,
    expected_ops: Callable[[Recorder, float], int] | None,
    setup_budget: float,
) -> None:
    started = time.perf_counter()
    rec.result.started_at = time.time()
    rec.window_start = started
    # Until the driver's connections are up (it calls executor.begin), allow the setup budget.
    rec.deadline = started + setup_budget + duration
    task = asyncio.ensure_future(body(rec))
    ticker = rec.spawn(tick(rec, duration, options, monitor, timeline, expected_ops), "tick")
    watcher = rec.spawn(watch_phases(rec.phases), "phases") if rec.phases is not None else None
    try:
        while True:
            hard_deadline = rec.deadline + options.grace + 2.0
            left = hard_deadline - time.perf_counter()
            done, _ = await asyncio.wait({task}, timeout=max(0.0, min(left, 0.25)))
            if done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
                break
            if options.stop is not None and options.stop.is_set() and not rec.stopping:
                rec.stop("cancelled")
            if rec.failure is not None:
                # not the run's own: end now (within a second), the caller raises it
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
                break
            if left <= 0:
                rec.stop("overall deadline reached")
                rec.error("timeout", detail="the run did not end by its overall deadline")
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
                break
    finally:
        end = min(time.perf_counter(), rec.deadline)
        rec.result.duration = max(0.0, end - rec.window_start)
        ticker.cancel()
        await asyncio.wait({ticker}, timeout=1.0)
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait({watcher}, timeout=1.0)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
