"""Resource criteria (``memory.max < 1GB``, ``cpu.p95 < 80%``, ``memory.slope < 1MB/min``...)
judged on the resource timeline a result carries (``result.info["resources"]``, put there by
``monitor.attach(result)``).

The statistics are those of :mod:`pytest_roo.monitor.trend`; this module only picks the samples
the criterion reads and turns the monitor's :class:`StatVerdict` into a :class:`Verdict`, so a
resource criterion is judged like a latency: in the marker, in ``slo.check``, in the report.

Which samples, by the timeline's marks (``monitor.mark(name)``):

- ``max``, ``pN``, ``mean``, ``growth``, ``slope``: from ``steady`` (else ``load_start``, else
  the first sample) to ``load_end`` (else the last sample). ``steady`` ends a warm-up that is not
  judged (start-up, pools and caches filling);
- ``after_load``: the samples before ``load_start`` (the baseline) against those from
  ``settled`` (else ``load_end``) on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_roo.results.metrics import LoadResult
from pytest_roo.results.verdict import Verdict
from pytest_roo.slo.spec import Criterion

if TYPE_CHECKING:
    from pytest_roo.monitor.verdict import StatVerdict

__all__ = ["judge_resource"]


def _two_sided(confidence: float) -> float:
    """The monitor's judges take a two-sided level; each bound of it is one-sided at
    (1 + level) / 2, which is what the criteria language's ``confidence`` names."""
    return 2.0 * confidence - 1.0


def judge_resource(result: LoadResult, criterion: Criterion, confidence: float) -> Verdict:
    """Judge a resource criterion (``memory.*``, ``uss.*``, ``cpu.*``) on the resource timeline
    in ``result.info["resources"]``, between the timeline's marks; a result without a timeline,
    or without samples in the judged window, fails with that reason."""
    from pytest_roo.monitor.timeline import Timeline

    def verdict(status: str, measured: float = math.nan, samples: int = 0, reason: str = "",
                bound: float | None = None, used: float = 0.0) -> Verdict:
        return Verdict(criterion=criterion.text, result=result.name, metric=criterion.metric,
                       stat=criterion.stat, kind=criterion.kind, op=criterion.op,
                       limit=criterion.limit, measured=measured, samples=samples,
                       passed=status == "pass", reason=reason, status=status, bound=bound,
                       confidence=used)

    data: Any = result.info.get("resources")
    if not data:
        return verdict("fail", reason="no resource timeline in this result: nothing was sampled "
                       "(attach one with monitor.attach(result))")
    timeline = data if isinstance(data, Timeline) else Timeline.from_dict(data)
    assert criterion.resource is not None
    try:
        series = timeline.get(criterion.resource)
    except KeyError as exc:
        return verdict("fail", reason=str(exc.args[0]))
    marks = timeline.marks
    level = _two_sided(confidence) if confidence > 0.5 else 0.0

    if criterion.stat == "after_load":
        from pytest_roo.monitor.trend import judge_return_to_baseline

        if "load_start" not in marks or not ({"settled", "load_end"} & set(marks)):
            return verdict("fail", reason="after_load needs the marks load_start and load_end "
                           f"(or settled) in the timeline; it has: {sorted(marks) or 'none'}")
        _, before = series.between(end=marks["load_start"]).finite()
        _, after = series.between(start=marks.get("settled", marks["load_end"])).finite()
        if not before or not after:
            return verdict("fail", samples=len(before) + len(after),
                           reason=f"{len(before)} samples before the load and {len(after)} after "
                           "it: nothing to compare")
        stat = judge_return_to_baseline(before, after, criterion.limit,
                                        confidence=level or 0.95, name=criterion.text)
        return _from_stat(criterion, stat, verdict, level, scale=1.0)

    start = marks.get("steady", marks.get("load_start"))
    window = series.between(start, marks.get("load_end"))
    times, values = window.finite()
    if criterion.stat in ("growth", "slope"):
        from pytest_roo.monitor.trend import judge_trend

        if criterion.stat == "slope":
            stat = judge_trend(times, values, max_growth=criterion.limit * 60.0, horizon=60.0,
                               confidence=level or 0.95, name=criterion.text)
            return _from_stat(criterion, stat, verdict, level, scale=1.0 / 60.0)
        if criterion.kind == "ratio":
            stat = judge_trend(times, values, max_growth_ratio=criterion.limit,
                               confidence=level or 0.95, name=criterion.text)
            floor = stat.details.get("baseline")
            if not floor:
                return _from_stat(criterion, stat, verdict, level, scale=math.nan)
            return _from_stat(criterion, stat, verdict, level, scale=1.0 / float(floor))
        stat = judge_trend(times, values, max_growth=criterion.limit, confidence=level or 0.95,
                           name=criterion.text)
        return _from_stat(criterion, stat, verdict, level, scale=1.0)

    # levels: memory in bytes, CPU in percent of one core (the criterion holds a fraction)
    scale = 0.01 if criterion.resource == "cpu" else 1.0
    unit = "percent" if criterion.resource == "cpu" else "bytes"
    limit = criterion.limit / scale
    if not values:
        return verdict("fail", reason="no samples: nothing was measured, so nothing is proven")
    if criterion.stat == "max":
        from pytest_roo.monitor.trend import judge_max

        peak = max(values)
        status = "pass" if criterion.holds(peak * scale) else "fail"
        stat = judge_max(times, values, limit, name=criterion.text, unit=unit, min_samples=1)
        return verdict(status, peak * scale, len(values),
                       "" if status == "pass" else stat.reason)
    if criterion.stat == "mean" or not level:
        import numpy as np

        figure = (float(np.mean(values)) if criterion.stat == "mean" else
                  float(np.percentile(values, criterion.percentile or 100.0)))
        status = "pass" if criterion.holds(figure * scale) else "fail"
        return verdict(status, figure * scale, len(values))
    from pytest_roo.monitor.trend import judge_quantile

    assert criterion.percentile is not None
    stat = judge_quantile(times, values, criterion.percentile / 100.0, limit, unit=unit,
                          confidence=level, name=criterion.text)
    return _from_stat(criterion, stat, verdict, level, scale=scale)


def _from_stat(criterion: Criterion, stat: StatVerdict, verdict: Callable[..., Verdict],
               level: float, scale: float) -> Verdict:
    """A monitor verdict in the criterion's base units. With ``confidence=0`` (level 0) the
    point estimate decides; otherwise the monitor's bound does (INCONCLUSIVE included)."""
    estimate = stat.estimate * scale
    if not level and math.isfinite(estimate):
        status = "pass" if criterion.holds(estimate) else "fail"
        return verdict(status, estimate, stat.samples, "" if status == "pass" else stat.reason)
    bound = stat.bound * scale if math.isfinite(stat.bound) else math.inf
    status = stat.status
    if status == "pass" and not criterion.holds(bound):  # '<=' vs '<' at the exact limit
        status = "inconclusive"
    return verdict(status, estimate, stat.samples, "" if status == "pass" else stat.reason,
                   bound, (1.0 + level) / 2.0 if level else 0.0)
