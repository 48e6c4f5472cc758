"""The capacity curve on synthetic steps: the knee, dips, the generator's limit, the achieved
throughput inside the window, and the JSON form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo.capacity import CapacityStep, judge_curve, measure_step

CRITERIA = ("p95 < 100ms", "error_rate < 1%")
STEP = 4.0


def step_result(rate: float, latency: float, *, errors: int = 0, seed: int = 0,
                saturated: str | None = None, cpu: float = 0.1,
                lag: float = 0.001) -> LoadResult:
    """A step of ``STEP`` seconds at ``rate``: every arrival answered after about ``latency``."""
    rng = np.random.default_rng(seed)
    n = int(rate * STEP)
    samples = latency * (1 + 0.1 * rng.random(n - errors))
    result = LoadResult.from_samples("step", samples, errors={"timeout": errors} if errors else None,
                                     duration=STEP)
    result.started_at = 1000.0
    result.info["setup_seconds"] = 0.5
    result.saturated = saturated
    result.generator.update(cpu=cpu, loop_lag_p99=lag)
    return result


def answered_at(rate: float, *, served: float | None = None) -> list[float]:
    """Wall-clock times of the successful answers: ``served`` per second inside the window
    (default: all of ``rate``), the rest after it (the grace period)."""
    n = int(rate * STEP)
    inside = int((served if served is not None else rate) * STEP)
    start = 1000.5
    times = [start + STEP * (k + 0.5) / max(inside, 1) for k in range(inside)]
    return times + [start + STEP + 0.5 + k * 0.001 for k in range(n - inside)]


def steps(spec: list[tuple[float, float]], **kwargs: object) -> list[CapacityStep]:
    """(multiplier, p95-ish latency) at 25/s per 1x."""
    return [measure_step(step_result(25 * m, lat, seed=i, **kwargs), m, 25 * m,  # type: ignore[arg-type]
                         answered_at(25 * m)) for i, (m, lat) in enumerate(spec)]


def test_every_step_holds_no_knee() -> None:
    curve = judge_curve(steps([(1, 0.005), (2, 0.005), (5, 0.006), (10, 0.008)]), CRITERIA,
                        unit_rate=25, clients=100)
    assert curve.knee is None and curve.generator_limit is None and not curve.dips
    assert [s.status for s in curve.steps][-2:] == ["ok", "ok"]
    assert curve.summary().startswith("no knee up to 10x (250/s)")


def test_the_first_step_that_breaks_for_good_is_the_knee() -> None:
    curve = judge_curve(steps([(1, 0.005), (2, 0.005), (5, 0.3), (10, 0.9)]), CRITERIA,
                        unit_rate=25, clients=100)
    assert curve.knee == 2
    assert curve.knee_step is not None and curve.knee_step.multiplier == 5
    assert "p95 < 100ms" in curve.summary() and "knee at 5x" in curve.summary()
    assert [s.status for s in curve.steps][2:] == ["broken", "broken"]


def test_a_broken_step_below_one_that_held_is_a_dip_not_the_knee() -> None:
    curve = judge_curve(steps([(1, 0.005), (2, 0.005), (4, 0.3), (6, 0.005), (10, 0.006)]),
                        CRITERIA, unit_rate=25, clients=100)
    assert curve.knee is None
    assert curve.dips == [2]
    assert "4x broke" in curve.summary() and "a dip, not the knee" in curve.summary()
    assert json.loads(json.dumps(curve.to_dict()))["dips"][0]["multiplier"] == 4


def test_throughput_that_stops_following_the_offered_rate_breaks_the_step() -> None:
    """Latency within the limit, but only 60 % of the offered rate answered inside the step:
    the rest came in the grace period (a queue draining)."""
    result = step_result(250, 0.01)
    step = measure_step(result, 10, 250, answered_at(250, served=150))
    assert step.achieved == pytest.approx(150, rel=0.01)
    assert result.throughput == pytest.approx(250)  # the result's own figure counts the grace
    curve = judge_curve([*steps([(1, 0.005)]), step], CRITERIA, unit_rate=25, clients=100)
    assert curve.steps[-1].status == "broken" and curve.knee == 1
    assert "stopped following the offered rate" in curve.steps[-1].reasons[0]


def test_without_answer_times_the_result_throughput_is_used() -> None:
    step = measure_step(step_result(100, 0.01), 4, 100)
    assert step.achieved == pytest.approx(100)


def test_a_saturated_generator_is_not_the_apps_knee() -> None:
    """The generator used 97 % of a core at 10x: that step measured the client; the steps
    below held, so there is no knee, and the summary says where the generator ran out."""
    spec = steps([(1, 0.005), (2, 0.005), (5, 0.006)])
    gen = measure_step(step_result(250, 0.4, seed=9, cpu=0.97,
                                   saturated="load generator saturated: client CPU 97%"),
                       10, 250, answered_at(250))
    curve = judge_curve([*spec, gen], CRITERIA, unit_rate=25, clients=100)
    assert curve.generator_limit == 3 and curve.knee is None
    assert curve.steps[3].status == "generator"
    assert "the load generator, not the app, limited 10x" in curve.summary()
    assert "no knee up to 5x" in curve.summary()


def test_a_step_the_generator_limited_leaves_the_steps_above_it_measured() -> None:
    """Each step is a run of its own: a generator hiccup at 4x is a point the curve could not
    measure; 4x broke below it and 8x, 10x held above it, so 2x is a dip and there is no knee."""
    spec = steps([(1, 0.005), (2, 0.3)])
    gen = measure_step(step_result(100, 0.2, seed=7, cpu=0.3, lag=0.016,
                                   saturated="schedule not kept: 60 of 400"), 4, 100,
                       answered_at(100))
    curve = judge_curve([*spec, gen, *steps([(8, 0.01), (10, 0.01)])], CRITERIA,
                        unit_rate=25, clients=100)
    assert [s.status for s in curve.steps][1:] == ["broken", "generator", "ok", "ok"]
    assert curve.knee is None and curve.dips == [1] and curve.generator_limit == 2
    assert curve.summary().startswith("no knee up to 10x")


def test_a_late_event_loop_with_a_missed_schedule_is_the_generator() -> None:
    late = measure_step(step_result(250, 0.05, cpu=0.5, lag=0.04,
                                    saturated="schedule not kept: 900 of 1,000"),
                        10, 250, answered_at(250))
    curve = judge_curve([*steps([(1, 0.005)]), late], CRITERIA, unit_rate=25, clients=100)
    assert curve.steps[1].status == "generator"
    assert "event loop was 40 ms late" in curve.steps[1].reasons[0]


def test_a_missed_schedule_with_a_healthy_generator_is_the_app() -> None:
    """Every connection waited for the app, so arrivals queued in the generator: the app's
    saturation seen from outside, the knee."""
    app = measure_step(step_result(250, 0.5, cpu=0.2, lag=0.001,
                                   saturated="schedule not kept: 900 of 1,000"),
                       10, 250, answered_at(250))
    assert app.in_use == pytest.approx(250 * 0.525, rel=0.05)  # about 130 connections
    curve = judge_curve([*steps([(1, 0.005)]), app], CRITERIA, unit_rate=25, clients=100)
    assert curve.steps[1].status == "broken" and curve.knee == 1
    assert "busy waiting for the app" in curve.steps[1].reasons[-1]


def test_more_busy_connections_than_there_are_is_said_so() -> None:
    """Little's law can ask for more connections than the run opened (the app's queue grew past
    them): the reason says every one was busy, not "672 of the 400"."""
    app = measure_step(step_result(250, 2.7, cpu=0.2, lag=0.001,
                                   saturated="schedule not kept: 600 of 1,250"),
                       10, 250, answered_at(250))
    curve = judge_curve([*steps([(1, 0.005)]), app], CRITERIA, unit_rate=25, clients=400)
    reason = curve.steps[1].reasons[-1]
    assert curve.steps[1].status == "broken"
    assert "more than the 400 open: all were busy waiting for the app" in reason, reason
    assert " of the 400 connections" not in reason


def test_a_missed_schedule_with_idle_connections_is_the_generator() -> None:
    """Late starts at 25/s with 20 ms answers: half a connection busy of 400, so no arrival
    waited for the app: the generator (or the machine it shares) was late."""
    late = measure_step(step_result(25, 0.02, cpu=0.05, lag=0.002,
                                    saturated="schedule not kept: 14 of 75"),
                        1, 25, answered_at(25))
    curve = judge_curve([late, *steps([(2, 0.005)])], CRITERIA, unit_rate=25, clients=400)
    assert curve.steps[0].status == "generator" and curve.generator_limit == 0
    assert curve.knee is None
    assert "could not keep the schedule" in curve.steps[0].reasons[0]


def test_errors_break_a_step_and_few_samples_are_inconclusive() -> None:
    broken = measure_step(step_result(250, 0.01, errors=50), 10, 250, answered_at(250))
    few = measure_step(step_result(5, 0.01), 1, 5, answered_at(5))
    curve = judge_curve([few, broken], CRITERIA, unit_rate=5, clients=10)
    assert curve.steps[0].status == "inconclusive"  # 20 answers cannot show error_rate < 1 %
    assert curve.steps[1].status == "broken"
    assert any("error_rate < 1%" in r for r in curve.steps[1].reasons)


def test_json_form_is_strict_json() -> None:
    empty = LoadResult(name="nothing", duration=STEP)
    step = measure_step(empty, 1, 25, [])
    curve = judge_curve([step], CRITERIA, unit_rate=25, clients=10)
    doc = curve.to_dict()
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    assert back["schema"] == "pytest-roo/capacity/v1"
    assert back["steps"][0]["p95"] is None and math.isnan(step.p95)
    assert back["criteria"] == list(CRITERIA)


@pytest.mark.parametrize("follow", [0, -0.5, 1.5])
def test_min_follow_must_be_a_share(follow: float) -> None:
    with pytest.raises(ValueError, match="min_follow"):
        judge_curve([], CRITERIA, unit_rate=25, clients=10, min_follow=follow)


def test_the_capacity_suite_steps_from_1x_to_10x_in_every_profile() -> None:
    from suites.capacity.sizes import CAPACITY, CapacitySizes

    assert CAPACITY.names == ("smoke", "standard", "full")
    for name in CAPACITY.names:
        size = CAPACITY.get(name)
        assert size.multipliers[0] == 1 and max(size.multipliers) == 10, name
        assert size.rate * 10 <= 400, name  # what the 2-core reference box generates honestly
    for bad in ((2, 10), (1, 5), (1, 10, 5), (1, 1, 10), ()):
        with pytest.raises(ValueError, match="rising steps from 1 up to at least 10"):
            CapacitySizes(rate=25, multipliers=bad, step=3, clients=10, warmup=1)
