"""The phase split of a run: which fault windows it overlaps, and where each sample goes.

Drivers keep appending to the recorder's batches as always; nothing is timed per sample.
Every :data:`POLL` seconds a task of the run asks which phase it is now (the windows known at
the start of the run that had not ended, and any made while it runs). When the phase changes
(or, after a fault, every :data:`~pytest_roo.results.phases.SLICE` seconds) it leaves a mark:
the length of each batch, the operation count and the error counts at that instant. The
once-a-second fold cuts each batch at the marks, so every sample lands in the phase in which it
was recorded, to within about a millisecond: a window that starts or ends has the loop look at once (and
it looks every 20 ms anyway). Runs that overlap no window end with no phases.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from pytest_roo.faults.windows import (
    FaultWindow,
    last_serial,
    listen,
    open_windows,
    phase_at,
    windows_since,
)
from pytest_roo.results.phases import MAX_SLICE_SAMPLES, SLICE, AfterSlice, PhaseStats

if TYPE_CHECKING:
    from pytest_roo.load.recorder import Recorder

__all__ = ["POLL", "PhaseSplitter", "watch"]

#: seconds between two looks at the fault windows
POLL = 0.02

#: (phase, slice index): the index counts SLICE steps after the fault's end, 0 otherwise
Key = tuple[str, int]


class PhaseSplitter:
    """Marks and splits one run's samples by phase; see the module's docstring."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.windows: list[FaultWindow] = open_windows()
        self.serial = last_serial()
        now = time.monotonic()
        self.key: Key = self._key(now)
        self.since = now
        self.started = now
        #: (key the samples before the mark belong to, batch lengths at the mark)
        self.marks: list[tuple[Key, dict[str, int]]] = []
        self.ops = rec.ops
        self.errors: Counter[str] = Counter(rec.result.errors)
        self.stats: dict[str, PhaseStats] = {}
        self.slices: dict[int, AfterSlice] = {}
        self.kept = 0

    def _key(self, now: float) -> Key:
        phase, since_end = phase_at(self.windows, now)
        return (phase, int(since_end / SLICE)) if phase == "after" else (phase, 0)

    def poll(self, now: float | None = None) -> None:
        """Look at the windows; leave a mark if the phase (or the after slice) changed."""
        now = time.monotonic() if now is None else now
        if windows_since(self.serial):
            fresh = windows_since(self.serial)
            self.windows += fresh
            self.serial = max(w.serial for w in fresh)
        key = self._key(now)
        if key != self.key:
            self._settle_counts(self.key)
            self.marks.append((self.key, {n: len(b) for n, b in self.rec.batches.items()}))
            self.stats.setdefault(self.key[0], PhaseStats()).seconds += now - self.since
            self.key, self.since = key, now

    def _settle_counts(self, key: Key) -> None:
        ops, errors = self.rec.ops, Counter(self.rec.result.errors)
        d_ops = ops - self.ops
        d_errors = errors - self.errors
        self.ops, self.errors = ops, errors
        stats = self.stats.setdefault(key[0], PhaseStats())
        stats.operations += d_ops
        stats.errors.update(d_errors)
        if key[0] == "after":
            piece = self._slice(key[1])
            piece.operations += d_ops
            piece.errors.update(d_errors)

    def _slice(self, index: int) -> AfterSlice:
        piece = self.slices.get(index)
        if piece is None:
            piece = self.slices[index] = AfterSlice(index)
        return piece

    def split(self, batch: str, values: Any, fix: Any, into: str | None = None) -> None:
        """Hand ``values`` (the batch ``batch``, as it was at the fold) to the phases, cut at
        the marks, as samples of metric ``into`` (default the batch's own); ``fix`` turns a
        raw piece into what the metric records (the expected-interval correction, or
        nothing)."""
        name = into or batch
        start = 0
        unit = self.rec.result.metric(name).unit
        for key, lengths in [*self.marks, (self.key, {batch: len(values)})]:
            end = min(len(values), lengths.get(batch, 0))
            if end <= start:
                continue
            piece = fix(values[start:end])
            self.stats.setdefault(key[0], PhaseStats()).metric(name, unit).record_many_us(piece)
            if key[0] == "after":
                target = self._slice(key[1])
                if self.kept + len(piece) <= MAX_SLICE_SAMPLES:
                    target.samples.setdefault(name, []).append(piece)
                    self.kept += len(piece)
                else:
                    target.dropped += len(piece)
            start = end

    def folded(self) -> None:
        """The batches were emptied: the marks are spent."""
        self.marks.clear()

    def finish(self) -> None:
        """After the run's last fold: the rest of the counts to the current phase, and the
        phases into the result (none if no window started before the end)."""
        now = time.monotonic()
        self._settle_counts(self.key)
        self.stats.setdefault(self.key[0], PhaseStats()).seconds += now - self.since
        started = [w for w in self.windows if w.started is not None and w.started <= now]
        if not started:
            return
        result = self.rec.result
        for phase in ("before", "during", "after"):
            result.phases[phase] = self.stats.get(phase) or PhaseStats()
        result.after_slices = [self.slices[i] for i in sorted(self.slices)]
        origin = now - (time.perf_counter() - self.rec.window_start)
        result.info["fault_windows"] = [w.describe(origin) for w in started]


async def watch(splitter: PhaseSplitter) -> None:
    """The run's task that polls the windows until it is cancelled, and has the loop look at
    once whenever a window starts or ends (in whatever thread that happens)."""
    loop = asyncio.get_running_loop()

    def now_please(_: FaultWindow) -> None:
        try:
            loop.call_soon_threadsafe(splitter.poll)
        except RuntimeError:  # the loop is closed: the run is over
            pass

    stop = listen(now_please)
    try:
        while True:
            await asyncio.sleep(POLL)
            splitter.poll()
    finally:
        stop()
