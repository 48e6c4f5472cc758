"""The hot-path sample sink every driver writes to, and the run's stop / failure state.

Drivers append microseconds to ``rec.batch("rtt")`` (one C-level append per sample), bump
``rec.ops`` and call ``rec.error(kind)``; the run loop folds the batches into the result's
HdrHistograms once a second. Engine tasks are started with :meth:`Recorder.spawn`, so a task
that dies of an unexpected exception fails the run instead of vanishing.
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pytest_roo.results.metrics import LoadResult

if TYPE_CHECKING:
    from pytest_roo.load.phases import PhaseSplitter

__all__ = ["EARLY_NS", "LATE_NS", "OP_START", "Recorder", "corrected"]

#: An operation that starts more than this after its intended time is counted as ``late``.
LATE_NS = 10_000_000

#: Timers fire up to about a millisecond late (uvloop's clock has millisecond resolution), so
#: scheduled work wakes this much early and starts at once; an early start is measured from the
#: actual start, a late one from the intended time.
EARLY_NS = 1_000_000

#: How much of a failure's description is kept as the example of its kind.
_EXAMPLE_CHARS = 200

#: When the operation running in this task started (``time.monotonic()``), set by the
#: executor around each operation: a failure counts in the phase in which its operation began.
OP_START: ContextVar[float | None] = ContextVar("roo_op_start", default=None)


class Recorder:
    """Hot-path sample sink: per metric an ``array('q')`` of microseconds, folded every tick.

    ``starts`` counts the arrivals of an open-model schedule that came due (started, late or
    dropped); with ``counters["late"]`` and ``counters["dropped"]`` it tells whether the
    schedule was kept.
    """

    def __init__(self, result: LoadResult, primary: str) -> None:
        self.result = result
        self.primary = primary
        result.primary = primary
        self.batches: dict[str, array[int]] = {}
        #: p50, p95 and p99 (seconds) of the primary metric's last folded batch
        self.batch_percentiles: dict[str, float] = {}
        self.corrections: dict[str, int] = {}
        self.raw_twins: dict[str, str] = {}
        self.ops = 0
        self.starts = 0
        self.stopping = False
        self.stop_reason: str | None = None
        #: the first exception that is not the run's own (a dying engine task, an interrupt)
        self.failure: BaseException | None = None
        self.failure_where = ""
        self.deadline = math.inf
        self.window_start = 0.0
        #: bumped by ``begin``: the ticker realigns its seconds on the measured window
        self.window_generation = 0
        #: splits the samples by the phases of fault windows (set by the run loop)
        self.phases: PhaseSplitter | None = None
        #: called by ``begin`` before the window starts (see RunOptions.start_gate)
        self.start_gate: Callable[[Recorder], None] | None = None

    def batch(self, name: str) -> array[int]:
        """The buffer of raw samples (microseconds) of metric ``name``, created with the metric."""
        buf = self.batches.get(name)
        if buf is None:
            buf = self.batches[name] = array("q")
            self.result.metric(name)
        return buf

    def error(self, kind: str, count: int = 1, detail: str | None = None) -> None:
        """Count ``count`` failed operations of ``kind``; ``detail`` (the first one per kind is
        kept in ``result.info["error_examples"]``) says what went wrong."""
        self.result.errors[kind] += count
        if self.phases is not None:
            self.phases.error(kind, count, OP_START.get())
        if detail is not None:
            examples = self.result.info.setdefault("error_examples", {})
            if kind not in examples:
                examples[kind] = detail[:_EXAMPLE_CHARS]

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        self.result.counters[name] += n

    def correct(self, name: str, expected_interval_us: int, raw_name: str | None = None) -> None:
        """Fold ``name`` with expected-interval correction; keep the raw samples as ``raw_name``."""
        self.corrections[name] = max(1, expected_interval_us)
        if raw_name:
            self.raw_twins[name] = raw_name
            self.result.metric(raw_name)

    def stop(self, reason: str | None = None) -> None:
        """Ask the run to stop; the first reason given is kept."""
        if not self.stopping:
            self.stopping = True
            self.stop_reason = reason

    def fail(self, exc: BaseException, where: str) -> None:
        """Stop the run because ``exc`` is not the run's own: it is raised when the run ends."""
        if self.failure is None:
            self.failure = exc
            self.failure_where = where
        self.stop(f"{where}: {type(exc).__name__}: {exc}")

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A task of the engine: if it dies of an exception, the run fails with it as cause."""
        task = asyncio.ensure_future(coro)

        def done(t: asyncio.Future[Any]) -> None:
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                self.fail(exc, f"the load engine's {name} task died")

        task.add_done_callback(done)
        return task

    def fold(self) -> float | None:
        """Move every batch into the histograms; return the primary metric's p95 of the batch
        (its p50, p95 and p99 are left in ``batch_percentiles`` for the timeline)."""
        import numpy as np

        p95: float | None = None
        self.batch_percentiles = {}
        for name, buf in self.batches.items():
            if not buf:
                continue
            values = np.frombuffer(buf, dtype=np.int64).copy()
            del buf[:]
            if name == self.primary:
                p50, p95, p99 = (float(v) / 1e6 for v in np.percentile(values, (50, 95, 99)))
                self.batch_percentiles = {"p50": p50, "p95": p95, "p99": p99}
            interval = self.corrections.get(name)
            metric = self.result.metric(name)
            if self.phases is not None:
                self._split(name, values, interval)
            if interval is not None:
                raw = self.raw_twins.get(name)
                if raw:
                    self.result.metric(raw).record_many_us(values)
                values = corrected(values, interval)
            metric.record_many_us(values)
        if self.phases is not None:
            self.phases.folded()
        return p95

    def _split(self, name: str, values: Any, interval: int | None) -> None:
        """The phases' share of a batch (corrected pieces, and the raw twin's)."""
        assert self.phases is not None
        if interval is None:
            self.phases.split(name, values, lambda piece: piece)
            return
        self.phases.split(name, values, lambda piece: corrected(piece, interval))
        raw = self.raw_twins.get(name)
        if raw:
            self.phases.split(name, values, lambda piece: piece, into=raw)


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
