"""The resource timeline of a load result (CPU, memory and other samples of the system under
test), grouped by unit for the charts, from either the sampled or the series form of the
resources document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pytest_roo.report.series import MAX_POINTS, _sig

__all__ = ["resource_timeline"]

_TIME_KEYS = ("t", "second", "time", "elapsed", "ts", "timestamp")


def resource_timeline(
    resources: Any, started_at: float = 0.0, max_points: int = MAX_POINTS
) -> dict[str, Any] | None:
    """The resource samples of a result (``info["resources"]``) as chart columns, or None.

    Accepted shapes: the resource monitor's timeline (``{"schema": "pytest-roo/resources/v1",
    "series": [{"name", "source", "unit", "times", "values"}]}``, grouped by unit), a list of
    samples ``[{"t": seconds, "rss": bytes, "cpu": 0.4, ...}]``,
    ``{"samples": [...]}``, or columns ``{"t": [...], "rss": [...]}``. Times may be seconds
    since the run started or Unix times (then ``started_at`` is subtracted). Numeric fields
    become series (nested mappings such as ``{"app": {"rss": ...}}`` are flattened to
    ``app.rss``), grouped by what they measure: ``memory`` (bytes -> MB), ``cpu`` (fractions ->
    percent) and ``other``. Longer series are folded into buckets keeping each bucket's largest
    value.

    >>> r = resource_timeline([{"t": 0, "rss": 2**20, "cpu": 0.5}, {"t": 1, "rss": 2**21}])
    >>> r["t"], r["groups"]["memory"], r["groups"]["cpu"]
    ([0.0, 1.0], {'rss': [1.0, 2.0]}, {'cpu': [50.0, None]})
    """
    if isinstance(resources, Mapping) and isinstance(resources.get("series"), list):
        table = _rows_from_series(resources, started_at)
    else:
        table = _rows_from_samples(resources, started_at)
    if table is None:
        return None
    rows, group_of = table
    names = sorted(group_of)
    bucket = max(1, math.ceil(len(rows) / max_points))
    t_out: list[float | None] = []
    columns: dict[str, list[float | None]] = {name: [] for name in names}
    for start in range(0, len(rows), bucket):
        chunk = rows[start : start + bucket]
        t_out.append(_sig(chunk[0][0], 6))
        for name in names:
            present = [values[name] for _, values in chunk if name in values]
            columns[name].append(max(present) if present else None)
    groups: dict[str, dict[str, list[float | None]]] = {}
    for name in names:
        group, scale = group_of[name]
        groups.setdefault(group, {})[name] = [
            None if v is None else _sig(v * scale) for v in columns[name]
        ]
    return {"t": t_out, "groups": groups, "bucket_samples": bucket}


_Rows = tuple[list[tuple[float, dict[str, float]]], dict[str, tuple[str, float]]]
#: unit of a monitor series -> (chart group, factor to the group's unit)
_UNIT_GROUPS = {"bytes": ("memory", 1 / 2**20), "percent": ("cpu", 1.0), "count": ("other", 1.0)}


def _rows_from_samples(resources: Any, started_at: float) -> _Rows | None:
    rows: list[tuple[float, dict[str, float]]] = []
    for sample in _resource_samples(resources):
        t = next((sample[k] for k in _TIME_KEYS if isinstance(sample.get(k), (int, float))), None)
        if t is None:
            continue
        t = float(t)
        if t > 1e9:  # a Unix time
            t -= started_at
        values: dict[str, float] = {}
        _flatten(sample, "", values)
        if values:
            rows.append((t, values))
    if not rows:
        return None
    rows.sort(key=lambda row: row[0])
    group_of: dict[str, tuple[str, float]] = {}
    for _, values in rows:
        for name in values:
            group = _resource_group(name)
            group_of[name] = (group, {"memory": 1 / 2**20, "cpu": 100.0}.get(group, 1.0))
    return rows, group_of


def _rows_from_series(resources: Mapping[str, Any], started_at: float) -> _Rows | None:
    """The monitor's timeline (schema ``pytest-roo/resources/v1``): named series with their own
    times, in seconds since the timeline's ``started_at``. The totals of the process tree, the
    generator and the target's /metrics series are charted; per-process series only when there
    is no total (they would crowd the chart)."""
    offset = float(resources.get("started_at") or started_at) - started_at
    series = [s for s in resources["series"] if isinstance(s, Mapping)]
    has_total = any(s.get("source") == "total" for s in series)
    by_time: dict[float, dict[str, float]] = {}
    group_of: dict[str, tuple[str, float]] = {}
    for item in series:
        source = str(item.get("source", ""))
        if has_total and source.startswith("pid:"):
            continue
        name = str(item.get("name", ""))
        key = name if source == "total" else f"{source}/{name}"
        unit = str(item.get("unit", ""))
        group, scale = _UNIT_GROUPS.get(unit, ("metrics" if source == "metrics" else "other", 1.0))
        for t, value in zip(item.get("times", []), item.get("values", []), strict=False):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
                    value) and isinstance(t, (int, float)):
                by_time.setdefault(round(float(t) + offset, 3), {})[key] = float(value)
                group_of[key] = (group, scale)
    if not by_time:
        return None
    return sorted(by_time.items()), group_of


def _resource_samples(resources: Any) -> list[Mapping[str, Any]]:
    if isinstance(resources, Mapping):
        if isinstance(resources.get("samples"), list):
            return [s for s in resources["samples"] if isinstance(s, Mapping)]
        columns = {k: v for k, v in resources.items() if isinstance(v, list)}
        time_key = next((k for k in _TIME_KEYS if k in columns), None)
        if time_key is None:
            return []
        length = len(columns[time_key])
        return [
            {k: v[i] for k, v in columns.items() if i < len(v)} for i in range(length)
        ]
    if isinstance(resources, list):
        return [s for s in resources if isinstance(s, Mapping)]
    return []


def _flatten(sample: Mapping[str, Any], prefix: str, out: dict[str, float]) -> None:
    for key, value in sample.items():
        if not prefix and key in _TIME_KEYS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[name] = float(value)
        elif isinstance(value, Mapping):
            _flatten(value, name + ".", out)


def _resource_group(name: str) -> str:
    leaf = name.lower()
    if any(word in leaf for word in ("rss", "uss", "memory", "mem", "bytes")):
        return "memory"
    if "cpu" in leaf:
        return "cpu"
    return "other"
