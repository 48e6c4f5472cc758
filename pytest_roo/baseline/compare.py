"""A result judged against its baseline, rule by rule, into verdicts.

Both runs are samples, so each comparison rests on confidence bounds of both, and a difference
counts only when the bounds show it:

- percentiles (``p95:+10%``): order-statistic bounds of the percentile in each run (as for
  ``p95 < 50ms``), each at the level ``1 - (1 - c) / 2`` so that the two together hold with
  probability >= ``c``. PASS when the current upper bound is within the baseline's LOWER bound
  plus the allowed rise; FAIL when the current lower bound exceeds the baseline's UPPER bound
  plus the allowed rise; INCONCLUSIVE otherwise.
- rates (``error_rate:+0.1%``): Newcombe's hybrid score bounds of the difference of the two
  proportions (one-sided Wilson bounds of each at ``c``): PASS when the upper bound of
  current - baseline is within the allowed rise, FAIL when its lower bound exceeds it. An allowed
  change of 0 is judged on the point estimates (no bound ever shows a difference of exactly 0,
  as for ``error_rate <= 0%``).
- throughput (``throughput:-5%``): a run yields one throughput figure, so its noise is taken as
  the count noise of the successful operations: both counts as Poisson, the ratio of the two
  rates bounded exactly by Clopper-Pearson on the current run's share of both counts. PASS when
  the lower bound of current/baseline is at least 1 - allowed fall, FAIL when its upper bound is
  below. Generators that send at a fixed rate vary less than Poisson, so this errs towards
  INCONCLUSIVE, never towards a false FAIL from count noise; a system that got slower between the
  runs is what the rule is there to catch.

Confidence 0 judges the point estimates: PASS or FAIL, never INCONCLUSIVE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from pytest_roo.baseline.rules import Rule
from pytest_roo.results.metrics import LoadResult
from pytest_roo.results.verdict import Verdict, format_value
from pytest_roo.slo import confidence as conf

__all__ = ["compare", "rate_difference_bounds", "throughput_ratio_bounds"]


def compare(
    current: LoadResult,
    baseline: LoadResult,
    rules: Sequence[Rule],
    *,
    confidence: float = conf.DEFAULT_CONFIDENCE,
    baseline_name: str = "baseline",
) -> list[Verdict]:
    """One verdict per rule that applies to the result. A latency rule on a metric neither run
    has is left out (an iterations result has no latency); one that only one run has is
    INCONCLUSIVE and says so."""
    verdicts: list[Verdict] = []
    for rule in rules:
        criterion = f"{rule.text} vs {baseline_name}"
        if rule.kind == "latency":
            verdict = _latency(current, baseline, rule, criterion, confidence)
        elif rule.stat == "throughput":
            verdict = _throughput(current, baseline, rule, criterion, confidence)
        else:
            verdict = _rate(current, baseline, rule, criterion, confidence)
        if verdict is not None:
            verdicts.append(verdict)
    return verdicts


def _verdict(rule: Rule, criterion: str, current: LoadResult, *, op: str, limit: float,
             measured: float, samples: int, status: str, bound: float | None, level: float,
             reason: str, metric: str | None = None) -> Verdict:
    return Verdict(
        criterion=criterion, result=current.name, metric=metric, stat=rule.stat,
        kind=rule.kind, op=op, limit=limit, measured=measured, samples=samples,
        passed=status == "pass", reason=reason, status=status, bound=bound, confidence=level,
    )


def _metric_name(result: LoadResult, rule: Rule) -> str | None:
    name = rule.metric or result.primary
    return name if name is not None and name in result.metrics else None


def _latency(current: LoadResult, baseline: LoadResult, rule: Rule, criterion: str,
             confidence: float) -> Verdict | None:
    assert rule.percentile is not None
    cur_name, base_name = _metric_name(current, rule), _metric_name(baseline, rule)
    if cur_name is None and base_name is None:
        return None
    shown = cur_name or base_name
    if cur_name is None or base_name is None or cur_name != base_name:
        missing = "this run" if cur_name is None else "the baseline"
        return _verdict(rule, criterion, current, op="<=", limit=math.nan, measured=math.nan,
                        samples=0, status="inconclusive", bound=None, level=0.0, metric=shown,
                        reason=f"{missing} has no latency metric {rule.metric or shown!r} to compare")
    level = 1.0 - (1.0 - confidence) / 2.0 if confidence > 0 else 0.0
    cur = _percentile_bounds(current.metrics[cur_name], rule.percentile, level)
    base = _percentile_bounds(baseline.metrics[base_name], rule.percentile, level)

    def allowed(value: float) -> float:
        return value + rule.change if rule.absolute else value * (1.0 + rule.change)

    limit = allowed(base.estimate)
    if cur.samples == 0 or base.samples == 0:
        which = "this run" if cur.samples == 0 else "the baseline"
        return _verdict(rule, criterion, current, op="<=", limit=limit, measured=cur.estimate,
                        samples=cur.samples, status="inconclusive", bound=None, level=0.0,
                        metric=cur_name, reason=f"{which} has no {cur_name} samples")
    pass_limit, fail_limit = allowed(base.lower), allowed(base.upper)
    if cur.upper <= pass_limit:
        status = "pass"
    elif cur.lower > fail_limit:
        status = "fail"
    else:
        status = "inconclusive"
    fmt = _fmt("latency")
    base_text = (f"baseline {fmt(base.estimate)} of {base.samples:,}" if level == 0 else
                 f"baseline {fmt(base.estimate)} in [{fmt(base.lower)}, {fmt(base.upper)}] "
                 f"of {base.samples:,}; this run in [{fmt(cur.lower)}, {fmt(cur.upper)}]")
    reason = {
        "pass": base_text,
        "fail": f"{base_text}: above {fmt(fail_limit)} even at its lower bound",
        "inconclusive": (f"{base_text}: neither within {fmt(pass_limit)} nor above "
                         f"{fmt(fail_limit)} at {level:.1%}"),
    }[status]
    return _verdict(rule, criterion, current, op="<=", limit=limit, measured=cur.estimate,
                    samples=cur.samples, status=status, bound=cur.upper, level=level,
                    metric=cur_name, reason=reason)


def _percentile_bounds(metric: Any, percentile: float, level: float) -> conf.Bounds:
    # in seconds whatever the histogram's tick (a metric may keep microseconds or nanoseconds)
    scale = float(getattr(metric, "seconds_per_tick", 1e-6))
    return conf.percentile_bounds(metric.histogram, percentile, level, scale=scale)


def rate_difference_bounds(
    events_a: int, trials_a: int, events_b: int, trials_b: int, confidence: float
) -> tuple[float, float, float]:
    """(estimate, lower, upper) of ``events_a/trials_a - events_b/trials_b``: Newcombe's hybrid
    score bounds from one-sided Wilson bounds of each proportion at ``confidence``."""
    p1, p2 = events_a / trials_a, events_b / trials_b
    l1, u1 = conf.wilson_bounds(events_a, trials_a, confidence)
    l2, u2 = conf.wilson_bounds(events_b, trials_b, confidence)
    diff = p1 - p2
    lower = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return diff, lower, upper


def _rate(current: LoadResult, baseline: LoadResult, rule: Rule, criterion: str,
          confidence: float) -> Verdict:
    cur_n, base_n = current.operations, baseline.operations
    cur_e = min(current.error_count, cur_n)
    base_e = min(baseline.error_count, base_n)
    success = rule.stat == "success_rate"

    def shown(errors: int, trials: int) -> float:
        rate = errors / trials
        return 1.0 - rate if success else rate

    op = ">=" if success else "<="
    if cur_n <= 0 or base_n <= 0:
        which = "this run" if cur_n <= 0 else "the baseline"
        return _verdict(rule, criterion, current, op=op, limit=math.nan, measured=math.nan,
                        samples=max(cur_n, 0), status="inconclusive", bound=None, level=0.0,
                        reason=f"{which} attempted no operations")
    base_value = shown(base_e, base_n)
    limit = base_value - rule.change if success else base_value + rule.change
    level = confidence if rule.change > 0 else 0.0
    if level > 0:
        diff, lower, upper = rate_difference_bounds(cur_e, cur_n, base_e, base_n, level)
    else:
        diff = lower = upper = cur_e / cur_n - base_e / base_n
    # everything is judged on the error-rate difference; a success-rate rule is its mirror
    if upper <= rule.change:
        status = "pass"
    elif lower > rule.change:
        status = "fail"
    else:
        status = "inconclusive"
    fmt = _fmt("ratio")
    bound_rate = base_e / base_n + upper
    bound = 1.0 - bound_rate if success else bound_rate
    reason = (f"baseline {fmt(base_value)} of {base_n:,}; change {diff * 100:+.3g} points"
              + (f" in [{lower * 100:+.3g}, {upper * 100:+.3g}]" if level > 0 else "")
              + f", allowed {'-' if success else '+'}{rule.change * 100:.3g}")
    return _verdict(rule, criterion, current, op=op, limit=limit,
                    measured=shown(cur_e, cur_n), samples=cur_n, status=status,
                    bound=min(1.0, max(0.0, bound)), level=level, reason=reason)


def throughput_ratio_bounds(
    count_a: int, seconds_a: float, count_b: int, seconds_b: float, confidence: float
) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the ratio of two Poisson rates ``(count_a/seconds_a) /
    (count_b/seconds_b)``: given both counts, ``count_a`` is binomial in their sum with share
    ``r t_a / (r t_a + t_b)``, whose Clopper-Pearson bounds give the ratio's."""
    scale = seconds_b / seconds_a
    estimate = count_a / count_b * scale if count_b else math.inf
    if confidence == 0:
        return estimate, estimate, estimate
    b = conf.rate_bounds(count_a, count_a + count_b, confidence)

    def ratio(share: float) -> float:
        return math.inf if share >= 1.0 else share / (1.0 - share) * scale

    return estimate, ratio(b.lower), ratio(b.upper)


def _throughput(current: LoadResult, baseline: LoadResult, rule: Rule, criterion: str,
                confidence: float) -> Verdict:
    cur_ok = max(0, current.operations - current.error_count)
    base_ok = max(0, baseline.operations - baseline.error_count)
    base_tp = baseline.throughput
    limit = base_tp * (1.0 - rule.change) if math.isfinite(base_tp) else math.nan
    if current.duration <= 0 or baseline.duration <= 0 or base_ok == 0:
        which = ("this run" if current.duration <= 0 else "the baseline")
        why = f"{which} has no duration" if current.duration <= 0 or baseline.duration <= 0 \
            else "the baseline completed no operation"
        return _verdict(rule, criterion, current, op=">=", limit=limit,
                        measured=current.throughput, samples=cur_ok, status="inconclusive",
                        bound=None, level=0.0, reason=why)
    estimate, lower, upper = throughput_ratio_bounds(
        cur_ok, current.duration, base_ok, baseline.duration, confidence)
    floor = 1.0 - rule.change
    status = "pass" if lower >= floor else "fail" if upper < floor else "inconclusive"
    fmt = _fmt("rate")
    reason = (f"baseline {fmt(base_tp)} ({base_ok:,} in {baseline.duration:.3g} s); "
              f"ratio {estimate:.3f}"
              + (f" in [{lower:.3f}, {upper:.3f}]" if confidence > 0 else "")
              + f", allowed down to {floor:.3f}")
    return _verdict(rule, criterion, current, op=">=", limit=limit, measured=current.throughput,
                    samples=cur_ok, status=status, bound=lower * base_tp, level=confidence,
                    reason=reason)


def _fmt(kind: str) -> Callable[[float], str]:
    # an order-statistic bound that the samples cannot give is infinite
    return lambda value: "n/a" if math.isinf(value) else format_value(kind, value)
