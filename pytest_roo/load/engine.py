"""The run loop shared by every driver: a fresh event loop, the recorder, the once-a-second tick.

The tick folds the latency batches into the result's HdrHistograms (in bulk, numpy), appends a
timeline point, prints a progress line, checks the abort condition and watches the generator
itself (process CPU per wall second, event-loop lag). Ctrl-C sets the stop flag: the run ends
within a second and :class:`RunInterrupted` carries what was measured.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import threading
import time
from array import array
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pytest_roo.load.metrics import LoadResult, TimelinePoint
from pytest_roo.units import format_duration

__all__ = [
    "AbortCheck",
    "ProgressCallback",
    "Recorder",
    "RunInterrupted",
    "RunOptions",
    "new_event_loop",
    "run_load",
]

ProgressCallback = Callable[[str], None]
#: ``abort(result_so_far, expected_operations) -> reason or None``
AbortCheck = Callable[[LoadResult, int], "str | None"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a load run; ``.result`` holds what was measured until then."""

    def __init__(self, result: LoadResult) -> None:
        super().__init__(f"load run {result.name!r} interrupted after {result.duration:.1f}s")
        self.result = result


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
    ) -> None:
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


class LoadDriver:
    """What every driver (WebSocket swarm, HTTP, database) shares: the run-loop knobs."""

    def __init__(
        self,
        *,
        progress: ProgressCallback | None = None,
        abort: Any = None,
        max_generator_cpu: float = 0.90,
        timeout: float = 5.0,
        use_uvloop: bool = True,
    ) -> None:
        self.progress = progress
        self.abort = abort
        self.max_generator_cpu = max_generator_cpu
        self.timeout = timeout
        self.use_uvloop = use_uvloop

    def _options(self, timeout: float | None, abort: Any = None) -> RunOptions:
        return RunOptions(
            progress=self.progress,
            abort=abort if abort is not None else self.abort,
            max_generator_cpu=self.max_generator_cpu,
            timeout=timeout or self.timeout,
            use_uvloop=self.use_uvloop,
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


class Recorder:
    """Hot-path sample sink: per metric an ``array('q')`` of microseconds, folded every tick.

    Drivers append to ``rec.batch("rtt")`` directly (one C-level append per sample) and bump
    ``rec.ops`` / ``rec.error(kind)``.
    """

    def __init__(self, result: LoadResult, primary: str) -> None:
        self.result = result
        self.primary = primary
        result.primary = primary
        self.batches: dict[str, array[int]] = {}
        self.corrections: dict[str, int] = {}
        self.raw_twins: dict[str, str] = {}
        self.ops = 0
        self.stopping = False
        self.stop_reason: str | None = None
        self._stop_event: asyncio.Event | None = None
        self.deadline = math.inf
        self.window_start = 0.0

    def batch(self, name: str) -> array[int]:
        buf = self.batches.get(name)
        if buf is None:
            buf = self.batches[name] = array("q")
            self.result.metric(name)
        return buf

    def error(self, kind: str, count: int = 1) -> None:
        self.result.errors[kind] += count

    def count(self, name: str, n: int = 1) -> None:
        self.result.counters[name] += n

    def correct(self, name: str, expected_interval_us: int, raw_name: str | None = None) -> None:
        """Fold ``name`` with expected-interval correction; keep the raw samples as ``raw_name``."""
        self.corrections[name] = max(1, expected_interval_us)
        if raw_name:
            self.raw_twins[name] = raw_name
            self.result.metric(raw_name)

    def stop(self, reason: str | None = None) -> None:
        if not self.stopping:
            self.stopping = True
            self.stop_reason = reason
            if self._stop_event is not None:
                self._stop_event.set()

    async def wait_stop(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, returning early (True) when the run is stopping."""
        if self.stopping:
            return True
        assert self._stop_event is not None
        try:
            await asyncio.wait_for(self._stop_event.wait(), timeout)
        except asyncio.TimeoutError:
            return self.stopping
        return True

    def fold(self) -> float | None:
        """Move every batch into the histograms; return the primary metric's p95 of the batch."""
        import numpy as np

        p95: float | None = None
        for name, buf in self.batches.items():
            if not buf:
                continue
            values = np.frombuffer(buf, dtype=np.int64).copy()
            del buf[:]
            if name == self.primary:
                p95 = float(np.percentile(values, 95)) / 1e6
            interval = self.corrections.get(name)
            metric = self.result.metric(name)
            if interval is not None:
                raw = self.raw_twins.get(name)
                if raw:
                    self.result.metric(raw).record_many_us(values)
                values = corrected(values, interval)
            metric.record_many_us(values)
        return p95


def corrected(values: Any, interval_us: int, cap: int = 20_000_000) -> Any:
    """``values`` plus HdrHistogram's expected-interval back-fill (``v - k * interval`` for k >= 1
    while it stays >= interval), vectorised. At most ``cap`` back-filled samples per batch."""
    import numpy as np

    big = values[values > 2 * interval_us] if interval_us > 0 else values[:0]
    if big.size == 0:
        return values
    extra_counts = (big - interval_us) // interval_us  # how many back-filled per sample
    total = int(extra_counts.sum())
    if total > cap:
        scale = cap / total
        extra_counts = np.maximum(1, (extra_counts * scale).astype(np.int64))
        total = int(extra_counts.sum())
    starts = np.repeat(big, extra_counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(
        np.cumsum(extra_counts) - extra_counts, extra_counts
    )
    filled = starts - (offsets + 1) * interval_us
    return np.concatenate([values, filled])


class _Monitor:
    """CPU of this process per wall second and event-loop lag, sampled by the tick."""

    def __init__(self) -> None:
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()
        self.lags: list[float] = []
        self.cpu_samples: list[float] = []
        self._last_cpu = self.cpu0
        self._last_wall = self.wall0

    def sample(self) -> float:
        cpu, wall = time.process_time(), time.perf_counter()
        share = (cpu - self._last_cpu) / max(1e-6, wall - self._last_wall)
        self._last_cpu, self._last_wall = cpu, wall
        self.cpu_samples.append(share)
        return share

    def summary(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall0
        cpu = time.process_time() - self.cpu0
        lags = sorted(self.lags) or [0.0]
        return {
            "cpu": cpu / max(wall, 1e-6),
            "cpu_seconds": cpu,
            "wall_seconds": wall,
            "loop_lag_max": lags[-1],
            "loop_lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        }


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
    for replies in flight), with the tick, Ctrl-C handling and the saturation verdict."""
    # The tick folds samples with numpy into HdrHistograms: import both (~0.2 s) and build the
    # primary histogram now, not inside the first tick, where they would stall the event loop
    # and show up as latency.
    import hdrh.histogram  # noqa: F401
    import numpy  # noqa: F401

    result = LoadResult(name=name)
    result.info.update(info or {})
    rec = Recorder(result, primary)
    _ = result.metric(primary).histogram
    loop = new_event_loop(options.use_uvloop)
    interrupted = threading.Event()
    previous_handler: Any = None
    sigint_installed = False

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted.is_set():  # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        interrupted.set()
        loop.call_soon_threadsafe(rec.stop, "interrupted (Ctrl-C)")

    if options.handle_sigint and threading.current_thread() is threading.main_thread():
        previous_handler = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, on_sigint)
        sigint_installed = True
    monitor = _Monitor()

    def drive() -> None:
        try:
            loop.run_until_complete(
                _main(rec, body, duration, options, monitor, expected_ops, setup_budget)
            )
            # Let transports close cleanly before the loop goes away.
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            _close_loop(loop)

    try:
        if asyncio._get_running_loop() is None:
            drive()
        else:
            # Another loop runs in this thread (Playwright's sync API keeps one): drive ours in a
            # thread of its own. Ctrl-C still reaches on_sigint here, in the main thread.
            _drive_in_thread(drive, f"roo-load-{name}")
    finally:
        if sigint_installed:
            signal.signal(signal.SIGINT, previous_handler)
    result.operations = rec.ops
    rec.fold()
    if finish is not None:
        finish(rec)
    summary = monitor.summary()
    result.generator.update(summary)
    result.generator["max_cpu"] = options.max_generator_cpu
    if rec.stop_reason:
        result.info["stopped"] = rec.stop_reason
    cpu = summary["cpu"]
    if cpu > options.max_generator_cpu and summary["wall_seconds"] >= 0.5:
        result.saturated = (
            f"load generator saturated: client CPU {cpu:.0%} of one core over the run "
            f"(limit {options.max_generator_cpu:.0%}), event-loop lag up to "
            f"{format_duration(summary['loop_lag_max'])}; the figures measure the client, not "
            "the server. Lower clients=/rate=, or run the generator on its own core"
        )
    if interrupted.is_set():
        result.info["interrupted"] = True
        raise RunInterrupted(result)
    return result


def _drive_in_thread(drive: Callable[[], None], thread_name: str) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            drive()
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name=thread_name, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    if errors:
        raise errors[0]


async def _main(
    rec: Recorder,
    body: Callable[[Recorder], Coroutine[Any, Any, None]],
    duration: float,
    options: RunOptions,
    monitor: _Monitor,
    expected_ops: Callable[[Recorder, float], int] | None,
    setup_budget: float,
) -> None:
    rec._stop_event = asyncio.Event()
    if rec.stopping:
        rec._stop_event.set()
    started = time.perf_counter()
    rec.result.started_at = time.time()
    rec.window_start = started
    # Until the driver's connections are up (it calls executor.begin), allow the setup budget.
    rec.deadline = started + setup_budget + duration
    task = asyncio.ensure_future(body(rec))
    ticker = asyncio.ensure_future(
        _tick(rec, duration, options, monitor, expected_ops)
    )
    try:
        while True:
            hard_deadline = rec.deadline + options.grace + 2.0
            left = hard_deadline - time.perf_counter()
            done, _ = await asyncio.wait({task}, timeout=max(0.0, min(left, 0.5)))
            if done:
                exc = task.exception()
                if exc is not None:
                    raise exc
                break
            if left <= 0:
                rec.stop("overall deadline reached")
                rec.error("timeout")
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
                break
    finally:
        end = min(time.perf_counter(), rec.deadline)
        rec.result.duration = max(0.0, end - rec.window_start)
        ticker.cancel()
        await asyncio.wait({ticker}, timeout=1.0)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)


async def _tick(
    rec: Recorder,
    duration: float,
    options: RunOptions,
    monitor: _Monitor,
    expected_ops: Callable[[Recorder, float], int] | None,
) -> None:
    loop_time = time.perf_counter
    second = 0
    last_ops = 0
    last_errors = 0
    show = options.progress is not None and duration > 2.0
    next_at = time.perf_counter() + 1.0
    while True:
        await asyncio.sleep(max(0.0, next_at - loop_time()))
        now = loop_time()
        monitor.lags.append(max(0.0, now - next_at))
        next_at += 1.0
        if next_at < now:  # fell behind by more than a tick: do not burst
            next_at = now + 1.0
        cpu = monitor.sample()
        p95 = rec.fold()
        ops = rec.ops
        errors = rec.result.error_count
        rec.result.timeline.append(
            TimelinePoint(second, ops=ops - last_ops, errors=errors - last_errors, p95=p95)
        )
        second += 1
        elapsed = now - rec.window_start
        rec.result.operations = ops
        rec.result.duration = elapsed
        if show and options.progress is not None:
            options.progress(
                f"roo load {rec.result.name}: {min(elapsed, duration):4.0f}/{duration:.0f}s  "
                f"{ops - last_ops:>8,} ops/s  errors {errors:,}  "
                f"p95 {format_duration(p95)}  cpu {cpu:.0%}"
            )
        last_ops, last_errors = ops, errors
        if options.abort is not None and not rec.stopping and elapsed < duration:
            expected = (
                expected_ops(rec, elapsed)
                if expected_ops is not None
                else int(ops / max(elapsed, 1e-3) * duration)
            )
            reason = options.abort(rec.result, max(expected, ops))
            if reason:
                rec.result.info["aborted"] = reason
                rec.stop(f"aborted: {reason}")


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


def classify(exc: BaseException) -> str:
    """The error kind of an exception raised by a driver (see ``metrics.ERROR_KINDS``)."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, AssertionError):
        return "assertion"
    name = type(exc).__name__
    if type(exc).__module__.startswith("asyncpg"):
        if name == "QueryCanceledError":
            return "timeout"
        if name in ("ConnectionDoesNotExistError", "InterfaceError"):
            return "closed"
        return "sql" if "PostgresError" in [c.__name__ for c in type(exc).__mro__] else "other"
    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        aiohttp = None  # type: ignore[assignment]
    if aiohttp is not None:
        if isinstance(exc, aiohttp.ClientResponseError):
            status = exc.status
            return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "protocol"
        if isinstance(exc, aiohttp.ClientConnectorError):
            os_error = getattr(exc, "os_error", None)
            if isinstance(os_error, ConnectionRefusedError) or "refused" in str(exc).lower():
                return "refused"
            return "other"
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return "closed"
        if isinstance(exc, aiohttp.ClientOSError):
            return "reset" if exc.errno in (104, 32) else "other"
        if isinstance(exc, aiohttp.WSServerHandshakeError):
            status = exc.status
            return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "protocol"
    if isinstance(exc, ConnectionError) or name in ("ConnectionDoesNotExistError",):
        return "closed"
    if isinstance(exc, OSError) and exc.errno == 111:
        return "refused"
    if name in ("WebSocketError", "WSMessageTypeError") or "protocol" in name.lower():
        return "protocol"
    return "other"


class ClosedByServer(ConnectionError):
    """The server closed a WebSocket while a reply was expected."""


def cpu_count() -> int:
    return os.cpu_count() or 1


async def with_timeout(aw: Awaitable[Any], timeout: float) -> Any:
    return await asyncio.wait_for(aw, timeout)
