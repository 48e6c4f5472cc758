"""Workload models: who sends when.

* **closed**: ``clients`` virtual users each loop (operation, optional think time). Throughput
  follows the server; a stalled server silences the generator (coordinated omission), so closed
  runs record with HdrHistogram's expected-interval correction.
* **open**: operations arrive at a ``rate`` on a schedule that does not wait for replies; each
  latency is measured from the operation's *intended* start. Late starts are counted, and
  arrivals that find no free client for longer than the backlog allows are dropped and counted.
* **stages**: a rate that changes over the run, in steps or linear ramps, e.g.
  ``steps(200, (1, 10), each="10s")`` for 1x -> 10x. Stages are arrival rates, so they imply
  the open model; with ``model="closed"`` they are rejected (a closed run's load is its fixed
  number of clients, and reading the targets as client counts changed nothing when they
  exceeded ``clients``).

Pure logic, no I/O: unit-tested directly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from pytest_roo.units import parse_duration, parse_rate

__all__ = ["Schedule", "Stage", "Workload", "make_workload", "steps"]

STAGE_FORMS = (
    "a list of (duration, rate) pairs such as [('10s', '100/s'), ('10s', '1000/s')], "
    "or Stage(duration, target, ramp=True) objects"
)


@dataclasses.dataclass(frozen=True)
class Stage:
    """``duration`` seconds at ``target`` operations per second (stages imply the open model).

    With ``ramp=True`` the value moves linearly from the previous stage's target (or the first
    stage's own target) to this target over the stage (k6's ``ramping-arrival-rate``).
    """

    duration: float
    target: float
    ramp: bool = False


def steps(base: float | str, multipliers: Sequence[float], each: float | str) -> list[Stage]:
    """Stages at ``base * m`` for every multiplier, ``each`` long: ``steps(100, (1, 10), "10s")``."""
    rate = parse_rate(base)
    seconds = parse_duration(each)
    return [Stage(seconds, rate * m) for m in multipliers]


def _as_stages(stages: Sequence[Any]) -> list[Stage]:
    out: list[Stage] = []
    for item in stages:
        if isinstance(item, Stage):
            out.append(item)
            continue
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"invalid stage {item!r}: expected {STAGE_FORMS}")
        duration = parse_duration(item[0])
        target = parse_rate(item[1])
        ramp = bool(item[2]) if len(item) == 3 else False
        out.append(Stage(duration, target, ramp))
    if not out:
        raise ValueError(f"stages must not be empty: expected {STAGE_FORMS}")
    for stage in out:
        if stage.duration <= 0 or stage.target < 0 or not math.isfinite(stage.target):
            raise ValueError(f"invalid stage {stage!r}: duration > 0 and target >= 0 required")
    return out


class Schedule:
    """Arrival times of an open workload: ``time_of(k)`` is when arrival ``k`` (0-based) is due.

    The rate is piecewise constant or linear, so the cumulative count is piecewise quadratic and
    is inverted exactly; intended times do not drift over long runs.

    >>> s = Schedule([Stage(1.0, 10.0)])
    >>> [round(s.time_of(k), 3) for k in (0, 1, 9)], s.total
    ([0.0, 0.1, 0.9], 10)
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)
        self._segments: list[tuple[float, float, float, float, float]] = []
        start = 0.0
        count = 0.0
        prev = self.stages[0].target
        for stage in self.stages:
            r0 = prev if stage.ramp else stage.target
            r1 = stage.target
            n = (r0 + r1) / 2.0 * stage.duration
            self._segments.append((start, stage.duration, r0, r1, count))
            start += stage.duration
            count += n
            prev = stage.target
        self.duration = start
        self.expected = count
        self.total = math.floor(count + 1e-9)

    def time_of(self, k: int) -> float:
        """Seconds from the start of the run at which arrival ``k`` is due (inf past the end)."""
        if k >= self.total:
            return math.inf
        for start, length, r0, r1, before in self._segments:
            n = (r0 + r1) / 2.0 * length
            if k < before + n - 1e-9:
                x = k - before
                slope = (r1 - r0) / length
                if abs(slope) < 1e-12:
                    return start + x / r0
                # x = r0 t + slope t^2 / 2  ->  t = (-r0 + sqrt(r0^2 + 2 slope x)) / slope
                disc = max(0.0, r0 * r0 + 2.0 * slope * x)
                return start + (-r0 + math.sqrt(disc)) / slope
        return math.inf


@dataclasses.dataclass
class Workload:
    """The resolved keywords every scenario shares."""

    clients: int
    duration: float
    rate: float | None = None
    stages: list[Stage] | None = None
    think: float = 0.0
    message_size: int = 32

    @property
    def open(self) -> bool:
        """True for the open model (arrivals at a rate), False for the closed model (clients
        loop)."""
        return self.rate is not None or self.stages is not None

    def schedule(self) -> Schedule:
        """The open model's arrival schedule: its stages, or one stage at the constant rate."""
        if self.stages is not None:
            return Schedule(self.stages)
        assert self.rate is not None
        return Schedule([Stage(self.duration, self.rate)])

    def describe(self) -> dict[str, Any]:
        """The workload as plain data for the result's info (model, clients, duration, rate...)."""
        out: dict[str, Any] = {
            "model": "open" if self.open else "closed",
            "clients": self.clients,
            "duration": self.duration,
            "message_size": self.message_size,
        }
        if self.rate is not None:
            out["rate"] = self.rate
        if self.think:
            out["think"] = self.think
        if self.stages:
            out["stages"] = [dataclasses.asdict(s) for s in self.stages]
        return out


def make_workload(
    *,
    clients: int | None,
    duration: float | str | None,
    rate: float | str | None = None,
    stages: Sequence[Any] | None = None,
    think: float | str | None = None,
    message_size: int | None = None,
    model: str | None = None,
    default_clients: int = 10,
    default_duration: float = 10.0,
    default_rate: float | None = None,
) -> Workload:
    """Check and resolve the shared keywords; errors name the bad value and the accepted forms."""
    if clients is None:
        clients = default_clients
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ValueError(f"invalid clients={clients!r}: expected a positive whole number")
    if model not in (None, "open", "closed"):
        raise ValueError(f"invalid model={model!r}: expected 'open' or 'closed'")
    parsed_stages: list[Stage] | None = None
    if stages is not None:
        if model == "closed":
            raise ValueError(
                "stages= describe arrival rates, which is the open model, but model='closed' "
                "was given: drop model='closed' (stages then set the rate), or drop stages= "
                "and give clients= (a closed run keeps a fixed number of clients busy)"
            )
        if rate is not None:
            raise ValueError(f"invalid rate={rate!r} with stages=: the stages set the rate; "
                             "give one or the other")
        parsed_stages = _as_stages(stages)
        total = sum(s.duration for s in parsed_stages)
        dur = total if duration is None else parse_duration(duration)
    else:
        dur = default_duration if duration is None else parse_duration(duration)
    if dur <= 0:
        raise ValueError(f"invalid duration={duration!r}: must be longer than zero")
    parsed_rate: float | None = None
    if rate is not None and stages is None:
        parsed_rate = parse_rate(rate)
    elif rate is None and stages is None and model == "open":
        if default_rate is None:
            raise ValueError("model='open' needs rate= (e.g. rate='2000/s') or stages=")
        parsed_rate = default_rate
    if model == "closed" and parsed_rate is not None:
        raise ValueError(f"invalid rate={rate!r} with model='closed': a rate is the open "
                         "model; drop model='closed' or drop rate=")
    size = 32 if message_size is None else message_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size > 64 * 1024 * 1024:
        raise ValueError(f"invalid message_size={message_size!r}: expected 1 .. 67108864 bytes")
    return Workload(
        clients=clients,
        duration=dur,
        rate=parsed_rate,
        stages=parsed_stages,
        think=0.0 if think is None else parse_duration(think),
        message_size=size,
    )
