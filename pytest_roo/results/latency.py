"""A latency distribution: :class:`LatencyMetric`, an HdrHistogram of one named latency.

Latencies are kept in microseconds in an HdrHistogram (1 us .. 1 h, 3 significant digits), or in
nanoseconds for a metric made with ``unit="ns"`` (pytest-benchmark's rounds of sub-microsecond
calls, which microseconds would round to 1 us).
Samples are appended to a plain ``array('q')`` on the hot path and folded into the histogram in
bulk with numpy, so recording costs a list append, not a Python histogram call per sample.
Everything the public API returns is seconds as floats.
:meth:`LatencyMetric.encode` gives HdrHistogram's standard compressed base64 form, so metrics
from several processes merge exactly.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

__all__ = ["HIGHEST_US", "LOWEST_US", "TICKS_PER_SECOND", "LatencyMetric", "merge_metrics"]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3

_FLUSH_AT = 65536


#: What one histogram value is, per unit a metric can be kept in.
TICKS_PER_SECOND = {"us": 1_000_000, "ns": 1_000_000_000}


def recorded_buckets(hist: HdrHistogram) -> tuple[Any, Any, Any]:
    """(counts, lowest values, widths) of the histogram's non-empty buckets in value order, as
    numpy int64 arrays: HdrHistogram's get_value_from_index and bucket width, vectorised (its
    recorded-values iterator takes a Python step per bucket, about half a second for a few
    thousand samples)."""
    import numpy as np

    counts = np.frombuffer(hist.counts, dtype=np.int64)[: hist.counts_len]
    (index,) = np.nonzero(counts)
    bucket = (index >> hist.sub_bucket_half_count_magnitude) - 1
    sub_bucket = (index & (hist.sub_bucket_half_count - 1)) + hist.sub_bucket_half_count
    first = bucket < 0  # the first bucket uses its lower half too
    sub_bucket = np.where(first, sub_bucket - hist.sub_bucket_half_count, sub_bucket)
    bucket = np.where(first, 0, bucket)
    lowest = sub_bucket << (bucket + hist.unit_magnitude)
    width = np.int64(1) << (bucket + hist.unit_magnitude)
    return counts[index], lowest, width


def _new_histogram(unit: str = "us") -> HdrHistogram:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(LOWEST_US, _highest(unit), SIGNIFICANT_DIGITS)


def _highest(unit: str) -> int:
    return HIGHEST_US * (TICKS_PER_SECOND[unit] // TICKS_PER_SECOND["us"])  # one hour


class LatencyMetric:
    """A named latency distribution. Record with :meth:`record` (seconds) or the ``*_us`` calls.

    >>> m = LatencyMetric("rtt")
    >>> for ms in (1, 2, 3, 4, 100):
    ...     m.record(ms / 1000)
    >>> m.count, round(m.percentile(50) * 1000, 1), round(m.max * 1000)
    (5, 3.0, 100)
    """

    __slots__ = ("_clipped", "_hist", "_pending", "_ticks", "name", "unit")

    def __init__(self, name: str, unit: str = "us") -> None:
        if unit not in TICKS_PER_SECOND:
            raise ValueError(f"LatencyMetric unit must be 'us' or 'ns', got {unit!r}")
        self.name = name
        #: what a histogram value counts: "us" (the default) or "ns"; the ``*_us`` calls take
        #: values in this unit
        self.unit = unit
        self._ticks = TICKS_PER_SECOND[unit]
        self._hist: HdrHistogram | None = None
        self._pending = array("q")
        self._clipped = 0

    # -- recording (hot path: appends only) --

    def record(self, seconds: float) -> None:
        """Record one sample of ``seconds`` (truncated to a tick of :attr:`unit`); the hot path:
        an append, folded in batches."""
        self._pending.append(int(seconds * self._ticks))
        if len(self._pending) >= _FLUSH_AT:
            self.flush()

    def record_us(self, micros: int) -> None:
        """Record one sample given in ticks of :attr:`unit` (microseconds unless made with
        ``unit="ns"``); the hot path: an append, folded in batches."""
        self._pending.append(micros)
        if len(self._pending) >= _FLUSH_AT:
            self.flush()

    def record_many_us(self, values: Iterable[int] | array[int] | Any) -> None:
        """Fold a batch of microsecond samples (an ``array('q')``, list or numpy array)."""
        import numpy as np

        self._fold(np.asarray(values, dtype=np.int64))

    def record_corrected_us(self, micros: int, expected_interval_us: int) -> None:
        """Record with coordinated-omission correction (HdrHistogram's expected interval).

        For closed-loop runs: a sample longer than the interval at which requests should have
        gone out stands for the requests that could not be sent meanwhile, so the samples
        ``micros - k * interval`` are back-filled.
        """
        self.record_us(micros)
        if expected_interval_us <= 0 or micros <= expected_interval_us:
            return
        import numpy as np

        missing = np.arange(micros - expected_interval_us, expected_interval_us - 1,
                            -expected_interval_us, dtype=np.int64)
        self._fold(missing)

    def flush(self) -> None:
        """Fold the samples still pending into the histogram (reads do it themselves)."""
        if self._pending:
            import numpy as np

            pending, self._pending = self._pending, array("q")
            self._fold(np.frombuffer(pending, dtype=np.int64))

    def _fold(self, values: Any) -> None:
        import numpy as np

        if values.size == 0:
            return
        hist = self._histogram_no_flush()
        values = values[values >= 0]
        highest = _highest(self.unit)
        too_big = values > highest
        if too_big.any():
            self._clipped += int(too_big.sum())
            values = np.minimum(values, highest)
        values = np.maximum(values, LOWEST_US)
        # HdrHistogram's index arithmetic, vectorised (see HdrHistogram._counts_index_for).
        mask = hist.sub_bucket_mask
        _, bit_length = np.frexp((values | mask).astype(np.float64))
        bucket = bit_length.astype(np.int64) - hist.unit_magnitude - (
            hist.sub_bucket_half_count_magnitude + 1
        )
        sub_bucket = values >> (bucket + hist.unit_magnitude)
        index = ((bucket + 1) << hist.sub_bucket_half_count_magnitude) + (
            sub_bucket - hist.sub_bucket_half_count
        )
        counts = np.frombuffer(hist.counts, dtype=np.int64)  # a view, no copy
        counts += np.bincount(index, minlength=hist.counts_len)[: hist.counts_len]
        hist.total_count += int(values.size)
        hist.min_value = min(hist.min_value, int(values.min()))
        hist.max_value = max(hist.max_value, int(values.max()))

    def _histogram_no_flush(self) -> HdrHistogram:
        if self._hist is None:
            self._hist = _new_histogram(self.unit)
        return self._hist

    @property
    def histogram(self) -> HdrHistogram:
        """The underlying HdrHistogram (values in :attr:`unit`), pending samples folded in."""
        self.flush()
        return self._histogram_no_flush()

    @property
    def seconds_per_tick(self) -> float:
        """What one histogram value is in seconds: 1e-6 (``us``) or 1e-9 (``ns``)."""
        return 1.0 / self._ticks

    def record_seconds(self, values: Iterable[float] | Any) -> None:
        """Fold a batch of samples in seconds, rounded to the nearest tick of :attr:`unit` (not
        truncated: 181.9 ns is 182 ns)."""
        import numpy as np

        seconds = np.asarray(values, dtype=np.float64)
        self._fold(np.rint(seconds * self._ticks).astype(np.int64))

    def microsecond_histogram(self) -> HdrHistogram:
        """The distribution as a microsecond histogram (what the report's charts draw): the
        histogram itself for ``us``, a copy with values rounded to whole microseconds (at least
        1) for ``ns``."""
        hist = self.histogram
        if self.unit == "us":
            return hist
        out = _new_histogram()
        for item in hist.get_recorded_iterator():
            value = max(LOWEST_US, min(HIGHEST_US, round(item.value_iterated_to / 1000)))
            out.record_value(value, item.count_at_value_iterated_to)
        return out

    # -- reading (seconds) --

    @property
    def count(self) -> int:
        """The number of samples recorded."""
        return int(self.histogram.total_count)

    @property
    def clipped(self) -> int:
        """Samples above one hour, recorded as one hour."""
        return self._clipped

    def percentile(self, p: float) -> float:
        """The value at percentile ``p`` (0..100) in seconds; NaN when there are no samples."""
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"percentile must be between 0 and 100, got {p!r}")
        hist = self.histogram
        if hist.total_count == 0:
            return math.nan
        return float(hist.get_value_at_percentile(p)) / self._ticks

    @property
    def min(self) -> float:
        """The smallest sample in seconds; NaN when there are none."""
        hist = self.histogram
        return math.nan if hist.total_count == 0 else float(hist.get_min_value()) / self._ticks

    @property
    def max(self) -> float:
        """The largest sample in seconds (at most one hour); NaN when there are none."""
        hist = self.histogram
        return math.nan if hist.total_count == 0 else float(hist.get_max_value()) / self._ticks

    @property
    def mean(self) -> float:
        """The mean in seconds; NaN when there are no samples."""
        return self._moments()[0] / self._ticks

    @property
    def stdev(self) -> float:
        """The standard deviation in seconds; NaN when there are no samples."""
        return self._moments()[1] / self._ticks

    def _moments(self) -> tuple[float, float]:
        """(mean, standard deviation) in histogram values, as HdrHistogram's get_mean_value and
        get_stddev compute them (every bucket at its median equivalent value), from the counts
        array with numpy: HdrHistogram's Python iterator takes about half a second for a few
        thousand samples, and every result a suite reports has its summary."""
        import numpy as np

        hist = self.histogram
        if hist.total_count == 0:
            return math.nan, math.nan
        weights, lowest, width = recorded_buckets(hist)
        median = lowest + (width >> 1)
        # exact integer total, as HdrHistogram's (int64 products could overflow in ns)
        total = sum(c * v for c, v in zip(weights.tolist(), median.tolist(), strict=True))
        mean = float(total) / hist.total_count
        deviation = median.astype(np.float64) - mean
        variance = float(np.sum(deviation * deviation * weights)) / hist.total_count
        return mean, math.sqrt(variance)

    def summary(self) -> dict[str, float | int]:
        """count, min, mean, p50..p99.9, max (seconds) — what reports print."""
        out: dict[str, float | int] = {"count": self.count}
        if self.count:
            out.update(min=self.min, mean=self.mean, stdev=self.stdev)
            for p in (50, 75, 90, 95, 99, 99.9):
                out[f"p{p:g}"] = self.percentile(p)
            out["max"] = self.max
        return out

    # -- combining and serialising --

    def merge(self, other: LatencyMetric) -> LatencyMetric:
        """A new metric holding both distributions (exact: counts are added bucket by bucket)."""
        if other.unit != self.unit:
            raise ValueError(
                f"cannot merge metric {self.name!r} kept in {self.unit} with one kept in "
                f"{other.unit}: record both in the same unit"
            )
        merged = LatencyMetric(self.name, self.unit)
        merged._hist = _new_histogram(self.unit)
        merged._hist.add(self.histogram)
        merged._hist.add(other.histogram)
        merged._clipped = self._clipped + other._clipped
        return merged

    def encode(self) -> str:
        """HdrHistogram's standard compressed base64 encoding ("HISTFAA...")."""
        return str(self.histogram.encode().decode("ascii"))

    @classmethod
    def decode(cls, name: str, encoded: str, unit: str = "us") -> LatencyMetric:
        """A metric named ``name`` holding the distribution :meth:`encode` wrote (values in
        ``unit``); an empty string gives an empty metric."""
        from hdrh.histogram import HdrHistogram

        metric = cls(name, unit)
        metric._hist = _new_histogram(unit)
        if encoded:
            metric._hist.add(HdrHistogram.decode(encoded))
        return metric

    def __repr__(self) -> str:
        if not self.count:
            return f"<LatencyMetric {self.name} empty>"
        return (
            f"<LatencyMetric {self.name} n={self.count} p50={self.percentile(50) * 1e3:.3f}ms "
            f"p95={self.percentile(95) * 1e3:.3f}ms max={self.max * 1e3:.3f}ms>"
        )


def merge_metrics(ours: dict[str, LatencyMetric],
                  theirs: dict[str, LatencyMetric]) -> dict[str, LatencyMetric]:
    """Both sets of metrics as one, by name (ours first): histograms of the same name merged,
    a metric only one side has copied (never shared with its source)."""
    merged: dict[str, LatencyMetric] = {}
    for name in dict.fromkeys([*ours, *theirs]):
        mine, other = ours.get(name), theirs.get(name)
        if mine is not None and other is not None:
            merged[name] = mine.merge(other)
        else:
            only = mine or other
            assert only is not None
            merged[name] = only.merge(LatencyMetric(name, only.unit))
    return merged
