"""Overhead verdicts on synthetic ABBA rounds, and the ABBA runner with a fake switch.

Synthetic rounds: a throughput of 1000/s with 5 % noise (coefficient of variation of one
measurement), 20 ABBA rounds = 40 pairs, limit 5 %. What each true overhead gets, and why:

- 0 %: PASS. 18 pairs give an 80 % chance; 40 pairs put the upper bound under 5 % almost always.
- 3 %: usually INCONCLUSIVE. The overhead is under the limit, but only by 2 points: the interval
  (about +/- 2.2 points at 40 pairs) still reaches 5 %. About 112 pairs would pass it 4 times in
  5; it never FAILs (that would need the lower bound above 5 %).
- 10 %: FAIL. The lower bound (about 10 - 2.2 = 7.8 %) is above 5 %.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pytest_roo.monitor.ab import ABBA, OverheadAB
from pytest_roo.monitor.overhead import judge_overhead, log_ratios, pairs_needed

PAIRS = 40  # 20 ABBA rounds


def rounds(overhead: float, seed: int, pairs: int = PAIRS, noise: float = 0.05
           ) -> tuple[np.ndarray, np.ndarray]:
    """Throughputs: off ~ 1000 (1 +- noise), on ~ 1000 / (1 + overhead) (1 +- noise)."""
    rng = np.random.default_rng(seed)
    off = 1000 * (1 + rng.normal(0, noise, pairs))
    on = 1000 / (1 + overhead) * (1 + rng.normal(0, noise, pairs))
    return off, on


def statuses(overhead: float, seeds: int = 200, **kwargs: object) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "inconclusive": 0}
    for seed in range(seeds):
        off, on = rounds(overhead, seed)
        verdict = judge_overhead(off, on, limit=0.05, higher_is_better=True, **kwargs)  # type: ignore[arg-type]
        counts[verdict.status] += 1
    return counts


def test_zero_overhead_passes() -> None:
    off, on = rounds(0.0, seed=1)
    verdict = judge_overhead(off, on, limit=0.05, higher_is_better=True)
    assert verdict.status == "pass", verdict.reason
    assert verdict.upper < 0.05 and verdict.bound == verdict.upper
    assert verdict.samples == PAIRS
    assert statuses(0.0)["pass"] >= 190  # of 200 seeds


def test_three_percent_overhead_is_inconclusive_at_40_pairs() -> None:
    off, on = rounds(0.03, seed=1)
    verdict = judge_overhead(off, on, limit=0.05, higher_is_better=True)
    assert verdict.status == "inconclusive", verdict.reason
    assert verdict.lower < 0.05 < verdict.upper
    assert verdict.details["more_pairs"] > 0
    assert "more pairs" in verdict.reason
    counts = statuses(0.03)
    assert counts["fail"] <= 4 and counts["inconclusive"] > counts["pass"]


def test_three_percent_overhead_passes_with_enough_pairs() -> None:
    off, on = rounds(0.03, seed=1, pairs=400)
    assert judge_overhead(off, on, limit=0.05, higher_is_better=True).status == "pass"


def test_ten_percent_overhead_fails() -> None:
    off, on = rounds(0.10, seed=1)
    verdict = judge_overhead(off, on, limit=0.05, higher_is_better=True)
    assert verdict.status == "fail", verdict.reason
    assert verdict.lower > 0.05 and verdict.bound == verdict.lower
    assert verdict.estimate == pytest.approx(0.10, abs=0.03)
    assert statuses(0.10)["fail"] >= 190


def test_bootstrap_agrees_and_is_reproducible() -> None:
    for overhead, expected in ((0.0, "pass"), (0.10, "fail")):
        off, on = rounds(overhead, seed=1)
        first = judge_overhead(off, on, higher_is_better=True, method="bootstrap", seed=3)
        again = judge_overhead(off, on, higher_is_better=True, method="bootstrap", seed=3)
        assert first.status == expected
        assert (first.lower, first.upper) == (again.lower, again.upper)


def test_latency_overhead_uses_on_over_off() -> None:
    off = [10.0] * 10
    on = [11.0] * 10  # 10 % slower
    verdict = judge_overhead(off, on, limit=0.05, higher_is_better=False)
    assert verdict.status == "fail" and verdict.estimate == pytest.approx(0.10)
    assert list(np.round(np.expm1(log_ratios(off, on, higher_is_better=False)), 6)) == [0.1] * 10


def test_few_pairs_are_inconclusive() -> None:
    verdict = judge_overhead([1.0] * 3, [1.0] * 3, higher_is_better=True)
    assert verdict.status == "inconclusive" and "need at least 6" in verdict.reason


@pytest.mark.parametrize(
    ("off", "on", "message"),
    [([1.0, 2.0], [1.0], "pair up"), ([1.0, 0.0], [1.0, 1.0], "positive finite"),
     ([1.0, float("nan")], [1.0, 1.0], "positive finite")],
)
def test_bad_measurements_are_rejected(off: list[float], on: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge_overhead(off, on, higher_is_better=True)


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="accepted: hodges-lehmann, bootstrap"):
        judge_overhead([1.0] * 8, [1.0] * 8, higher_is_better=True, method="t")  # type: ignore[arg-type]


def test_pairs_needed_table() -> None:
    """The rounds-vs-noise table of docs/monitor.md (true overhead 0 %, limit 5 %, 80 % power)."""
    assert [pairs_needed(n, 0.0, 0.05) for n in (0.01, 0.02, 0.05, 0.10, 0.20)] == \
        [1, 3, 18, 70, 277]
    assert pairs_needed(0.05, 0.03, 0.05) == 112
    with pytest.raises(ValueError, match="never decided"):
        pairs_needed(0.05, 0.05, 0.05)


def test_pairs_needed_matches_simulation() -> None:
    """At the computed 18 pairs, 0 % overhead at 5 % noise passes about 80 % of the time."""
    passed = 0
    for seed in range(300):
        off, on = rounds(0.0, seed, pairs=18)
        passed += judge_overhead(off, on, limit=0.05, higher_is_better=True).passed
    assert 0.70 <= passed / 300 <= 0.92


# -- the runner -----------------------------------------------------------------------------


class FakeFeature:
    """A feature that costs 10 % when on; records the order of calls."""

    def __init__(self, cost: float = 0.10) -> None:
        self.on = False
        self.cost = cost
        self.log: list[str] = []
        self.noise = itertools.cycle([1.0, 1.01, 0.99, 1.02, 0.98])

    def switch(self, on: bool) -> None:
        self.on = on
        self.log.append("switch-on" if on else "switch-off")

    def throughput(self) -> float:
        self.log.append("on" if self.on else "off")
        return 1000.0 / (1 + self.cost if self.on else 1.0) * next(self.noise)


def test_runner_runs_abba_and_judges() -> None:
    feature = FakeFeature(0.10)
    result = OverheadAB(feature.switch, feature.throughput, higher_is_better=True, rounds=5,
                        warmup_rounds=1).run()
    runs = [entry for entry in feature.log if not entry.startswith("switch")]
    assert runs == ["off", "on"] + list(ABBA) * 5
    assert feature.on is False  # ABBA ends with A: no switch needed at the end
    assert result.rounds == 5 and result.stopped_by == "rounds"
    assert len(result.pairs) == 10
    assert result.verdict.status == "fail"
    data = result.to_dict()
    assert data["verdict"]["status"] == "fail" and len(data["measurements"]) == 22


def test_runner_switches_only_on_change() -> None:
    feature = FakeFeature(0.0)
    OverheadAB(feature.switch, feature.throughput, higher_is_better=True, rounds=2,
               warmup_rounds=0).run()
    switches = [entry for entry in feature.log if entry.startswith("switch")]
    # A B B A A B B A: on, off, on, off + the final reset (already off: not called)
    assert switches == ["switch-off", "switch-on", "switch-off", "switch-on", "switch-off"]


def test_runner_is_bounded_by_time() -> None:
    clock = itertools.count(0.0, 1.0)  # every clock read is one second later
    feature = FakeFeature(0.0)
    result = OverheadAB(feature.switch, feature.throughput, higher_is_better=True, rounds=100,
                        max_time=40, warmup_rounds=0, clock=lambda: float(next(clock))).run()
    assert result.stopped_by == "max_time"
    assert 1 <= result.rounds < 100


def test_runner_switches_off_when_the_workload_raises() -> None:
    feature = FakeFeature(0.0)
    calls = 0

    def workload() -> float:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("server went away")
        return feature.throughput()

    with pytest.raises(RuntimeError, match="went away"):
        OverheadAB(feature.switch, workload, higher_is_better=True, rounds=3).run()
    assert feature.on is False


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "fast", None, True])
def test_runner_rejects_bad_workload_values(value: object) -> None:
    with pytest.raises(ValueError, match="must return a positive number"):
        OverheadAB(lambda on: None, lambda: value, higher_is_better=True, rounds=1).run()  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rounds": 0}, "rounds must be"), ({"max_time": 0}, "max_time must be"),
     ({"warmup_rounds": -1}, "warmup_rounds must be")],
)
def test_runner_rejects_bad_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OverheadAB(lambda on: None, lambda: 1.0, higher_is_better=True, **kwargs)  # type: ignore[arg-type]
