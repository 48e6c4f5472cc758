"""The result model: LoadResult and its HdrHistogram latency metrics.

Latencies are kept in microseconds in an HdrHistogram (1 us .. 1 h, 3 significant digits).
Samples are appended to a plain ``array('q')`` on the hot path and folded into the histogram in
bulk with numpy, so recording costs a list append, not a Python histogram call per sample.
Everything the public API returns is seconds as floats.

The JSON form is lossless: histograms travel in HdrHistogram's standard compressed base64
encoding, so results from several processes (xdist workers, forked generators) merge exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

__all__ = [
    "ERROR_KINDS",
    "HIGHEST_US",
    "LOWEST_US",
    "LatencyMetric",
    "LoadResult",
    "TimelinePoint",
]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
SCHEMA = "pytest-roo/load-result/v1"

#: Error kinds the drivers use; any other short name is allowed too.
ERROR_KINDS = (
    "timeout",
    "refused",
    "closed",
    "reset",
    "http_4xx",
    "http_5xx",
    "assertion",
    "mismatch",
    "lost",
    "duplicate",
    "protocol",
    "dropped",
    "other",
)

_FLUSH_AT = 65536


def _new_histogram() -> HdrHistogram:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


class LatencyMetric:
    """A named latency distribution. Record with :meth:`record` (seconds) or the ``*_us`` calls.

    >>> m = LatencyMetric("rtt")
    >>> for ms in (1, 2, 3, 4, 100):
    ...     m.record(ms / 1000)
    >>> m.count, round(m.percentile(50) * 1000, 1), round(m.max * 1000)
    (5, 3.0, 100)
    """

    __slots__ = ("_clipped", "_hist", "_pending", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._hist: HdrHistogram | None = None
        self._pending = array("q")
        self._clipped = 0

    # -- recording (hot path: appends only) --

    def record(self, seconds: float) -> None:
        """Record one sample of ``seconds``."""
        self._pending.append(int(seconds * 1_000_000))
        if len(self._pending) >= _FLUSH_AT:
            self.flush()

    def record_us(self, micros: int) -> None:
        """Record one sample of ``micros`` microseconds."""
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
        """Fold the pending samples into the histogram."""
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
        too_big = values > HIGHEST_US
        if too_big.any():
            self._clipped += int(too_big.sum())
            values = np.minimum(values, HIGHEST_US)
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
            self._hist = _new_histogram()
        return self._hist

    @property
    def histogram(self) -> HdrHistogram:
        """The underlying HdrHistogram (microseconds), with pending samples folded in."""
        self.flush()
        return self._histogram_no_flush()

    # -- reading (seconds) --

    @property
    def count(self) -> int:
        """How many samples were recorded."""
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
        return float(hist.get_value_at_percentile(p)) / 1e6

    @property
    def min(self) -> float:
        """The smallest sample in seconds (NaN without samples)."""
        hist = self.histogram
        return math.nan if hist.total_count == 0 else float(hist.get_min_value()) / 1e6

    @property
    def max(self) -> float:
        """The largest sample in seconds (NaN without samples)."""
        hist = self.histogram
        return math.nan if hist.total_count == 0 else float(hist.get_max_value()) / 1e6

    @property
    def mean(self) -> float:
        """The mean in seconds (NaN without samples)."""
        hist = self.histogram
        return math.nan if hist.total_count == 0 else float(hist.get_mean_value()) / 1e6

    @property
    def stdev(self) -> float:
        """The standard deviation in seconds (NaN without samples)."""
        hist = self.histogram
        return math.nan if hist.total_count == 0 else float(hist.get_stddev()) / 1e6

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
        merged = LatencyMetric(self.name)
        merged._hist = _new_histogram()
        merged._hist.add(self.histogram)
        merged._hist.add(other.histogram)
        merged._clipped = self._clipped + other._clipped
        return merged

    def encode(self) -> str:
        """HdrHistogram's standard compressed base64 encoding ("HISTFAA...")."""
        return str(self.histogram.encode().decode("ascii"))

    @classmethod
    def decode(cls, name: str, encoded: str) -> LatencyMetric:
        """A metric from its encoded HdrHistogram (as :meth:`encode` writes it)."""
        from hdrh.histogram import HdrHistogram

        metric = cls(name)
        metric._hist = _new_histogram()
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


@dataclasses.dataclass
class TimelinePoint:
    """One second of a run: operations completed, errors, and the p95 latency of that second."""

    second: int
    ops: int = 0
    errors: int = 0
    p95: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The point as plain data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class LoadResult:
    """What one load run measured.

    ``operations`` counts attempted operations (successful + failed); ``errors`` counts failures
    by kind. Latency metrics are named (``rtt``, ``connect``, ``delivery``...); ``primary`` names
    the one a criterion without a ``metric.`` prefix refers to. ``counters`` holds other named
    counts (late sends, dropped sends, messages sent, bytes). ``saturated`` is set, with the
    reason, when the load generator itself was the bottleneck.
    """

    name: str
    started_at: float = dataclasses.field(default_factory=time.time)
    duration: float = 0.0
    operations: int = 0
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    metrics: dict[str, LatencyMetric] = dataclasses.field(default_factory=dict)
    primary: str | None = None
    timeline: list[TimelinePoint] = dataclasses.field(default_factory=list)
    counters: Counter[str] = dataclasses.field(default_factory=Counter)
    saturated: str | None = None
    generator: dict[str, float] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    # -- building --

    def metric(self, name: str) -> LatencyMetric:
        """The latency metric ``name``, created on first use (the first one becomes primary)."""
        metric = self.metrics.get(name)
        if metric is None:
            metric = self.metrics[name] = LatencyMetric(name)
            if self.primary is None:
                self.primary = name
        return metric

    def add_error(self, kind: str, count: int = 1) -> None:
        """Count ``count`` errors of kind ``kind``."""
        self.errors[kind] += count

    # -- reading --

    @property
    def error_count(self) -> int:
        """The number of errors of every kind."""
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        """Failed operations / attempted operations; NaN when nothing was attempted."""
        if self.operations <= 0:
            return math.nan
        return min(1.0, self.error_count / self.operations)

    @property
    def success_rate(self) -> float:
        """1 - error_rate (NaN without operations)."""
        rate = self.error_rate
        return math.nan if math.isnan(rate) else 1.0 - rate

    @property
    def throughput(self) -> float:
        """Successful operations per second of the run."""
        if self.duration <= 0:
            return math.nan
        return max(0, self.operations - self.error_count) / self.duration

    def get_metric(self, name: str | None = None) -> LatencyMetric:
        """The named metric, or the primary one. KeyError lists the metrics there are."""
        key = name or self.primary
        if key is None or key not in self.metrics:
            have = ", ".join(sorted(self.metrics)) or "none"
            wanted = name or "(primary)"
            raise KeyError(f"result {self.name!r} has no latency metric {wanted!r} (has: {have})")
        return self.metrics[key]

    def percentile(self, metric: str | None, p: float) -> float:
        """``result.percentile("rtt", 95)`` -> seconds."""
        return self.get_metric(metric).percentile(p)

    # -- combining --

    def merge(self, other: LoadResult) -> LoadResult:
        """Both results as one: counts added, histograms merged exactly, timelines aligned."""
        start = min(self.started_at, other.started_at)
        end = max(self.started_at + self.duration, other.started_at + other.duration)
        merged = LoadResult(
            name=self.name,
            started_at=start,
            duration=end - start,
            operations=self.operations + other.operations,
            errors=self.errors + other.errors,
            primary=self.primary or other.primary,
            counters=self.counters + other.counters,
            saturated=self.saturated or other.saturated,
            info={**other.info, **self.info},
        )
        for name in list(dict.fromkeys([*self.metrics, *other.metrics])):
            mine, theirs = self.metrics.get(name), other.metrics.get(name)
            if mine is not None and theirs is not None:
                merged.metrics[name] = mine.merge(theirs)
            else:
                only = mine or theirs
                assert only is not None
                merged.metrics[name] = only.merge(LatencyMetric(name))
        for key in set(self.generator) | set(other.generator):
            merged.generator[key] = max(self.generator.get(key, 0.0), other.generator.get(key, 0.0))
        # Timelines are keyed by absolute second; ops and errors add, p95 of a second is the
        # larger of the parts' (an upper bound: per-second histograms are not kept).
        by_second: dict[int, TimelinePoint] = {}
        for result in (self, other):
            offset = round(result.started_at - start)
            for point in result.timeline:
                second = point.second + offset
                slot = by_second.setdefault(second, TimelinePoint(second))
                slot.ops += point.ops
                slot.errors += point.errors
                if point.p95 is not None:
                    slot.p95 = point.p95 if slot.p95 is None else max(slot.p95, point.p95)
        merged.timeline = [by_second[s] for s in sorted(by_second)]
        return merged

    # -- JSON --

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (schema pytest-roo/result/v1 with encoded histograms)."""
        return {
            "schema": SCHEMA,
            "name": self.name,
            "started_at": self.started_at,
            "duration": self.duration,
            "operations": self.operations,
            "errors": dict(self.errors),
            "error_rate": _finite_or_none(self.error_rate),
            "throughput": _finite_or_none(self.throughput),
            "primary": self.primary,
            "metrics": {
                name: {
                    "hdr": metric.encode(),
                    "unit": "us",
                    "summary": {k: _finite_or_none(float(v)) for k, v in metric.summary().items()},
                }
                for name, metric in self.metrics.items()
            },
            "timeline": [point.to_dict() for point in self.timeline],
            "counters": dict(self.counters),
            "saturated": self.saturated,
            "generator": dict(self.generator),
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadResult:
        """A result from :meth:`to_dict`'s data; an unknown schema is a ValueError."""
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise ValueError(f"unknown LoadResult schema {schema!r}; expected {SCHEMA!r}")
        return cls(
            name=data["name"],
            started_at=float(data["started_at"]),
            duration=float(data["duration"]),
            operations=int(data["operations"]),
            errors=Counter({k: int(v) for k, v in data.get("errors", {}).items()}),
            metrics={
                name: LatencyMetric.decode(name, body["hdr"])
                for name, body in data.get("metrics", {}).items()
            },
            primary=data.get("primary"),
            timeline=[TimelinePoint(**point) for point in data.get("timeline", [])],
            counters=Counter({k: int(v) for k, v in data.get("counters", {}).items()}),
            saturated=data.get("saturated"),
            generator={k: float(v) for k, v in data.get("generator", {}).items()},
            info=dict(data.get("info", {})),
        )

    def to_json(self) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LoadResult:
        """A result from :meth:`to_json`'s text."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_samples(
        cls,
        name: str,
        seconds: Iterable[float],
        *,
        metric: str = "latency",
        errors: Mapping[str, int] | None = None,
        duration: float | None = None,
    ) -> LoadResult:
        """A result from plain latency samples in seconds (e.g. pytest-benchmark's rounds)."""
        import numpy as np

        samples = np.asarray(list(seconds), dtype=np.float64)
        result = cls(name=name)
        result.metric(metric).record_many_us((samples * 1e6).astype(np.int64))
        result.errors.update(errors or {})
        result.operations = int(samples.size) + result.error_count
        result.duration = float(samples.sum()) if duration is None else duration
        return result

    def __repr__(self) -> str:
        metrics = ", ".join(self.metrics) or "none"
        return (
            f"<LoadResult {self.name!r} ops={self.operations} errors={self.error_count} "
            f"duration={self.duration:.2f}s metrics=[{metrics}]"
            + (f" SATURATED: {self.saturated}" if self.saturated else "")
            + ">"
        )


def _finite_or_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value
