"""The numbers behind the HTML report: timelines, percentile spectra, histograms, margins.

Everything the charts show is computed here, in Python, from the session report document
(``Store.to_dict()``); the page's script only draws what it is given (uPlot computes no
statistics). Series are bounded in length so that the report of a long run stays small: a
timeline keeps at most :data:`MAX_POINTS` rows, a spectrum ten points per decade of
``1 / (1 - percentile)``, a histogram :data:`HISTOGRAM_BINS` bins.

No pytest import; numpy and HdrHistogram are imported where they are used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

__all__ = [
    "HISTOGRAM_BINS",
    "MAX_POINTS",
    "downsample_timeline",
    "histogram_buckets",
    "latency_histogram",
    "margin",
    "overlay_baseline",
    "resource_timeline",
    "spectrum",
    "status_of",
    "summarize",
    "values_at_percentiles",
]

#: Rows of a timeline chart at most; a longer run is folded into buckets of several seconds.
MAX_POINTS = 600
#: Bins of the latency histogram (log-spaced between the smallest and the largest value).
HISTOGRAM_BINS = 60
#: Points of the percentile spectrum per decade of 1 / (1 - percentile).
SPECTRUM_STEPS_PER_DECADE = 10

_LATENCY_KEY = re.compile(r"^(p\d+(?:\.\d+)?|max|mean|min)$")


def _sig(value: float | None, digits: int = 4) -> float | None:
    """Round to a few significant digits: the page shows three, and JSON stays short."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


# --- timelines ----------------------------------------------------------------------------------


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


# --- latency distributions ----------------------------------------------------------------------


def histogram_buckets(hist: HdrHistogram) -> tuple[Any, Any, Any]:
    """The non-empty buckets of an HdrHistogram as numpy arrays (lowest, highest, count).

    Vectorised from HdrHistogram's index arithmetic (``get_value_from_index``), so a spectrum
    costs a few array operations instead of a Python loop over every bucket per percentile.
    """
    import numpy as np

    counts = np.frombuffer(hist.counts, dtype=np.int64)[: hist.counts_len]
    index = np.nonzero(counts)[0].astype(np.int64)
    bucket = (index >> hist.sub_bucket_half_count_magnitude) - 1
    sub = (index & (hist.sub_bucket_half_count - 1)) + hist.sub_bucket_half_count
    first = bucket < 0
    sub = np.where(first, sub - hist.sub_bucket_half_count, sub)
    bucket = np.where(first, 0, bucket)
    shift = bucket + hist.unit_magnitude
    lowest = sub << shift
    highest = lowest + (np.int64(1) << shift) - 1
    return lowest, highest, counts[index]


def values_at_percentiles(hist: HdrHistogram, percentiles: Iterable[float]) -> list[float]:
    """``hist.get_value_at_percentile(p)`` for many ``p`` at once (same rounding rules)."""
    import numpy as np

    wanted = [float(p) for p in percentiles]
    total = int(hist.total_count)
    if total == 0:
        return [math.nan for _ in wanted]
    lowest, highest, counts = histogram_buckets(hist)
    cumulative = np.cumsum(counts)
    out: list[float] = []
    for p in wanted:
        target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
        i = min(int(np.searchsorted(cumulative, target, side="left")), len(counts) - 1)
        out.append(float(highest[i] if p else lowest[i]))
    return out


def spectrum(
    histograms: Mapping[str, HdrHistogram], steps_per_decade: int = SPECTRUM_STEPS_PER_DECADE
) -> dict[str, Any]:
    """The percentile spectrum of each metric on one shared x axis, as HdrHistogram plots it.

    ``x`` is ``1 / (1 - percentile)``: 1 is the median's neighbour 0 %, 10 is 90 %, 100 is 99 %,
    and so on, drawn on a log scale so that every "nine" gets the same width. Points are spaced
    ``steps_per_decade`` to a decade up to the largest sample count (beyond it a percentile is
    not resolved by the data), and each metric ends with its maximum at ``x = count``. Values
    are milliseconds; a metric has ``None`` where its own samples do not reach.
    """
    counts = {name: int(h.total_count) for name, h in histograms.items() if h.total_count}
    if not counts:
        return {"x": [], "percentile": [], "series": {}, "counts": {}}
    top = max(counts.values())
    grid = [10 ** (k / steps_per_decade) for k in range(0, 10 * steps_per_decade + 1)]
    grid = [x for x in grid if x < top] + [float(top)]
    grid = sorted(set(grid + [float(c) for c in counts.values()]))
    percentiles = [100.0 * (1.0 - 1.0 / x) for x in grid]
    series: dict[str, list[float | None]] = {}
    for name, hist in histograms.items():
        n = counts.get(name)
        if not n:
            continue
        values = values_at_percentiles(hist, [p if x < n else 100.0 for p, x in zip(
            percentiles, grid, strict=True)])
        series[name] = [
            _sig(v / 1000) if x <= n else None for v, x in zip(values, grid, strict=True)
        ]
    return {
        "x": [_sig(x, 6) for x in grid],
        "percentile": [_sig(p, 8) for p in percentiles],
        "series": series,
        "counts": counts,
    }


def latency_histogram(
    histograms: Mapping[str, HdrHistogram], bins: int = HISTOGRAM_BINS
) -> dict[str, Any]:
    """Sample counts per log-spaced latency bin, one series per metric on shared bins.

    Bins span the smallest to the largest recorded value over all metrics; ``x`` holds each
    bin's lower edge in milliseconds (the chart draws steps from there).
    """
    import numpy as np

    parts = {name: histogram_buckets(h) for name, h in histograms.items() if h.total_count}
    if not parts:
        return {"x": [], "series": {}}
    low = float(min(int(lowest.min()) for lowest, _, _ in parts.values()))
    high = float(max(int(highest.max()) for _, highest, _ in parts.values()))
    low = max(low, 1.0)
    high = max(high, low * 1.001)
    edges = np.geomspace(low, high + 1, bins + 1)
    series: dict[str, list[int]] = {}
    for name, (lowest, highest, counts) in parts.items():
        mid = (lowest + highest) / 2.0
        weights, _ = np.histogram(np.clip(mid, edges[0], edges[-1]), bins=edges, weights=counts)
        series[name] = [int(w) for w in weights]
    return {"x": [_sig(e / 1000) for e in edges[:-1]], "series": series}


# --- verdicts -----------------------------------------------------------------------------------


def status_of(verdict: Mapping[str, Any]) -> str:
    """``pass``, ``fail`` or ``inconclusive``: the verdict's ``status`` where it has one."""
    status = str(verdict.get("status") or "").lower()
    if status in ("pass", "fail", "inconclusive"):
        return status
    return "pass" if verdict.get("passed") else "fail"


def margin(verdict: Mapping[str, Any]) -> float | None:
    """How far the measured value is from the limit, as a share of the limit.

    Positive: room left (``p95 < 50ms`` measured 40 ms -> 0.2); negative: by how much the limit
    is broken. None when nothing was measured or the limit is zero (no share to speak of).

    >>> margin({"op": "<", "limit": 0.05, "measured": 0.04})
    0.2
    >>> margin({"op": ">=", "limit": 0.95, "measured": 0.9})
    -0.0526
    """
    measured, limit, op = verdict.get("measured"), verdict.get("limit"), verdict.get("op")
    if not isinstance(measured, (int, float)) or not isinstance(limit, (int, float)):
        return None
    if not math.isfinite(measured) or not math.isfinite(limit) or limit == 0:
        return None
    if op in ("<", "<="):
        share = (limit - measured) / abs(limit)
    elif op in (">", ">="):
        share = (measured - limit) / abs(limit)
    else:  # ==: any distance is the wrong way
        share = -abs(measured - limit) / abs(limit)
    return round(share, 4)


def summarize(report: Mapping[str, Any], worst: int = 5) -> dict[str, Any]:
    """The summary on top of the report: counts, the tightest margins, what failed and why."""
    counts = {"pass": 0, "fail": 0, "inconclusive": 0}
    outcomes: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for test in report.get("tests", []):
        outcome = str(test.get("outcome", "passed"))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for verdict in test.get("verdicts", []):
            status = status_of(verdict)
            counts[status] += 1
            row = {"test": test.get("nodeid", ""), "verdict": verdict, "status": status,
                   "margin": margin(verdict)}
            rows.append(row)
            if status != "pass":
                failures.append(row)
        if outcome in ("failed", "error", "interrupted") and not any(
            status_of(v) != "pass" for v in test.get("verdicts", [])
        ):
            failures.append({"test": test.get("nodeid", ""), "verdict": None, "status": outcome,
                             "message": test.get("message") or "; ".join(test.get("notes", []))})
    matrix = (report.get("sections") or {}).get("matrix")
    failing_cells = [
        cell for cell in (matrix.get("cells", []) if isinstance(matrix, Mapping) else [])
        if isinstance(cell, Mapping) and cell.get("outcome") == "fail"
    ]
    # a failing browser cell is said once, by the matrix, with its cell's name
    said = {cell.get("nodeid") for cell in failing_cells}
    failures = [f for f in failures if f["verdict"] is not None or f["test"] not in said]
    for cell in failing_cells:
        failures.append({"test": cell.get("nodeid") or cell.get("test", ""), "verdict": None,
                         "status": "fail", "message": f"browser cell {cell.get('cell')}: "
                                                      f"{cell.get('reason') or 'failed'}"})
    measured = [row for row in rows if row["margin"] is not None]
    measured.sort(key=lambda row: row["margin"])
    return {
        "criteria": sum(counts.values()),
        "counts": counts,
        "outcomes": outcomes,
        "results": sum(len(t.get("results", [])) for t in report.get("tests", [])),
        "worst": measured[:worst],
        "failures": failures,
    }
