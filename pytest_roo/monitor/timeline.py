"""The resource timeline: named series of samples, JSON-ready, mergeable across monitors.

A series is identified by ``source/name``: ``total/rss`` (the whole monitored process tree),
``pid:1234/rss`` (one process), ``system/cpu`` (the whole machine), ``generator/cpu`` (the process running the load, kept apart),
``metrics/<alias>`` (a Prometheus series of the target). Times are seconds since the timeline's
``started_at`` (Unix time), values are floats, None where a sample was missed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["SCHEMA", "UNITS", "Series", "Timeline"]

SCHEMA = "pytest-roo/resources/v1"

#: the unit of each process metric (Prometheus series carry "" unless configured)
UNITS = {
    "rss": "bytes",
    "uss": "bytes",
    "cpu": "percent",  # of one core: 250 = two and a half cores busy
    "threads": "count",
    "fds": "count",
    "sockets": "count",
    "processes": "count",
}
#: metrics whose total over processes is a sum (all of UNITS)
SUMMED = frozenset(UNITS)


@dataclasses.dataclass
class Series:
    """The values of one measure of one source over time."""

    name: str
    source: str
    unit: str = ""
    times: list[float] = dataclasses.field(default_factory=list)
    values: list[float | None] = dataclasses.field(default_factory=list)

    @property
    def key(self) -> str:
        """``<source>/<name>``: the series' key in its timeline."""
        return f"{self.source}/{self.name}"

    def append(self, t: float, value: float | None) -> None:
        """Add a value (None when the sample is missing) at ``t`` seconds."""
        self.times.append(t)
        self.values.append(value)

    def points(self) -> list[tuple[float, float]]:
        """(time, value) of the samples that have a value."""
        return [(t, v) for t, v in zip(self.times, self.values, strict=True) if v is not None]

    def finite(self) -> tuple[list[float], list[float]]:
        """Times and values without the missed samples, ready for the judge functions."""
        points = self.points()
        return [t for t, _ in points], [v for _, v in points]

    def between(self, start: float | None = None, end: float | None = None) -> Series:
        """The samples with ``start <= t < end`` (open ends when None)."""
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        keep = [(t, v) for t, v in zip(self.times, self.values, strict=True) if lo <= t < hi]
        return Series(self.name, self.source, self.unit, [t for t, _ in keep],
                      [v for _, v in keep])

    def to_dict(self) -> dict[str, Any]:
        """The series as plain data (non-finite values become None)."""
        return {
            "name": self.name,
            "source": self.source,
            "unit": self.unit,
            "times": [round(t, 4) for t in self.times],
            "values": [None if v is None or not math.isfinite(v) else v for v in self.values],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Series:
        """A series from :meth:`to_dict`'s data."""
        return cls(str(data["name"]), str(data["source"]), str(data.get("unit", "")),
                   [float(t) for t in data.get("times", [])],
                   [None if v is None else float(v) for v in data.get("values", [])])


@dataclasses.dataclass
class Timeline:
    """What a monitor sampled. ``marks`` name instants (``load_start``, ``load_end``) in the same
    time base; ``processes`` maps ``pid:N`` to the process name (never its command line, which
    may hold a password); ``info`` holds the sampler's own figures (ticks, missed ticks, the cost
    of a sample, scrape errors)."""

    started_at: float
    interval: float
    series: dict[str, Series] = dataclasses.field(default_factory=dict)
    marks: dict[str, float] = dataclasses.field(default_factory=dict)
    processes: dict[str, str] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, series: Series) -> Series:
        """Add ``series`` unless one with its key is there; return the timeline's series of that
        key."""
        return self.series.setdefault(series.key, series)

    def get(self, name: str, source: str = "total") -> Series:
        """``timeline.get("rss")`` is the tree's total RSS; KeyError lists what there is."""
        key = f"{source}/{name}"
        if key not in self.series:
            have = ", ".join(sorted(self.series)) or "none"
            raise KeyError(f"timeline has no series {key!r} (has: {have})")
        return self.series[key]

    def names(self, source: str = "total") -> list[str]:
        """The names of the series of ``source``, sorted."""
        return sorted(s.name for s in self.series.values() if s.source == source)

    @property
    def duration(self) -> float:
        """Seconds from the start to the last sample of any series."""
        ends = [s.times[-1] for s in self.series.values() if s.times]
        return max(ends) if ends else 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        """Per total / metrics series: samples, max, mean, last (what a report row shows)."""
        from pytest_roo.monitor.trend import summarize

        out: dict[str, dict[str, float]] = {}
        for key, series in sorted(self.series.items()):
            if series.source in ("total", "metrics", "generator", "system"):
                times, values = series.finite()
                if values:
                    out[key] = summarize(times, values)
        return out

    # -- JSON --

    def to_dict(self) -> dict[str, Any]:
        """The timeline as plain data (schema pytest-roo/resources/v1)."""
        return {
            "schema": SCHEMA,
            "started_at": self.started_at,
            "interval": self.interval,
            "marks": dict(self.marks),
            "processes": dict(self.processes),
            "info": dict(self.info),
            "series": [s.to_dict() for s in self.series.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timeline:
        """A timeline from :meth:`to_dict`'s data; an unknown schema is a ValueError."""
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise ValueError(f"unknown resources schema {schema!r}; expected {SCHEMA!r}")
        timeline = cls(float(data["started_at"]), float(data["interval"]),
                       marks={k: float(v) for k, v in data.get("marks", {}).items()},
                       processes=dict(data.get("processes", {})),
                       info=dict(data.get("info", {})))
        for item in data.get("series", []):
            timeline.add(Series.from_dict(item))
        return timeline

    # -- merging --

    def merge(self, *others: Timeline) -> Timeline:
        """One timeline from several monitors (other processes, other hosts' exporters).

        Per-process, generator and metrics series are united (the same key: samples of both, in
        time order). Totals are recomputed per ``interval`` slot as the sum over processes of
        each process's last value in the slot (carried one slot at most), so watching the same
        process twice does not count it twice; the containers a monitor watched beside its
        processes (``container:<name>`` series) count into those sums as the monitor counted
        them. A timeline without per-process series contributes its totals as they are.
        """
        parts = [self, *others]
        start = min(p.started_at for p in parts)
        interval = min(p.interval for p in parts)
        merged = Timeline(start, interval)
        contributors: dict[str, list[Series]] = {}
        recounted: set[str] = set()  # container sources whose share is summed again here
        for part in parts:
            shift = part.started_at - start
            has_processes = any(s.source.startswith("pid:") for s in part.series.values())
            for key, series in part.series.items():
                moved = Series(series.name, series.source, series.unit,
                               [t + shift for t in series.times], list(series.values))
                if has_processes and series.source.startswith("container:"):
                    recounted.add(series.source)
                if series.source == "total":
                    if not has_processes:
                        tag = f"total@{id(part)}"
                        contributors.setdefault(series.name, []).append(
                            dataclasses.replace(moved, source=tag))
                    continue
                target = merged.series.get(key)
                if target is None:
                    merged.series[key] = moved
                else:
                    _unite(target, moved)
            for mark, t in part.marks.items():
                merged.marks.setdefault(mark, t + shift)
            merged.processes.update(part.processes)
            merged.info.setdefault("parts", []).append(dict(part.info))
        for series in list(merged.series.values()):
            if series.source.startswith("pid:") and series.name in SUMMED:
                contributors.setdefault(series.name, []).append(series)
            if series.source.startswith("pid:") and series.name == "rss":
                alive = Series("processes", series.source, "count", list(series.times),
                               [None if v is None else 1.0 for v in series.values])
                contributors.setdefault("processes", []).append(alive)
            if series.source in recounted and (series.name in SUMMED):
                # rss, cpu and processes (a container's own count of its processes)
                contributors.setdefault(series.name, []).append(series)
        for name, members in contributors.items():
            total = _slot_sum(name, members, interval)
            merged.series[total.key] = total
        return merged


def _unite(target: Series, other: Series) -> None:
    points = sorted(zip(target.times + other.times, target.values + other.values, strict=True),
                    key=lambda p: p[0])
    target.times = [t for t, _ in points]
    target.values = [v for _, v in points]


def _slot_sum(name: str, members: list[Series], interval: float) -> Series:
    slots: dict[int, dict[int, float]] = {}
    for index, series in enumerate(members):
        last_slot: int | None = None
        last_value: float | None = None
        for t, v in zip(series.times, series.values, strict=True):
            if v is None:
                continue
            slot = math.floor(t / interval + 1e-9)
            if last_slot is not None and slot == last_slot + 2 and last_value is not None:
                slots.setdefault(last_slot + 1, {}).setdefault(index, last_value)  # carry
            slots.setdefault(slot, {})[index] = v
            last_slot, last_value = slot, v
    unit = next((s.unit for s in members if s.unit), UNITS.get(name, ""))
    total = Series(name, "total", unit)
    for slot in sorted(slots):
        total.append(slot * interval, math.fsum(slots[slot].values()))
    return total
