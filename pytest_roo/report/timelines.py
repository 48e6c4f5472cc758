"""Per-second timelines of a load result for the charts: latency percentiles, throughput and
errors folded into at most :data:`~pytest_roo.report.series.MAX_POINTS` rows, with a baseline's
timeline overlaid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_roo.report.series import MAX_POINTS, _sig

__all__ = ["downsample_timeline", "overlay_baseline"]

_LATENCY_KEY = re.compile(r"^(p\d+(?:\.\d+)?|max|mean|min)$")


def downsample_timeline(
    points: Sequence[Mapping[str, Any]], max_points: int = MAX_POINTS
) -> dict[str, Any]:
    """Per-second timeline points as columns of at most ``max_points`` rows.

    Seconds without a point (nothing completed) count as zero operations with no latency, so a
    stall shows as a gap instead of being skipped. When the run is longer than ``max_points``
    seconds, consecutive seconds are folded into buckets of ``bucket`` seconds: operations and
    errors become per-second averages over the bucket, and each latency percentile the largest
    of its seconds (an upper bound: per-second histograms are not kept). ``errors`` may be a
    number or a mapping of error kind to count; the kinds get series of their own.

    Returns ``{"bucket", "t", "ops", "ok", "errors", "error_kinds": {kind: [...]},
    "latency_ms": {stat: [...]}}`` where ``t`` is the bucket's first second.

    >>> d = downsample_timeline([{"second": s, "ops": 10, "errors": 1, "p95": 0.002}
    ...                          for s in range(4)], max_points=2)
    >>> d["bucket"], d["t"], d["ops"], d["errors"], d["latency_ms"]["p95"]
    (2, [0, 2], [10.0, 10.0], [1.0, 1.0], [2.0, 2.0])
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points!r}")
    empty: dict[str, Any] = {
        "bucket": 1, "t": [], "ops": [], "ok": [], "errors": [], "error_kinds": {},
        "latency_ms": {},
    }
    by_second: dict[int, Mapping[str, Any]] = {}
    for point in points:
        try:
            by_second[int(point["second"])] = point
        except (KeyError, TypeError, ValueError):
            continue
    if not by_second:
        return empty
    first, last = min(by_second), max(by_second)
    span = last - first + 1
    bucket = max(1, math.ceil(span / max_points))
    stats = sorted(
        {key for point in by_second.values() for key in point if _LATENCY_KEY.match(key)},
        key=_stat_order,
    )
    kinds = sorted(
        {k for p in by_second.values() if isinstance(_errors_of(p), Mapping) for k in _errors_of(p)}
    )
    out = empty
    out["bucket"] = bucket
    out["error_kinds"] = {kind: [] for kind in kinds}
    out["latency_ms"] = {stat: [] for stat in stats}
    for start in range(first, last + 1, bucket):
        seconds = range(start, min(start + bucket, last + 1))
        width = len(seconds)
        ops = errors = 0.0
        kind_counts = dict.fromkeys(kinds, 0.0)
        worst: dict[str, float | None] = dict.fromkeys(stats)
        for second in seconds:
            sample = by_second.get(second)
            if sample is None:
                continue
            ops += float(sample.get("ops") or 0)
            raw_errors = _errors_of(sample) or 0
            if isinstance(raw_errors, Mapping):
                for kind, count in raw_errors.items():
                    kind_counts[kind] += float(count or 0)
                errors += float(sum(float(c or 0) for c in raw_errors.values()))
            else:
                errors += float(raw_errors)
            for stat in stats:
                value = sample.get(stat)
                if isinstance(value, (int, float)) and math.isfinite(value):
                    current = worst[stat]
                    worst[stat] = value if current is None else max(current, value)
        out["t"].append(start)
        out["ops"].append(_sig(ops / width))
        out["errors"].append(_sig(errors / width))
        out["ok"].append(_sig(max(0.0, ops - errors) / width))
        for kind in kinds:
            out["error_kinds"][kind].append(_sig(kind_counts[kind] / width))
        for stat in stats:
            value = worst[stat]
            out["latency_ms"][stat].append(None if value is None else _sig(value * 1000))
    return out


def _errors_of(point: Mapping[str, Any]) -> Any:
    """A point's errors: by kind where the point has them (``error_kinds``), else the number."""
    kinds = point.get("error_kinds")
    return kinds if isinstance(kinds, Mapping) and kinds else point.get("errors")


def overlay_baseline(timeline: dict[str, Any], baseline_points: Sequence[Mapping[str, Any]],
                     label: str, max_points: int = MAX_POINTS) -> None:
    """Add the baseline's latency percentiles to a downsampled timeline, second by second of
    each run (both count from their own start), as series named ``"p95 (baseline main)"``.

    Left out when the two runs fold into buckets of different widths: their rows would not
    stand for the same seconds."""
    theirs = downsample_timeline(baseline_points, max_points)
    if not theirs["t"] or theirs["bucket"] != timeline["bucket"] or not timeline["t"]:
        return
    for stat, values in theirs["latency_ms"].items():
        by_t = dict(zip(theirs["t"], values, strict=True))
        timeline["latency_ms"][f"{stat} ({label})"] = [by_t.get(t) for t in timeline["t"]]


def _stat_order(stat: str) -> tuple[int, float]:
    if stat.startswith("p"):
        return (1, float(stat[1:]))
    return ({"min": 0, "mean": 1, "max": 2}[stat], 101.0)
