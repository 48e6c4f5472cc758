"""Merging the results of a run's workers: the merged result is exactly the sum of its parts
(operations, errors, counters, every histogram bucket, each second of the timeline), after the
trip through the wire form (JSON with HdrHistogram base64 payloads); the saturation verdict
covers every worker. Pure logic on synthetic results."""

from __future__ import annotations

import json
import random
from collections import Counter

from pytest_roo.load.merge import Part, from_wire, merge_results, to_wire
from pytest_roo.results.metrics import LoadResult, TimelinePoint


def part_result(seed: int, ops: int, window_start: float) -> tuple[LoadResult, list[int]]:
    rng = random.Random(seed)
    samples = [int(rng.lognormvariate(8, 1.2)) + 1 for _ in range(ops)]
    result = LoadResult(name="ws.echo", started_at=window_start - 0.3, duration=3.0)
    result.metric("rtt").record_many_us(samples)
    result.metric("connect").record_many_us([rng.randint(100, 5000) for _ in range(10)])
    result.operations = ops + 7
    result.errors.update({"timeout": 5, "mismatch": 2})
    result.counters.update({"late": 3, "scheduled": ops + 7, "clients_connected": 5,
                            "numsub_at_start": 10})
    result.timeline = [TimelinePoint(s, ops=ops // 3, errors=2, p95=0.01 * (s + seed),
                                     error_kinds={"timeout": 2}) for s in range(3)]
    result.generator = {"cpu": 0.3 + seed / 10, "cpu_seconds": 1.0, "wall_seconds": 4.0,
                        "loop_lag_max": 0.001 * seed, "max_cpu": 0.9}
    result.info = {"clients": 5, "rate": 100.0, "scenario": "echo", "url": "ws://h/ws",
                   "error_examples": {"timeout": f"from worker {seed}"},
                   "stages": [{"duration": 3.0, "target": 100.0, "ramp": False}]}
    return result, samples


def through_the_wire(result: LoadResult) -> LoadResult:
    return from_wire(json.loads(json.dumps(to_wire(result))))


def test_the_merged_result_is_the_sum_of_its_parts() -> None:
    start = 1_800_000_000.0
    a, samples_a = part_result(1, 3000, start)
    b, samples_b = part_result(2, 2000, start + 1.0)  # its window began one second later
    merged = merge_results([Part(through_the_wire(a), "worker 1/2", start),
                            Part(through_the_wire(b), "worker 2/2", start + 1.0)])
    assert merged.operations == a.operations + b.operations
    assert merged.errors == a.errors + b.errors
    assert merged.counters["late"] == 6 and merged.counters["clients_connected"] == 10
    assert merged.counters["numsub_at_start"] == 10  # a level, not a count
    # every bucket: the same histogram as all samples recorded in one place
    whole = LoadResult(name="all")
    whole.metric("rtt").record_many_us(samples_a + samples_b)
    expected = whole.metric("rtt").histogram
    got = merged.metric("rtt").histogram
    assert got.get_total_count() == len(samples_a) + len(samples_b)
    assert list(got.counts) == list(expected.counts)
    for p in (50, 90, 99, 99.9):
        assert merged.percentile("rtt", p) == whole.percentile("rtt", p)
    assert merged.metric("connect").count == 20
    # timelines aligned by absolute second: b's second 0 is a's second 1
    assert [(p.second, p.ops, p.errors) for p in merged.timeline] == [
        (0, 1000, 2), (1, 1000 + 666, 4), (2, 1000 + 666, 4), (3, 666, 2)]
    assert merged.timeline[1].error_kinds == {"timeout": 4}
    assert merged.timeline[1].p95 == max(0.01 * (1 + 1), 0.01 * (0 + 2))
    assert sum(p.ops for p in merged.timeline) == sum(p.ops for p in a.timeline + b.timeline)
    assert merged.duration == 4.0  # from a's start to b's end
    # the description sums the shares; examples come from whichever worker saw them
    assert merged.info["clients"] == 10 and merged.info["rate"] == 200.0
    assert merged.info["stages"] == [{"duration": 3.0, "target": 200.0, "ramp": False}]
    assert merged.info["error_examples"] == {"timeout": "from worker 1"}
    assert merged.info["processes"] == 2
    assert [w["operations"] for w in merged.info["workers"]] == [a.operations, b.operations]
    assert merged.generator["cpu"] == 0.5 and merged.generator["cpu_seconds"] == 2.0
    assert merged.saturated is None


def test_one_saturated_worker_saturates_the_run_naming_it() -> None:
    a, _ = part_result(1, 100, 0.0)
    b, _ = part_result(2, 100, 0.0)
    b.saturated = "load generator saturated: client CPU 97% of one core"
    merged = merge_results([Part(a, "worker 1/2 (pid 11)", 0.0), Part(b, "worker 2/2 (pid 12)",
                                                                       0.0)])
    assert merged.saturated == ("worker 2/2 (pid 12): load generator saturated: client CPU 97% "
                                "of one core")


def test_the_schedule_is_judged_over_every_worker_together() -> None:
    # each worker: 4 late of 50 -- under the 5-late floor alone; together 12 of 150 (8 %)
    parts = []
    for i in range(3):
        r = LoadResult(name="http.get", duration=1.0)
        r.operations = 50
        r.counters.update({"scheduled": 50, "late": 4})
        parts.append(Part(r, f"worker {i + 1}/3", 0.0))
    merged = merge_results(parts)
    assert merged.saturated is not None
    assert merged.saturated.startswith("all workers together: schedule not kept: 12 of 150")


def test_wire_form_is_lossless_and_cheap() -> None:
    a, _ = part_result(3, 500, 10.0)
    back = through_the_wire(a)
    assert back.metric("rtt").encode() == a.metric("rtt").encode()
    assert back.counters == a.counters and back.errors == Counter(a.errors)
    assert "summary" not in json.dumps(to_wire(a))


def test_reports_of_separate_jobs_merge_and_are_judged_as_one() -> None:
    """The recipe docs/load.md gives for a GitHub Actions matrix: each job's JSON report holds
    its results (base64 histograms); a last job merges them and judges the criteria."""
    import pytest

    from pytest_roo import slo
    from pytest_roo.slo import SloFailure

    a, _ = part_result(1, 3000, 100.0)
    b, _ = part_result(2, 3000, 100.4)
    reports = [json.loads(json.dumps({"results": [r.to_dict()]})) for r in (a, b)]
    parts = [Part(LoadResult.from_dict(report["results"][0]), f"job {i + 1}",
                  report["results"][0]["started_at"]) for i, report in enumerate(reports)]
    merged = merge_results(parts)
    assert merged.operations == a.operations + b.operations
    verdicts = slo.check(merged, "error_rate < 5%", "p50 < 10s")
    assert all(v.passed for v in verdicts)
    assert verdicts[0].samples == merged.operations
    with pytest.raises(SloFailure):
        slo.check(merged, "errors == 0")
