"""Merging the results of a run's worker processes into one LoadResult, exactly.

* operations, errors by kind and counters are summed (a few level counters, such as the
  subscriber count Redis reported at the start, take the largest value instead);
* latency histograms are added bucket by bucket (they travel in HdrHistogram's compressed
  base64 form, so nothing is rounded on the way);
* timelines are aligned by absolute second: each worker's points are shifted by the distance
  of its window's start from the earliest one, then operations, errors and error kinds add
  up; a second's p50/p95/p99 is the largest of the workers' (an upper bound: per-second
  histograms are not shipped; the run's own percentiles are exact);
* the generator verdict covers every worker: a worker whose CPU was saturated or which did
  not keep its schedule makes the whole run saturated, its reason labelled with the worker,
  and the schedule is judged once more over the summed counters;
* ``info`` keeps the first worker's description with the clients and rates summed, the first
  example of each error kind from whichever worker saw it, and ``info["workers"]``: each
  worker's host, process, share and figures.

Pure logic: unit-tested directly.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_roo.results.metrics import SCHEMA, LoadResult, TimelinePoint, add_timelines

__all__ = ["Part", "from_wire", "merge_results", "schedule_verdict", "to_wire"]

#: counters that state a level, not a count: merged by their largest value
LEVEL_COUNTERS = frozenset({"numsub_at_start"})
#: generator figures that add up over workers (the rest take the largest value)
_SUMMED_GENERATOR = frozenset({"cpu_seconds"})


def to_wire(result: LoadResult) -> dict[str, Any]:
    """The JSON-ready form :meth:`LoadResult.from_dict` reads, without the per-metric summaries
    (computing those walks every histogram in Python: about half a second per metric)."""
    return {
        "schema": SCHEMA,
        "name": result.name,
        "started_at": result.started_at,
        "duration": result.duration,
        "operations": result.operations,
        "errors": dict(result.errors),
        "primary": result.primary,
        "metrics": {name: {"hdr": metric.encode(), "unit": metric.unit}
                    for name, metric in result.metrics.items()},
        "timeline": [point.to_dict() for point in result.timeline],
        "counters": dict(result.counters),
        "saturated": result.saturated,
        "generator": dict(result.generator),
        "info": result.info,
    }


def from_wire(data: Mapping[str, Any]) -> LoadResult:
    """The result :func:`to_wire` (or :meth:`LoadResult.to_dict`) wrote."""
    return LoadResult.from_dict(data)


@dataclasses.dataclass
class Part:
    """One worker's result. ``window_start`` is the wall-clock time its measured window began,
    on the coordinating process's clock (None when it never began); ``label`` names the
    worker in reasons and in ``info["workers"]``."""

    result: LoadResult
    label: str
    window_start: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def merge_results(parts: Sequence[Part], *, max_late_share: float | None = None) -> LoadResult:
    """The workers' results as one (see the module's docstring)."""
    if not parts:
        raise ValueError("no worker results to merge")
    from pytest_roo.load.engine import MAX_LATE_SHARE

    late_share = MAX_LATE_SHARE if max_late_share is None else max_late_share
    results = [p.result for p in parts]
    first = results[0]
    merged = LoadResult(name=first.name, primary=first.primary)
    merged.started_at = min(r.started_at for r in results)
    starts = [p.window_start for p in parts if p.window_start is not None]
    base = min(starts) if starts else None
    ends = [p.window_start + p.result.duration for p in parts if p.window_start is not None]
    merged.duration = (max(ends) - base) if base is not None else max(r.duration for r in results)
    merged.operations = sum(r.operations for r in results)
    for r in results:
        merged.errors.update(r.errors)
        for name, count in r.counters.items():
            if name in LEVEL_COUNTERS:
                merged.counters[name] = max(merged.counters.get(name, 0), count)
            else:
                merged.counters[name] += count
    _merge_metrics(merged, results)
    merged.timeline = _merge_timelines(parts, base)
    merged.generator = _merge_generator(results)
    merged.info = _merge_info(parts)
    reasons = [f"{p.label}: {p.result.saturated}" for p in parts if p.result.saturated]
    overall = schedule_verdict(merged.counters, late_share)
    if overall and not any("schedule not kept" in r for r in reasons):
        reasons.append(f"all workers together: {overall}")
    merged.saturated = "; and ".join(reasons) if reasons else None
    return merged


def _merge_metrics(merged: LoadResult, results: Sequence[LoadResult]) -> None:
    names = list(dict.fromkeys(name for r in results for name in r.metrics))
    for name in names:
        have = [r.metrics[name] for r in results if name in r.metrics]
        metric = merged.metric(name, have[0].unit)
        hist = metric.histogram
        for part in have:
            if part.unit != metric.unit:
                raise ValueError(f"cannot merge metric {name!r} kept in {part.unit} with one "
                                 f"kept in {metric.unit}")
            hist.add(part.histogram)
            metric._clipped += part.clipped
    if merged.primary is not None and merged.primary not in merged.metrics:
        merged.metric(merged.primary)


def _merge_timelines(parts: Sequence[Part], base: float | None) -> list[TimelinePoint]:
    """The workers' timelines aligned on the coordinator's window start (``base``)."""
    return add_timelines(
        (0 if base is None or part.window_start is None else round(part.window_start - base),
         part.result.timeline)
        for part in parts)


def _merge_generator(results: Sequence[LoadResult]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in results:
        for key, value in r.generator.items():
            if key in _SUMMED_GENERATOR:
                out[key] = out.get(key, 0.0) + value
            else:
                out[key] = max(out.get(key, value), value)
    if results and all("cpu" in r.generator for r in results):
        # "cpu" stays the busiest worker's share of its core (what saturation is judged on);
        # the cores used by the whole generator:
        out["cpu_sum"] = sum(r.generator["cpu"] for r in results)
    out["processes"] = float(len(results))
    return out


def _merge_info(parts: Sequence[Part]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for part in reversed(parts):  # the first worker's values win, the others fill gaps
        info.update(part.result.info)
    examples: dict[str, str] = {}
    for part in parts:
        for kind, text in part.result.info.get("error_examples", {}).items():
            examples.setdefault(kind, text)
    if examples:
        info["error_examples"] = examples
    for key in ("clients", "rate"):
        numbers = [_number(p.result.info.get(key)) for p in parts]
        if all(v is not None for v in numbers):
            info[key] = sum(v for v in numbers if v is not None)
    stages: list[list[Any]] = [p.result.info.get("stages") or [] for p in parts]
    if stages[0] and len({len(s) for s in stages}) == 1:
        info["stages"] = [
            {**items[0], "target": sum(item["target"] for item in items)}
            for items in zip(*stages, strict=True)
        ]
    setup = [_number(p.result.info.get("setup_seconds")) for p in parts]
    if all(s is not None for s in setup):
        info["setup_seconds"] = max(s for s in setup if s is not None)
    info["processes"] = len(parts)
    info["workers"] = [
        {
            "worker": part.label,
            "operations": part.result.operations,
            "errors": part.result.error_count,
            "clients": part.result.info.get("clients"),
            "rate": part.result.info.get("rate"),
            "cpu": part.result.generator.get("cpu"),
            "saturated": part.result.saturated,
            **part.extra,
        }
        for part in parts
    ]
    return info


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def schedule_verdict(counters: Counter[str] | Mapping[str, int], max_late_share: float) -> str | None:
    """"schedule not kept" over summed counters, with the engine's thresholds."""
    from pytest_roo.load.engine import MIN_LATE_COUNT
    from pytest_roo.load.recorder import LATE_NS

    scheduled = counters.get("scheduled", 0)
    if not scheduled:
        return None
    late = counters.get("late", 0) + counters.get("dropped", 0)
    if late < MIN_LATE_COUNT or late <= max_late_share * scheduled:
        return None
    return (
        f"schedule not kept: {late:,} of {scheduled:,} scheduled operations "
        f"({late / scheduled:.1%}) started more than {LATE_NS // 1_000_000} ms late or were "
        f"dropped (tolerance {max_late_share:.0%}); the load asked for was not applied. Lower "
        "rate=, raise clients=, or add worker processes or hosts"
    )
