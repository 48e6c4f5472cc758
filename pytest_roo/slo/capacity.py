"""The capacity curve: a load stepped from 1x to Nx, each step judged, and the knee found.

Each step is one open-model run at ``multiplier x`` the unit rate (its own LoadResult, so its
percentiles and its saturation verdict are its own). A step is:

- ``ok``: every criterion PASSes (on its confidence bound) and the answers followed the offered
  rate (achieved >= ``min_follow`` x offered);
- ``inconclusive``: none FAILs, but a bound could not decide (too few samples at a low rate);
- ``broken``: a criterion FAILs, the throughput stopped following the offered rate, or the
  schedule was not kept while the generator itself was fine and at least half of the
  ``clients`` connections were busy on average (offered rate x mean latency, Little's law):
  arrivals queued for a connection the app held (the app's saturation, seen from outside);
- ``generator``: the load generator saturated (its CPU above the limit, its event loop late
  by more than the 10 ms a late start is counted at, or starts late while most connections
  were idle, so no arrival waited for the app): the step measured the client, or the machine
  it shares, not the app. It is a point the curve could not measure; each step is a run of its
  own, so the steps above it still count.

The knee is the first ``broken`` step from which on no measured step held again (None when the
last measured step held); a broken step below one that held is a dip (a stall of a shared
machine, a pause of the app), reported, but not the knee. What is
judged here is only what each step's LoadResult says; the criteria on the last step are judged
by the criteria language like any other result's (``@pytest.mark.slo``).

Pure logic, no I/O, no pytest: unit-tested in tests/unit/test_slo_capacity.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo.confidence import DEFAULT_CONFIDENCE
from pytest_roo.slo.judge import evaluate
from pytest_roo.slo.spec import Criterion, parse

__all__ = ["SCHEMA", "CapacityCurve", "CapacityStep", "judge_curve", "measure_step"]

SCHEMA = "pytest-roo/capacity/v1"
#: a generator whose event loop is this late (p99 of its ticks) starts operations late by
#: itself: the same 10 ms a late start is counted at (docs/load.md)
MAX_LOOP_LAG = 0.010
STATUSES = ("ok", "inconclusive", "broken", "generator")
#: a missed schedule is the app's when at least this share of the connections was busy on
#: average: then arrivals queued for a free connection because the app held them
BUSY_SHARE = 0.5


def _finite(value: float) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclasses.dataclass
class CapacityStep:
    """One step of the curve: what was offered, what came back, and how it was judged."""

    multiplier: float
    offered: float  # arrivals scheduled per second
    achieved: float  # successful answers per second inside the step's window
    operations: int
    errors: int
    error_rate: float
    samples: int  # latency samples (successful answers)
    p50: float  # seconds; nan without samples
    p95: float
    p99: float
    mean: float
    generator_cpu: float
    loop_lag_p99: float
    saturated: str | None
    result: LoadResult | None = dataclasses.field(default=None, repr=False)
    status: str = ""
    reasons: list[str] = dataclasses.field(default_factory=list)
    verdicts: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def in_use(self) -> float:
        """Connections busy on average (Little's law: offered rate x mean latency, which runs
        from the intended start and so includes any wait for a free connection)."""
        return self.offered * self.mean if math.isfinite(self.mean) else math.nan

    @property
    def follow(self) -> float:
        """Achieved / offered (nan when nothing was offered)."""
        return self.achieved / self.offered if self.offered > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON (seconds for latencies, None for what was not measured)."""
        return {
            "multiplier": self.multiplier,
            "offered": round(self.offered, 3),
            "achieved": round(self.achieved, 3),
            "follow": _finite(round(self.follow, 4)),
            "operations": self.operations,
            "errors": self.errors,
            "error_rate": _finite(self.error_rate),
            "samples": self.samples,
            "p50": _finite(self.p50),
            "p95": _finite(self.p95),
            "p99": _finite(self.p99),
            "mean": _finite(self.mean),
            "in_use": _finite(round(self.in_use, 2)),
            "generator_cpu": _finite(round(self.generator_cpu, 4)),
            "loop_lag_p99": _finite(self.loop_lag_p99),
            "saturated": self.saturated,
            "status": self.status,
            "reasons": list(self.reasons),
            "verdicts": list(self.verdicts),
        }


def measure_step(result: LoadResult, multiplier: float, offered: float,
                 completions: Iterable[float] | None = None) -> CapacityStep:
    """The figures of one step's run. ``completions``: the wall-clock times (``time.time()``)
    of the successful answers; the achieved throughput counts those inside the measured window
    (answers that came in the grace period after it are the queue draining, not throughput).
    Without them it is the result's own throughput (which counts the grace period too)."""
    start = result.started_at + float(result.info.get("setup_seconds") or 0.0)
    if completions is not None and result.duration > 0:
        end = start + result.duration
        inside = sum(1 for t in completions if start <= t <= end)
        achieved = inside / result.duration
    else:
        achieved = result.throughput if math.isfinite(result.throughput) else 0.0
    metric = result.metrics.get(result.primary or "")
    samples = metric.count if metric is not None else 0

    def pct(p: float) -> float:
        return metric.percentile(p) if metric is not None and samples else math.nan

    return CapacityStep(
        multiplier=multiplier, offered=offered, achieved=achieved,
        operations=result.operations, errors=result.error_count,
        error_rate=result.error_rate, samples=samples,
        p50=pct(50), p95=pct(95), p99=pct(99),
        mean=metric.mean if metric is not None and samples else math.nan,
        generator_cpu=float(result.generator.get("cpu", 0.0)),
        loop_lag_p99=float(result.generator.get("loop_lag_p99", 0.0)),
        saturated=result.saturated, result=result,
    )


def _generator_limited(step: CapacityStep, max_generator_cpu: float,
                       clients: int) -> str | None:
    """Why the step measured the generator rather than the app, or None."""
    if step.generator_cpu > max_generator_cpu:
        return (f"the load generator used {step.generator_cpu:.0%} of a core (limit "
                f"{max_generator_cpu:.0%})")
    if step.saturated and step.loop_lag_p99 > MAX_LOOP_LAG:
        return (f"the load generator's event loop was {step.loop_lag_p99 * 1000:.0f} ms late "
                f"(p99 of its ticks): it could not start operations on time")
    if step.saturated and "load generator saturated" in step.saturated:
        return step.saturated
    if step.saturated and not step.in_use >= BUSY_SHARE * clients:
        # late starts while most connections were idle: no arrival waited for the app
        return (f"starts were late while about {step.in_use:.3g} of the {clients} connections "
                "were busy (offered rate x mean latency): the generator, or the machine it "
                "shares, could not keep the schedule; " + step.saturated.split(";")[0])
    return None


@dataclasses.dataclass
class CapacityCurve:
    """Every step, judged; the knee and where the generator (not the app) ran out."""

    steps: list[CapacityStep]
    criteria: list[str]
    min_follow: float
    unit_rate: float
    clients: int
    knee: int | None = None  # index into steps
    #: the first step the generator (not the app) limited
    generator_limit: int | None = None
    #: the criteria's latency limits by percentile (seconds): ``{"p95": 0.1}``, for the chart
    latency_limits: dict[str, float] = dataclasses.field(default_factory=dict)
    #: broken steps followed by one that held again (indexes): not the knee
    dips: list[int] = dataclasses.field(default_factory=list)

    @property
    def knee_step(self) -> CapacityStep | None:
        """The first broken step, or None."""
        return None if self.knee is None else self.steps[self.knee]

    @property
    def generator_step(self) -> CapacityStep | None:
        """The first step the load generator (not the app) limited, or None."""
        return None if self.generator_limit is None else self.steps[self.generator_limit]

    def summary(self) -> str:
        """One line: where the knee is (or how far every measured step held), the dips, and
        the steps the generator rather than the app limited."""
        parts: list[str] = []
        knee = self.knee_step
        measured = [s for s in self.steps if s.status != "generator"]
        if knee is not None:
            parts.append(f"knee at {knee.multiplier:g}x ({knee.offered:.4g}/s offered): "
                         + "; ".join(knee.reasons))
        elif measured:
            last = measured[-1]
            parts.append(f"no knee up to {last.multiplier:g}x ({last.offered:.4g}/s)")
            if any(s.status == "inconclusive" for s in measured):
                parts.append("the lower steps' tails were inconclusive (too few samples)")
        for index in self.dips:
            dip = self.steps[index]
            parts.append(f"{dip.multiplier:g}x broke (" + "; ".join(dip.reasons)
                         + ") but a higher step held again: a dip, not the knee")
        for gen in self.steps:
            if gen.status == "generator":
                parts.append(f"the load generator, not the app, limited {gen.multiplier:g}x "
                             f"({gen.offered:.4g}/s): " + "; ".join(gen.reasons)
                             + ": that step measured the client")
        return "; ".join(parts) or "no steps"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``result.info["capacity"]``; the HTML report draws it)."""

        def where(index: int | None) -> dict[str, Any] | None:
            if index is None:
                return None
            step = self.steps[index]
            return {"index": index, "multiplier": step.multiplier, "offered": step.offered,
                    "reasons": list(step.reasons)}

        return {
            "schema": SCHEMA,
            "unit_rate": self.unit_rate,
            "clients": self.clients,
            "criteria": list(self.criteria),
            "min_follow": self.min_follow,
            "latency_limits": dict(self.latency_limits),
            "steps": [s.to_dict() for s in self.steps],
            "knee": where(self.knee),
            "generator_limit": where(self.generator_limit),
            "dips": [where(i) for i in self.dips],
            "summary": self.summary(),
        }


def _verdict_row(v: Any) -> dict[str, Any]:
    return {"criterion": v.criterion, "status": v.status, "measured": _finite(v.measured),
            "bound": _finite(v.bound) if v.bound is not None else None, "reason": v.reason}


def judge_curve(
    steps: Sequence[CapacityStep],
    criteria: Sequence[str | Criterion],
    *,
    unit_rate: float,
    clients: int,
    min_follow: float = 0.9,
    confidence: float = DEFAULT_CONFIDENCE,
    max_generator_cpu: float = 0.9,
) -> CapacityCurve:
    """Judge every step against ``criteria`` (on its own confidence bounds, as the criteria
    language judges a result) and against ``min_follow`` (achieved / offered), and find the knee
    and the generator's limit (see the module's doc)."""
    if not 0 < min_follow <= 1:
        raise ValueError(f"min_follow={min_follow!r}: expected the share of the offered rate "
                         "that must be answered, a fraction in (0, 1], e.g. 0.9")
    parsed = [parse(c) if isinstance(c, str) else c for c in criteria]
    curve = CapacityCurve(list(steps), [c.text for c in parsed], min_follow, unit_rate, clients)
    curve.latency_limits = {f"p{c.percentile:g}": c.limit for c in parsed
                            if c.kind == "latency" and c.percentile is not None
                            and not c.metric and c.op in ("<", "<=")}
    for index, step in enumerate(curve.steps):
        reasons: list[str] = []
        why_generator = _generator_limited(step, max_generator_cpu, clients)
        verdicts = []
        if step.result is not None:
            # judged as the app's figures: the saturation is classified below, not folded
            # into every verdict as the criteria language does for a single result
            unsaturated = dataclasses.replace(step.result, saturated=None)
            verdicts = evaluate(unsaturated, parsed, confidence)
        step.verdicts = [_verdict_row(v) for v in verdicts]
        failed = [v for v in verdicts if v.status == "fail"]
        for v in failed:
            reasons.append(f"{v.criterion}: measured {v.measured_text}"
                           + (f" ({v.reason})" if v.reason else ""))
        if step.offered > 0 and step.follow < min_follow:
            reasons.append(f"throughput {step.achieved:.4g}/s of {step.offered:.4g}/s offered "
                           f"({step.follow:.0%}, below {min_follow:.0%}): the answers stopped "
                           "following the offered rate")
        if why_generator is not None:
            step.status = "generator"
            step.reasons = [why_generator, *reasons]
            if curve.generator_limit is None:
                curve.generator_limit = index
            continue
        if step.saturated:
            busy = (f"about {step.in_use:.3g} of the {clients} connections were busy"
                    if step.in_use < clients else
                    f"offered rate x mean latency asks for about {step.in_use:.3g} connections, "
                    f"more than the {clients} open: all were busy")
            reasons.append(f"{busy} waiting for the app on average (the generator itself kept "
                           "up): arrivals queued for a free one; "
                           + step.saturated.split(";")[0])
        if reasons:
            step.status = "broken"
        elif any(v.status == "inconclusive" for v in verdicts):
            step.status = "inconclusive"
            reasons.extend(f"{v.criterion}: {v.reason}" for v in verdicts
                           if v.status == "inconclusive")
        else:
            step.status = "ok"
        step.reasons = reasons
    # the knee: the first broken step after which no measured step held again; a broken step
    # followed by one that held is a dip (a disturbance of the machine, a pause of the app)
    measured = [i for i, step in enumerate(curve.steps) if step.status != "generator"]
    for index in reversed(measured):
        if curve.steps[index].status != "broken":
            break
        curve.knee = index
    curve.dips = [i for i in measured if curve.steps[i].status == "broken"
                  and (curve.knee is None or i < curve.knee)]
    return curve
