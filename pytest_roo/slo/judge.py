"""Judging: a criterion held against what a result measured, with the sample count behind it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pytest_roo.results.metrics import LoadResult
from pytest_roo.results.verdict import Verdict, format_verdicts
from pytest_roo.slo import confidence as confidence_
from pytest_roo.slo.spec import Criterion, parse

__all__ = ["SloFailure", "abort_check", "describe_errors", "evaluate", "lost_early"]


class SloFailure(AssertionError):
    """Raised by :func:`pytest_roo.slo.check`; the message is the table of all verdicts.

    ``verdicts`` are all verdicts of the check, ``result`` the LoadResult judged (None when
    several results were judged together, as for a test's marker).
    """

    def __init__(
        self, verdicts: Sequence[Verdict], extra: str = "", result: LoadResult | None = None
    ) -> None:
        self.verdicts = list(verdicts)
        self.result = result
        failed = [v for v in self.verdicts if not v.passed]
        inconclusive = sum(1 for v in failed if v.status == "inconclusive")
        # the first line is what one-line summaries (pytest -ra, the browser grid) show
        what = "; ".join(
            f"{v.criterion} measured {v.measured_text}" + (f" ({v.reason})" if v.reason else "")
            for v in failed
        )
        how = "failed" if not inconclusive else (
            "inconclusive" if inconclusive == len(failed) else f"not met ({inconclusive} inconclusive)"
        )
        message = (
            f"{len(failed)} of {len(self.verdicts)} criteria {how}: {what}\n"
            + format_verdicts(verdicts)
        )
        if result is not None:
            extra = "\n".join(line for line in (describe_errors(result), extra) if line)
        super().__init__(message + ("\n" + extra if extra else ""))


def describe_errors(result: LoadResult) -> str:
    """What went wrong in a result, by kind, with the first example of each, and why a run
    stopped early: the lines a failure table needs under it. Empty for a clean result."""
    lines: list[str] = []
    if result.error_count:
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in result.errors.most_common()
                          if count)
        lines.append(f"errors of {result.name}: {kinds}")
        examples = result.info.get("error_examples") or {}
        for kind, example in list(examples.items())[:5]:
            lines.append(f"  {kind}: {str(example)[:200]}")
    for key in ("late", "dropped", "unexpected"):
        count = result.counters.get(key)
        if count:
            lines.append(f"{key} in {result.name}: {count:,}")
    stopped = result.info.get("stopped")
    if stopped:
        lines.append(f"{result.name} stopped: {stopped}")
    return "\n".join(lines)


SloFailure.__module__ = "pytest_roo.slo"  # how tracebacks and one-line summaries name it


def _judge_phase(result: LoadResult, criterion: Criterion, confidence: float) -> Verdict:
    """A criterion with a phase prefix, judged on that phase of the run; INCONCLUSIVE (with
    the reason) when the run overlapped no fault window or the phase holds nothing."""
    from pytest_roo.results.phases import phase_label

    label = phase_label(criterion.phase or "", criterion.delay)
    view = result.phase(criterion.phase or "", criterion.delay)
    reason = ""
    if view is None:
        reason = (f"no {label} phase: the run overlapped no fault window (phases exist when "
                  "a load run overlaps a proxy.fault(...) block, a restart or a kill)")
    elif view.operations <= 0 and not view.error_count:
        reason = f"no samples in the {label} phase: no operation was recorded in it"
    if reason:
        base = _judge(LoadResult(name=result.name), dataclasses.replace(criterion, phase=None),
                      0.0)
        return dataclasses.replace(base, result=result.name, reason=reason,
                                   status="inconclusive", passed=False)
    assert view is not None
    verdict = _judge(view, dataclasses.replace(criterion, phase=None, delay=0.0), confidence)
    dropped = view.info.get("dropped_samples")
    if dropped and criterion.kind == "latency":
        verdict = dataclasses.replace(
            verdict, status="inconclusive", passed=False,
            reason=f"{dropped:,} samples of the {label} phase were not kept (the run kept at "
                   "most 2,000,000 raw samples after the fault)")
    if verdict.status != "pass" and verdict.reason.startswith("no samples"):
        verdict = dataclasses.replace(verdict, status="inconclusive",
                                      reason=f"no samples in the {label} phase")
    return dataclasses.replace(verdict, result=result.name)


def _judge(result: LoadResult, criterion: Criterion, confidence: float) -> Verdict:
    if criterion.phase is not None:
        return _judge_phase(result, criterion, confidence)
    if criterion.resource is not None:
        from pytest_roo.slo.resources import judge_resource

        return judge_resource(result, criterion, confidence)
    metric_name: str | None = None
    reason = ""
    measured = math.nan
    samples = 0
    metric = None
    if criterion.kind == "latency" or (criterion.stat == "count" and criterion.metric):
        try:
            metric = result.get_metric(criterion.metric)
        except KeyError as exc:
            reason = str(exc.args[0])
        else:
            metric_name = metric.name
            samples = metric.count
            if criterion.stat == "count":
                measured = float(samples)
            elif criterion.percentile is not None:
                measured = metric.percentile(criterion.percentile)
            else:
                measured = float(getattr(metric, criterion.stat))
    else:
        samples = result.operations
        if criterion.stat == "error_rate":
            measured = result.error_rate
        elif criterion.stat == "success_rate":
            measured = result.success_rate
        elif criterion.stat == "throughput":
            measured = result.throughput
        elif criterion.stat == "errors":
            measured = float(result.error_count)
        else:  # count
            measured = float(result.operations)
    status = "fail"
    bound: float | None = None
    used = 0.0
    if samples <= 0 and not reason:
        reason = "no samples: nothing was measured, so nothing is proven"
    elif not reason:
        status = "pass" if criterion.holds(measured) else "fail"
        if result.info.get("census"):
            confidence = 0.0  # every case was observed: the counts are the truth, not a sample
        if confidence > 0 and criterion.op != "==":
            judged = None
            if criterion.stat in ("error_rate", "success_rate"):
                bad = result.error_count
                events = bad if criterion.stat == "error_rate" else result.operations - bad
                judged = confidence_.judge_rate(criterion.op, criterion.limit, events=events,
                                                trials=result.operations, confidence=confidence)
            elif criterion.percentile is not None and metric is not None:
                judged = confidence_.judge_percentile(criterion.op, criterion.limit,
                                                      metric.histogram, criterion.percentile,
                                                      confidence=confidence,
                                                      scale=metric.seconds_per_tick)
            if judged is not None:
                status, used = judged.status, judged.confidence
                bound = judged.bound
                if status == "inconclusive":
                    reason = judged.explanation
    if result.saturated:
        status = "fail"
        reason = result.saturated
    return Verdict(
        criterion=criterion.text,
        result=result.name,
        metric=metric_name,
        stat=criterion.stat,
        kind=criterion.kind,
        op=criterion.op,
        limit=criterion.limit,
        measured=measured,
        samples=samples,
        passed=status == "pass",
        reason=reason,
        status=status,
        bound=bound,
        confidence=used,
    )


def evaluate(
    result: LoadResult,
    criteria: Iterable[str | Criterion],
    confidence: float = confidence_.DEFAULT_CONFIDENCE,
) -> list[Verdict]:
    """Judge every criterion (all of them, not just up to the first failure).

    Rates and percentiles are judged on one-sided ``confidence`` bounds (PASS when the
    pessimistic bound clears the limit, FAIL when the optimistic one violates it, INCONCLUSIVE
    otherwise: see :mod:`pytest_roo.slo.confidence`); ``confidence=0`` judges the bare point
    estimate. Other statistics (max, mean, throughput, counts) are judged as measured.
    """
    if not 0 <= confidence < 1:
        raise ValueError(f"confidence={confidence!r}: expected 0 (the point estimate) or a "
                         "level below 1, e.g. 0.95")
    return [_judge(result, parse(c), confidence) for c in criteria]


def lost_early(
    result: LoadResult, criteria: Iterable[str | Criterion], expected_operations: int
) -> list[Verdict]:
    """Verdicts that can no longer pass, whatever the rest of the run brings (k6's abortOnFail).

    ``result`` is what was measured so far; ``expected_operations`` how many operations the
    whole run will attempt. Only upper-bound criteria on errors, error/success rates, max and
    percentiles can be lost early; the rest are judged at the end.
    """
    lost: list[Verdict] = []
    expected = max(expected_operations, result.operations, 1)
    for item in criteria:
        criterion = parse(item)
        if criterion.phase is not None:
            continue  # a phase's share of the run is not known before the run ends
        budget: float | None = None  # how many "bad" operations the whole run may have
        bad = 0
        if criterion.stat == "errors" and criterion.upper_bound:
            budget, bad = criterion.limit, result.error_count
        elif criterion.stat == "error_rate" and criterion.upper_bound:
            budget, bad = criterion.limit * expected, result.error_count
        elif criterion.stat == "success_rate" and not criterion.upper_bound:
            budget, bad = (1.0 - criterion.limit) * expected, result.error_count
        elif criterion.kind == "latency" and criterion.upper_bound and (
            criterion.stat == "max" or criterion.percentile is not None
        ):
            try:
                metric = result.get_metric(criterion.metric)
            except KeyError:
                continue
            bad = _count_above(metric.histogram, criterion.limit / metric.seconds_per_tick,
                               criterion.op == "<")
            share = 0.0 if criterion.stat == "max" else 1.0 - (criterion.percentile or 100) / 100
            budget = share * expected
        if budget is None:
            continue
        over = not criterion.holds(float(bad)) if criterion.stat == "errors" else bad > budget
        if over:
            verdict = _judge(result, criterion, 0.0)
            lost.append(
                dataclasses.replace(
                    verdict,
                    passed=False,
                    status="fail",
                    reason=f"lost early: {bad} bad operations exceed the whole run's budget "
                    f"of {budget:.0f} ({expected} operations expected)",
                )
            )
    return lost


def _count_above(hist: Any, limit_ticks: float, inclusive: bool) -> int:
    """Samples at or above (``inclusive``) or strictly above the limit (in histogram units)."""
    from pytest_roo.results.latency import recorded_buckets

    counts, lowest, width = recorded_buckets(hist)
    highest = lowest + width - 1  # the value HdrHistogram's iterator reports for a bucket
    above = highest > limit_ticks
    if inclusive:
        above |= lowest == hist.get_lowest_equivalent_value(int(limit_ticks))
    return int(counts[above].sum())


def abort_check(criteria: Iterable[str | Criterion]) -> Callable[[LoadResult, int], str | None]:
    """The load engine's abort check for ``criteria`` (k6's abortOnFail): given what was measured
    so far and the operations the whole run will attempt, the criteria that can no longer pass,
    as one line, or None."""
    parsed = [parse(c) for c in criteria]

    def check(result: LoadResult, expected: int) -> str | None:
        try:
            lost = lost_early(result, parsed, expected)
        except KeyError:
            return None
        if not lost:
            return None
        return "; ".join(f"{v.criterion} ({v.reason})" for v in lost)

    return check
