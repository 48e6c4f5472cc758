"""The result model: LoadResult, what one run measured (operations, errors, latency metrics).

The latency metrics themselves (:class:`LatencyMetric`, HdrHistogram in microseconds or
nanoseconds; all public figures in seconds) are in :mod:`pytest_roo.results.latency` and
re-exported here.

The JSON form is lossless: histograms travel in HdrHistogram's standard compressed base64
encoding, so results from several processes (xdist workers, forked generators) merge exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_roo.results.latency import HIGHEST_US, LOWEST_US, LatencyMetric, merge_metrics
from pytest_roo.results.phases import AfterSlice, PhaseStats, after_delay, phase_label

__all__ = [
    "ERROR_KINDS",
    "HIGHEST_US",
    "LOWEST_US",
    "LatencyMetric",
    "LoadResult",
    "TimelinePoint",
    "add_timelines",
]

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

@dataclasses.dataclass
class TimelinePoint:
    """One second of a run: operations completed, errors (in all and by kind), and the p50, p95
    and p99 latency of that second (of the primary metric)."""

    second: int
    ops: int = 0
    errors: int = 0
    p95: float | None = None
    p50: float | None = None
    p99: float | None = None
    error_kinds: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The point as a JSON-ready dict (one entry of the result's ``timeline``)."""
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
    #: before / during / after the fault windows the run overlapped (empty: none); see
    #: :mod:`pytest_roo.results.phases`
    phases: dict[str, PhaseStats] = dataclasses.field(default_factory=dict)
    #: the ``after`` phase in slices from the fault's end, for ``after(Ns)``
    after_slices: list[AfterSlice] = dataclasses.field(default_factory=list)

    # -- building --

    def metric(self, name: str, unit: str = "us") -> LatencyMetric:
        """The latency metric ``name``, created on first use (the first one becomes primary);
        ``unit`` ("us" or "ns") is what a new one keeps its histogram in."""
        metric = self.metrics.get(name)
        if metric is None:
            metric = self.metrics[name] = LatencyMetric(name, unit)
            if self.primary is None:
                self.primary = name
        return metric

    def add_error(self, kind: str, count: int = 1) -> None:
        """Count ``count`` failed operations of kind ``kind``."""
        self.errors[kind] += count

    # -- reading --

    @property
    def error_count(self) -> int:
        """Failed operations, all kinds together."""
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        """Failed operations / attempted operations; NaN when nothing was attempted."""
        if self.operations <= 0:
            return math.nan
        return min(1.0, self.error_count / self.operations)

    @property
    def success_rate(self) -> float:
        """1 - :attr:`error_rate`; NaN when nothing was attempted."""
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

    def phase(self, name: str, delay: float = 0.0) -> LoadResult | None:
        """What the run measured in one phase (``before``, ``during``, ``after``), as a result
        of its own; ``delay`` > 0: the ``after`` phase from that many seconds after the fault's
        end. None when the run overlapped no fault window. ``info["dropped_samples"]`` counts
        samples of ``after(Ns)`` that were not kept."""
        if not self.phases:
            return None
        if delay > 0:
            if name != "after":
                raise ValueError(f"only the after phase takes a delay, not {name!r}")
            units = {n: m.unit for n, m in self.metrics.items()}
            stats, dropped = after_delay(self.after_slices, delay, units)
        else:
            stats, dropped = self.phases.get(name) or PhaseStats(), 0
        # operations are counted where they start to within a poll, failures exactly: an
        # operation started at a phase's edge can land on the other side of it than its failure
        operations = max(stats.operations, sum(stats.errors.values()))
        view = LoadResult(name=f"{self.name} [{phase_label(name, delay)}]",
                          started_at=self.started_at, duration=stats.seconds,
                          operations=operations, errors=Counter(stats.errors),
                          primary=self.primary, saturated=self.saturated)
        for metric_name, metric in self.metrics.items():
            view.metrics[metric_name] = stats.metrics.get(metric_name) or LatencyMetric(
                metric_name, metric.unit)
        for key in ("census", "error_examples"):
            if key in self.info:
                view.info[key] = self.info[key]
        if dropped:
            view.info["dropped_samples"] = dropped
        return view

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
        merged.metrics.update(merge_metrics(self.metrics, other.metrics))
        for key in set(self.generator) | set(other.generator):
            merged.generator[key] = max(self.generator.get(key, 0.0), other.generator.get(key, 0.0))
        merged.timeline = add_timelines((round(result.started_at - start), result.timeline)
                                        for result in (self, other))
        for name in dict.fromkeys([*self.phases, *other.phases]):
            mine_p, theirs_p = self.phases.get(name), other.phases.get(name)
            merged.phases[name] = (mine_p.merge(theirs_p) if mine_p and theirs_p
                                   else (mine_p or theirs_p or PhaseStats()).merge(PhaseStats()))
        merged.after_slices = sorted([*self.after_slices, *other.after_slices],
                                     key=lambda piece: piece.index)
        return merged

    # -- JSON --

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: counts, each metric's compressed histogram (lossless) and its summary in
        seconds, the timeline, counters and info; :meth:`from_dict` reads it back."""
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
                    "unit": metric.unit,
                    "summary": {k: _finite_or_none(float(v)) for k, v in metric.summary().items()},
                }
                for name, metric in self.metrics.items()
            },
            "timeline": [point.to_dict() for point in self.timeline],
            "counters": dict(self.counters),
            "saturated": self.saturated,
            "generator": dict(self.generator),
            "info": self.info,
            **({"phases": {name: stats.to_dict() for name, stats in self.phases.items()},
                "after_slices": [piece.to_dict() for piece in self.after_slices]}
               if self.phases else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadResult:
        """The result :meth:`to_dict` wrote; ValueError for another schema, KeyError for a missing
        required field."""
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
                name: LatencyMetric.decode(name, body["hdr"], body.get("unit", "us"))
                for name, body in data.get("metrics", {}).items()
            },
            primary=data.get("primary"),
            timeline=[TimelinePoint(**point) for point in data.get("timeline", [])],
            counters=Counter({k: int(v) for k, v in data.get("counters", {}).items()}),
            saturated=data.get("saturated"),
            generator={k: float(v) for k, v in data.get("generator", {}).items()},
            info=dict(data.get("info", {})),
            phases={name: PhaseStats.from_dict(body)
                    for name, body in data.get("phases", {}).items()},
            after_slices=[AfterSlice.from_dict(body) for body in data.get("after_slices", [])],
        )

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text, keys sorted."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LoadResult:
        """The result :meth:`to_json` wrote; ValueError for text that is not JSON or of another
        schema."""
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
        unit: str = "us",
    ) -> LoadResult:
        """A result from plain latency samples in seconds (e.g. pytest-benchmark's rounds),
        kept in ``unit`` ("us", or "ns" for sub-microsecond timings), rounded to the nearest."""
        import numpy as np

        samples = np.asarray(list(seconds), dtype=np.float64)
        result = cls(name=name)
        result.metric(metric, unit).record_seconds(samples)
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


def add_timelines(
    shifted: Iterable[tuple[int, Iterable[TimelinePoint]]],
) -> list[TimelinePoint]:
    """Timelines keyed by absolute second, each given with its offset in seconds: ops, errors
    and error kinds add; a percentile of a second is the larger of the parts' (an upper bound:
    per-second histograms are not kept)."""
    by_second: dict[int, TimelinePoint] = {}
    for offset, timeline in shifted:
        for point in timeline:
            second = point.second + offset
            slot = by_second.setdefault(second, TimelinePoint(second))
            slot.ops += point.ops
            slot.errors += point.errors
            for kind, count in point.error_kinds.items():
                slot.error_kinds[kind] = slot.error_kinds.get(kind, 0) + count
            for stat in ("p50", "p95", "p99"):
                mine, theirs = getattr(slot, stat), getattr(point, stat)
                if theirs is not None:
                    setattr(slot, stat, theirs if mine is None else max(mine, theirs))
    return [by_second[s] for s in sorted(by_second)]


def _finite_or_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value
