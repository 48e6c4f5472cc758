"""The phase split of a run: which fault windows it overlaps, and where each sample goes.

An operation belongs to the phase in which it started: its latency sample, its failure, the
operation itself. So ``during.error_rate`` is the share of the operations sent while the fault
lasted that failed (a request that waited out a database restart and then succeeded counts
as a success *during* it), and ``after(5s)`` covers the operations sent from 5 s after the
fault's end on.

Drivers keep appending to the recorder's batches as always; nothing is timed per sample.
Every :data:`POLL` seconds (and at once whenever a window starts or ends, whatever thread
does it) a task of the run looks at the windows (those known when the run started that had
not ended, and any made while it runs) and, while there are any, leaves a mark: the length of
each batch at that instant. The once-a-second fold cuts each batch at the marks, so a sample's
end is known to within a poll; its start is that end minus the sample (latency runs from the
operation's intended start). A failure is counted at the start the executor gave its operation
(:data:`~pytest_roo.load.recorder.OP_START`; failures counted outside an operation count when
they are counted), an operation when the executor starts it. Runs that overlap no window end
with no phases.
"""

from __future__ import annotations

import asyncio
import math
import time
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
_NAMES = ("before", "during", "after")

#: (phase, slice index): the index counts SLICE steps after the fault's end, 0 otherwise
Key = tuple[str, int]


class PhaseSplitter:
    """Marks and splits one run's samples by phase; see the module's docstring."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        #: the clock of the windows (a test may give another)
        self.clock = time.monotonic
        self.windows: list[FaultWindow] = open_windows()
        self.serial = last_serial()
        now = self.clock()
        self.last_poll = now
        #: since when the batches hold samples that no mark covers
        self.segment_from = now
        #: (from, to, batch lengths at ``to``, its phase if known without looking): the
        #: samples of each segment ended in it
        self.marks: list[tuple[float, float, dict[str, int], str | None]] = []
        self.ops = rec.ops
        self.stats: dict[str, PhaseStats] = {}
        self.slices: dict[int, AfterSlice] = {}
        self.kept = 0

    def key_at(self, at: float) -> Key:
        """The phase (and after slice) of a ``time.monotonic()`` instant."""
        phase, since_end = phase_at(self.windows, at)
        return (phase, int(since_end / SLICE)) if phase == "after" else (phase, 0)

    def _phase(self, key: Key) -> PhaseStats:
        found = self.stats.get(key[0])
        if found is None:
            found = self.stats[key[0]] = PhaseStats()
        return found

    def _slice(self, index: int) -> AfterSlice:
        piece = self.slices.get(index)
        if piece is None:
            piece = self.slices[index] = AfterSlice(index)
        return piece

    def poll(self, now: float | None = None) -> None:
        """Look at the windows; count the operations started since the last look; leave a
        mark while there are windows."""
        now = self.clock() if now is None else now
        fresh = windows_since(self.serial)
        if fresh and not self.windows:
            # what was measured before the first window existed was measured before it
            self.marks.append((self.segment_from, now, self._lengths(), "before"))
            self.segment_from = now
        if fresh:
            self.windows += fresh
            self.serial = max(w.serial for w in fresh)
        key = self.key_at((self.last_poll + now) / 2)
        started = self.rec.ops - self.ops
        self.ops = self.rec.ops
        self._phase(key).operations += started
        self._phase(key).seconds += now - self.last_poll
        if key[0] == "after":
            self._slice(key[1]).operations += started
        self.last_poll = now
        if self.windows:
            self.marks.append((self.segment_from, now, self._lengths(), None))
            self.segment_from = now

    def _lengths(self) -> dict[str, int]:
        return {n: len(b) for n, b in self.rec.batches.items()}

    def error(self, kind: str, count: int, started: float | None) -> None:
        """``count`` failures of ``kind`` of an operation that started at ``started``
        (None: now)."""
        key = self.key_at(self.clock() if started is None else started)
        self._phase(key).errors[kind] += count
        if key[0] == "after":
            self._slice(key[1]).errors[kind] += count

    def split(self, batch: str, values: Any, fix: Any, into: str | None = None) -> None:
        """Hand ``values`` (the batch ``batch`` as it was at the fold, microseconds from each
        operation's start to its end) to the phases of the operations' starts, as samples of
        metric ``into`` (default the batch's own); ``fix`` turns a piece into what the metric
        records (the expected-interval correction, or nothing)."""
        import numpy as np

        name = into or batch
        unit = self.rec.result.metric(name).unit
        now = self.clock()
        begin = 0
        for since, until, lengths, known in [*self.marks, (self.segment_from, now,
                                                           {batch: len(values)}, None)]:
            end = min(len(values), lengths.get(batch, 0))
            if end <= begin:
                continue
            piece = fix(values[begin:end])
            begin = end
            if known is not None or not self.windows:
                self._phase((known or "before", 0)).metric(name, unit).record_many_us(piece)
                continue
            starts = (since + until) / 2 - np.asarray(piece, dtype=np.float64) / 1e6
            codes, indexes = self._keys(starts)
            for code, phase in enumerate(_NAMES):
                chosen = piece[codes == code]
                if not len(chosen):
                    continue
                self._phase((phase, 0)).metric(name, unit).record_many_us(chosen)
                if phase == "after":
                    self._keep_after(name, chosen, indexes[codes == code])

    def _keys(self, starts: Any) -> tuple[Any, Any]:
        """Phase codes (0 before, 1 during, 2 after) and after slice indexes of instants:
        :func:`~pytest_roo.faults.windows.phase_at` on an array."""
        import numpy as np

        during = np.zeros(starts.shape, dtype=bool)
        began = np.zeros(starts.shape, dtype=bool)
        latest_end = np.full(starts.shape, -math.inf)
        for window in self.windows:
            if window.started is None:
                continue
            inside = starts >= window.started
            began |= inside
            end = math.inf if window.ended is None else window.ended
            during |= inside & (starts < end)
            over = starts >= end
            latest_end = np.where(over, np.maximum(latest_end, end), latest_end)
        after = began & ~during & np.isfinite(latest_end)
        codes = np.zeros(starts.shape, dtype=np.int8)
        codes[during] = 1
        codes[after] = 2
        indexes = np.zeros(starts.shape, dtype=np.int64)
        indexes[after] = ((starts[after] - latest_end[after]) / SLICE).astype(np.int64)
        return codes, indexes

    def _keep_after(self, name: str, values: Any, indexes: Any) -> None:
        import numpy as np

        for index in np.unique(indexes):
            chosen = values[indexes == index]
            target = self._slice(int(index))
            if self.kept + len(chosen) <= MAX_SLICE_SAMPLES:
                target.samples.setdefault(name, []).append(chosen)
                self.kept += len(chosen)
            else:
                target.dropped += len(chosen)

    def folded(self) -> None:
        """The batches were emptied: the marks are spent."""
        self.marks.clear()
        self.segment_from = self.clock()

    def finish(self) -> None:
        """After the run's last fold: the phases into the result (none if no window started
        before the end)."""
        now = self.clock()
        started = [w for w in self.windows if w.started is not None and w.started <= now]
        if not started:
            return
        result = self.rec.result
        for phase in _NAMES:
            result.phases[phase] = self.stats.get(phase) or PhaseStats()
        result.after_slices = [self.slices[i] for i in sorted(self.slices)]
        origin = time.monotonic() - (time.perf_counter() - self.rec.window_start)
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
