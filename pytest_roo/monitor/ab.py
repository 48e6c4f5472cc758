"""The A/B runner: the same workload with a feature off (A) and on (B), interleaved ABBA.

Rounds run A B B A: a drift of the machine that is linear over a round (another process warming
up, a cache filling) adds to the first pair what it takes from the second, so it cancels in the
pair average instead of biasing one arm. Every round yields two pairs, (A1, B1) and (A2, B2).

The runner is bounded by a number of rounds and by time: it starts a round only when the rounds
so far say it will end before ``max_time``. The switch is set back to off at the end, also when
the workload raises.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, Literal

from pytest_roo.monitor.overhead import Method, judge_overhead
from pytest_roo.monitor.verdict import StatVerdict

__all__ = ["ABResult", "Measurement", "OverheadAB", "run_overhead_ab"]

Arm = Literal["off", "on"]
ABBA: tuple[Arm, ...] = ("off", "on", "on", "off")


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One run of the workload: round number (0 = warm-up), arm, its value, when and how long."""

    round: int
    arm: Arm
    value: float
    started: float
    seconds: float


@dataclasses.dataclass
class ABResult:
    """The measurements of an A/B run and the verdict on them."""

    measurements: list[Measurement]
    verdict: StatVerdict
    rounds: int
    stopped_by: str
    duration: float

    @property
    def pairs(self) -> list[tuple[float, float]]:
        """(off, on) per pair, in the order they ran (warm-up excluded)."""
        return _pairs(self.measurements)

    def to_dict(self) -> dict[str, Any]:
        """The overhead run as plain data for the JSON report."""
        return {
            "kind": "overhead",
            "rounds": self.rounds,
            "stopped_by": self.stopped_by,
            "duration": self.duration,
            "measurements": [dataclasses.asdict(m) for m in self.measurements],
            "verdict": self.verdict.to_dict(),
        }


def _pairs(measurements: list[Measurement]) -> list[tuple[float, float]]:
    pairs: list[tuple[float, float]] = []
    by_round: dict[int, list[Measurement]] = {}
    for m in measurements:
        if m.round > 0:
            by_round.setdefault(m.round, []).append(m)
    for number in sorted(by_round):
        items = by_round[number]
        if len(items) != 4:
            continue  # an interrupted round: its half would not be drift-balanced
        a1, b1, b2, a2 = items
        pairs.append((a1.value, b1.value))
        pairs.append((a2.value, b2.value))
    return pairs


class OverheadAB:
    """Runs ``workload`` with ``switch(False)`` (A) and ``switch(True)`` (B) in ABBA rounds.

    Args:
        switch: turns the feature on (True) or off (False): an env var for the next start, an
            HTTP toggle, a restart with a flag. It is called before every measurement whose arm
            differs from the current state.
        workload: runs one short measurement and returns a positive number (a throughput, a
            latency, a duration).
        higher_is_better: True for a throughput, False for a latency or a duration.
        limit: the allowed overhead (0.05 = 5 %).
        rounds: the most ABBA rounds to run (each gives two pairs).
        max_time: seconds: no round is started that would likely end after it.
        warmup_rounds: rounds of A then B run first and thrown away.

    Example::

        ab = OverheadAB(lambda on: toggle_tracing(on), lambda: run_load().throughput,
                        higher_is_better=True, limit=0.05, rounds=10, max_time=120)
        result = ab.run()
        assert not result.verdict.failed, result.verdict.reason
    """

    def __init__(
        self,
        switch: Callable[[bool], object],
        workload: Callable[[], float],
        *,
        higher_is_better: bool,
        limit: float = 0.05,
        rounds: int = 10,
        max_time: float = 300.0,
        warmup_rounds: int = 1,
        confidence: float = 0.95,
        method: Method = "hodges-lehmann",
        seed: int = 0,
        name: str = "overhead",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be a whole number >= 1, got {rounds!r}")
        if isinstance(warmup_rounds, bool) or not isinstance(warmup_rounds, int) or warmup_rounds < 0:
            raise ValueError(f"warmup_rounds must be a whole number >= 0, got {warmup_rounds!r}")
        if not (isinstance(max_time, (int, float)) and math.isfinite(max_time) and max_time > 0):
            raise ValueError(f"max_time must be a positive number of seconds, got {max_time!r}")
        self.switch = switch
        self.workload = workload
        self.higher_is_better = higher_is_better
        self.limit = limit
        self.rounds = rounds
        self.max_time = float(max_time)
        self.warmup_rounds = warmup_rounds
        self.confidence = confidence
        self.method: Method = method
        self.seed = seed
        self.name = name
        self._clock = clock
        self._state: bool | None = None

    def _set(self, on: bool) -> None:
        if self._state is not on:
            self.switch(on)
            self._state = on

    def _measure(self, number: int, arm: Arm, origin: float) -> Measurement:
        self._set(arm == "on")
        started = self._clock()
        value = self.workload()
        seconds = self._clock() - started
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0
        ):
            raise ValueError(
                f"the workload returned {value!r}; it must return a positive number "
                "(a throughput, a latency, a duration)"
            )
        return Measurement(number, arm, float(value), started - origin, seconds)

    def run(self) -> ABResult:
        """Run the warm-up and measured rounds in ABBA order and judge the overhead."""
        origin = self._clock()
        measurements: list[Measurement] = []
        stopped_by = "rounds"
        done = 0
        try:
            for _ in range(self.warmup_rounds):
                for arm in ABBA[:2]:
                    measurements.append(self._measure(0, arm, origin))
            round_times: list[float] = []
            for number in range(1, self.rounds + 1):
                elapsed = self._clock() - origin
                expected = max(round_times) if round_times else 0.0
                if elapsed + expected > self.max_time:
                    stopped_by = "max_time"
                    break
                started = self._clock()
                for arm in ABBA:
                    measurements.append(self._measure(number, arm, origin))
                round_times.append(self._clock() - started)
                done = number
        finally:
            if self._state is not False:
                self.switch(False)
                self._state = False
        pairs = _pairs(measurements)
        verdict = judge_overhead(
            [a for a, _ in pairs],
            [b for _, b in pairs],
            limit=self.limit,
            higher_is_better=self.higher_is_better,
            confidence=self.confidence,
            method=self.method,
            seed=self.seed,
            name=self.name,
        )
        return ABResult(measurements, verdict, done, stopped_by, self._clock() - origin)


def run_overhead_ab(
    switch: Callable[[bool], object], workload: Callable[[], float], **options: Any
) -> ABResult:
    """``OverheadAB(switch, workload, **options).run()``."""
    return OverheadAB(switch, workload, **options).run()
