"""The once-a-second tick of a run: folds the samples, writes the timeline, prints progress,
checks the abort condition, and watches the generator itself (CPU per wall second, loop lag)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_roo.load.recorder import Recorder
from pytest_roo.results.metrics import TimelinePoint
from pytest_roo.units import format_duration

if TYPE_CHECKING:
    from pytest_roo.load.engine import RunOptions

__all__ = ["Monitor", "Timeline", "tick"]


class Monitor:
    """CPU of this process per wall second and event-loop lag, sampled by the tick."""

    def __init__(self) -> None:
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()
        self.lags: list[float] = []
        self._last_cpu = self.cpu0
        self._last_wall = self.wall0

    def sample(self) -> float:
        """The generator's CPU share of one core since the previous sample."""
        cpu, wall = time.process_time(), time.perf_counter()
        share = (cpu - self._last_cpu) / max(1e-6, wall - self._last_wall)
        self._last_cpu, self._last_wall = cpu, wall
        return share

    def summary(self) -> dict[str, float]:
        """CPU share, CPU and wall seconds and event-loop lag of the whole run."""
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


class Timeline:
    """One point per second of the measured window (seconds count from ``begin``, not from
    the start of the connection setup). The last, partial second is included; what comes after
    the window (replies in the grace period, failures the driver counts at the end) is added to
    the last second, so a 5 s run has 5 points."""

    def __init__(self, rec: Recorder, duration: float) -> None:
        self.rec = rec
        self.slots = max(1, math.ceil(duration - 1e-3))
        self.last_ops = 0
        self.last_errors = 0
        self.last_kinds: Counter[str] = Counter()

    def add(self, p95: float | None) -> int:
        """Put what happened since the last point on the timeline; the operations it adds."""
        ops, errors = self.rec.ops, self.rec.result.error_count
        d_ops, d_errors = ops - self.last_ops, errors - self.last_errors
        kinds = Counter(self.rec.result.errors)
        d_kinds = {k: n for k, n in (kinds - self.last_kinds).items() if n > 0}
        self.last_ops, self.last_errors, self.last_kinds = ops, errors, kinds
        # the batch's p50 and p99 beside the p95 given (fold() leaves them on the recorder)
        quantiles = self.rec.batch_percentiles if p95 is not None else {}
        points = self.rec.result.timeline
        if points and points[-1].second >= self.slots - 1:
            tail = points[-1]
            tail.ops += d_ops
            tail.errors += d_errors
            for kind, count in d_kinds.items():
                tail.error_kinds[kind] = tail.error_kinds.get(kind, 0) + count
            for stat, value in (("p50", quantiles.get("p50")), ("p95", p95),
                                ("p99", quantiles.get("p99"))):
                if value is not None:
                    known = getattr(tail, stat)
                    setattr(tail, stat, value if known is None else max(known, value))
        else:
            second = points[-1].second + 1 if points else 0
            points.append(TimelinePoint(second, ops=d_ops, errors=d_errors, p95=p95,
                                        p50=quantiles.get("p50"), p99=quantiles.get("p99"),
                                        error_kinds=d_kinds))
        return d_ops

    def close(self, p95: float | None, duration: float) -> None:
        """The final point; a run that ended early (aborted, stopped) has fewer seconds."""
        self.slots = max(1, min(self.slots, math.ceil(duration - 1e-3)))
        self.add(p95)


async def tick(
    rec: Recorder,
    duration: float,
    options: RunOptions,
    monitor: Monitor,
    timeline: Timeline,
    expected_ops: Callable[[Recorder, float], int] | None,
) -> None:
    """Once a second until the run cancels it: fold the samples into the histograms and the
    timeline, sample the generator's CPU, show progress and apply the abort condition."""
    loop_time = time.perf_counter
    show = options.progress is not None and duration > 2.0
    next_at = time.perf_counter() + 1.0
    generation = rec.window_generation
    while True:
        await asyncio.sleep(max(0.0, next_at - loop_time()))
        now = loop_time()
        if generation and rec.window_generation == generation:
            # Only inside the measured window: connecting (asyncpg builds an SSL context per
            # connection), a user's setup hook and a multi-process run's wait for its common
            # start instant may hold the loop, but no arrival is due then. The tick across the
            # window's begin is not a lag either.
            monitor.lags.append(max(0.0, now - next_at))
        next_at += 1.0
        if next_at < now:  # fell behind by more than a tick: do not burst
            next_at = now + 1.0
        cpu = monitor.sample()
        if rec.window_generation != generation:
            # the measured window began (connections are up): count seconds from there; what
            # was measured since stays in the batches, to be folded with the window's first
            # second (folded now, its percentiles would be on no point of the timeline)
            generation = rec.window_generation
            next_at = rec.window_start + 1.0
            continue
        p95 = rec.fold()
        if not generation:
            continue  # still connecting: nothing to put on the timeline
        ops_delta = timeline.add(p95)
        ops = rec.ops
        errors = rec.result.error_count
        elapsed = now - rec.window_start
        rec.result.operations = ops
        rec.result.duration = elapsed
        if show and options.progress is not None:
            options.progress(
                f"roo load {rec.result.name}: {min(elapsed, duration):4.0f}/{duration:.0f}s  "
                f"{ops_delta:>8,} ops/s  errors {errors:,}  "
                f"p95 {format_duration(p95)}  cpu {cpu:.0%}"
            )
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
