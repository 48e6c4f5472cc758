"""Results split by phase: the recorder's marks and cuts on synthetic samples, the phases in a
LoadResult (JSON, merge, ``after(Ns)``), and phase criteria judged."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pytest_roo import slo
from pytest_roo.faults.windows import FaultWindow, phase_at
from pytest_roo.load.phases import PhaseSplitter
from pytest_roo.load.recorder import Recorder
from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo.spec import CriterionError, parse


class Run:
    """A recorder and its splitter driven by hand on a clock of its own: instant ``t`` is
    ``base + t`` on the windows' clock."""

    def __init__(self, windows: list[tuple[float, float | None]]) -> None:
        self.base = time.monotonic() - 100.0
        self.now = self.base
        self.windows = [FaultWindow("down") for _ in windows]  # made before the run: pending
        self.result = LoadResult(name="synthetic")
        self.rec = Recorder(self.result, "latency")
        self.rec.window_start = time.perf_counter()
        self.rec.phases = self.split = PhaseSplitter(self.rec)
        self.split.clock = lambda: self.now
        for window, (start, end) in zip(self.windows, windows, strict=True):
            window.started = self.base + start
            window.ended = None if end is None else self.base + end

    def at(self, t: float, ms: float = 1.0, ok: int = 0, failed: int = 0) -> None:
        """Operations that started at about ``t - ms`` and ended at ``t``: ``ok`` of them
        took ``ms`` ms, ``failed`` were refused (counted at ``t``, where they started)."""
        self.now = self.base + t - 0.001
        self.split.poll()
        self.now = self.base + t
        buf = self.rec.batch("latency")
        buf.extend([int(ms * 1000)] * ok)
        self.rec.ops += ok + failed
        if failed:
            self.rec.error("refused", failed)
        self.split.poll()

    def end(self, t: float = 10.0) -> LoadResult:
        self.now = self.base + t
        self.split.poll()
        self.rec.fold()
        self.result.operations = self.rec.ops
        self.split.finish()
        return self.result


def test_samples_counts_and_errors_land_in_their_phase() -> None:
    run = Run([(1.0, 2.0)])
    run.at(0.5, ms=1, ok=10)
    run.rec.fold()  # a fold between marks: the cut positions start again from 0
    run.at(0.7, ms=1, ok=10)
    run.at(1.2, ms=50, ok=5, failed=5)
    run.at(1.9, ms=50, ok=0, failed=10)
    run.at(2.05, ms=2, ok=20)
    run.at(2.55, ms=3, ok=30)
    result = run.end()
    before, during, after = (result.phases[p] for p in ("before", "during", "after"))
    assert (before.operations, sum(before.errors.values())) == (20, 0)
    assert before.metrics["latency"].count == 20
    assert before.metrics["latency"].max == pytest.approx(0.001, rel=0.01)
    # a sample counts where its operation started: 500 ms before 1.3 s is before the fault
    assert during.metrics["latency"].max == pytest.approx(0.05, rel=0.01)
    assert (during.operations, during.errors["refused"]) == (20, 15)
    assert during.metrics["latency"].count == 5
    assert (after.operations, after.metrics["latency"].count) == (50, 50)
    # the whole result is unchanged by the split
    assert result.operations == 90 and result.metrics["latency"].count == 75
    assert result.info["fault_windows"][0]["kind"] == "down"
    # after(0.5s): only the slices that start at least 0.5 s after the end
    late = result.phase("after", 0.5)
    assert late is not None
    assert (late.operations, late.metrics["latency"].count) == (30, 30)
    assert late.metrics["latency"].min == pytest.approx(0.003, rel=0.01)


def test_a_window_made_while_the_run_goes_is_seen() -> None:
    run = Run([])
    run.at(0.5, ok=10)
    window = FaultWindow("restart", target="postgres")
    window.started, window.ended = run.base + 1.0, run.base + 1.5
    run.at(1.2, ok=0, failed=4)
    run.at(1.7, ok=6)
    result = run.end()
    assert result.phases["before"].operations == 10
    assert result.phases["during"].errors["refused"] == 4
    assert result.phases["after"].metrics["latency"].count == 6
    shown = result.info["fault_windows"]
    assert [(w["kind"], w["target"]) for w in shown] == [("restart", "postgres")]
    assert shown[0]["ended"] - shown[0]["started"] == pytest.approx(0.5)


def test_a_run_that_overlaps_no_window_has_no_phases() -> None:
    run = Run([])
    run.at(0.5, ok=10)
    result = run.end()
    assert result.phases == {} and result.phase("after") is None
    pending = Run([(10_000.0, None)])  # starts long after the run
    pending.windows[0].started = None
    pending.at(0.5, ok=3)
    assert pending.end().phases == {}


def test_phase_of_an_instant_among_several_windows() -> None:
    first, second = FaultWindow("down"), FaultWindow("down")
    first.started, first.ended = 10.0, 12.0
    second.started, second.ended = 20.0, None
    assert phase_at([first, second], 9.0) == ("before", 0.0)
    assert phase_at([first, second], 11.0) == ("during", 0.0)
    assert phase_at([first, second], 15.0) == ("after", 3.0)
    assert phase_at([first, second], 25.0) == ("during", 0.0)


def split_result() -> LoadResult:
    run = Run([(1.0, 2.0)])
    run.at(0.5, ms=1, ok=100)
    run.at(1.5, ms=1, ok=10, failed=90)
    run.at(2.05, ms=1, ok=50, failed=50)  # the first second after: still failing
    run.at(3.5, ms=80, ok=200)
    return run.end()


def test_phases_travel_in_json_and_merge() -> None:
    result = split_result()
    back = LoadResult.from_json(result.to_json())
    for name in ("before", "during", "after"):
        assert back.phases[name].operations == result.phases[name].operations
        assert back.phases[name].errors == result.phases[name].errors
        assert back.phases[name].metrics["latency"].count == \
            result.phases[name].metrics["latency"].count
    late, late_back = result.phase("after", 1.0), back.phase("after", 1.0)
    assert late is not None and late_back is not None
    assert late_back.operations == late.operations == 200
    assert late_back.metrics["latency"].count == 200
    merged = result.merge(back)
    assert merged.phases["during"].operations == 2 * result.phases["during"].operations
    late_merged = merged.phase("after", 1.0)
    assert late_merged is not None and late_merged.operations == 400
    assert result.to_dict()["phases"]["during"]["error_rate"] == pytest.approx(0.9)
    assert "phases" not in LoadResult(name="plain").to_dict()


def verdicts(result: LoadResult, *criteria: str) -> dict[str, Any]:
    return {v.criterion: v for v in slo.evaluate(result, criteria, confidence=0)}


def test_phase_criteria_are_judged_on_their_phase() -> None:
    result = split_result()
    judged = verdicts(result, "before.error_rate < 1%", "during.error_rate < 20%",
                      "after.error_rate < 1%", "after(1s).error_rate < 1%",
                      "after(1s).p95 < 50ms", "before.p95 < 5ms", "error_rate < 50%")
    assert judged["before.error_rate < 1%"].status == "pass"
    assert judged["during.error_rate < 20%"].status == "fail"
    assert judged["during.error_rate < 20%"].measured == pytest.approx(0.9)
    assert judged["after.error_rate < 1%"].status == "fail"  # the slow first second
    assert judged["after(1s).error_rate < 1%"].status == "pass"
    assert judged["after(1s).p95 < 50ms"].status == "fail"  # 80 ms after the first second
    assert judged["after(1s).p95 < 50ms"].samples == 200
    assert judged["before.p95 < 5ms"].status == "pass"
    assert judged["after(1s).error_rate < 1%"].result == result.name


def test_an_empty_phase_or_no_phases_is_inconclusive() -> None:
    result = split_result()
    empty = verdicts(result, "after(60s).error_rate < 1%")["after(60s).error_rate < 1%"]
    assert empty.status == "inconclusive" and "no samples in the after(60s) phase" in empty.reason
    plain = LoadResult.from_samples("plain", [0.001] * 50)
    none = verdicts(plain, "during.p95 < 1s")["during.p95 < 1s"]
    assert none.status == "inconclusive" and "overlapped no fault window" in none.reason
    with pytest.raises(slo.SloFailure, match="INCONCLUSIVE"):
        slo.check(plain, "during.p95 < 1s")


def test_phase_criteria_are_never_lost_early() -> None:
    result = split_result()
    assert slo.lost_early(result, ["during.error_rate < 1%"], 1000) == []


@pytest.mark.parametrize(("text", "message"), [
    ("durin.latency.p95 < 1s", "unknown phase 'durin'"),
    ("durin.error_rate < 1%", "a phase prefix is one of before, during, after"),
    ("during(5s).p95 < 1s", "only after takes a delay"),
    ("after(5).error_rate < 1%", "after(5): expected a delay with its unit"),
    ("after.memory.max < 1GB", "resource timeline, which has no phases"),
    ("after.p95 < 1parsec", "unknown unit"),
])
def test_bad_phase_prefixes_are_named(text: str, message: str) -> None:
    with pytest.raises(CriterionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_phase_prefixes_parse() -> None:
    c = parse("after(500ms).latency.p99 <= 0.2s")
    assert (c.phase, c.delay, c.metric, c.percentile, c.limit) == ("after", 0.5, "latency",
                                                                    99.0, 0.2)
    assert parse("during.error_rate < 20%").phase == "during"
    assert parse("delivery.p99 < 1s").phase is None


def test_a_phase_never_has_more_failures_than_operations() -> None:
    # an operation counted on one side of an edge, its failure (by its exact start) on the
    # other: the phase's rate stays a rate
    run = Run([(1.0, 2.0)])
    run.at(0.5, ok=10)
    run.at(1.5, ok=0, failed=5)
    result = run.end()
    result.phases["during"].operations = 3
    view = result.phase("during")
    assert view is not None and view.operations == 5 and view.error_rate == 1.0
    (verdict,) = slo.evaluate(result, ["during.error_rate < 20%"])
    assert verdict.status == "fail"
