"""Verdicts as JUnit XML property pairs."""

from __future__ import annotations

from pytest_roo import slo
from pytest_roo.report.junit import verdict_properties
from pytest_roo.results.metrics import LoadResult


def test_every_verdict_becomes_a_numbered_group() -> None:
    result = LoadResult.from_samples("api", [0.002] * 50 + [0.09] * 50, metric="request")
    verdicts = [v.to_dict() for v in slo.evaluate(result, ["p95 < 50ms", "count >= 10"])]
    pairs = dict(verdict_properties(verdicts))
    assert pairs["roo.verdict.1.criterion"] == "p95 < 50ms"
    assert pairs["roo.verdict.1.result"] == "api / request"
    assert pairs["roo.verdict.1.measured"] == "90.0 ms"
    assert pairs["roo.verdict.1.limit"] == "< 50.0 ms"
    assert pairs["roo.verdict.1.status"] == "FAIL"
    assert pairs["roo.verdict.1.samples"] == "100"
    assert pairs["roo.verdict.2.criterion"] == "count >= 10"
    assert pairs["roo.verdict.2.status"] == "PASS"
    assert "roo.verdict.2.reason" not in pairs


def test_numbering_continues_after_earlier_properties() -> None:
    first = verdict_properties([{"criterion": "a", "passed": True}])
    later = verdict_properties([{"criterion": "b", "passed": True}], [("other", 1), *first])
    assert later[0] == ("roo.verdict.2.criterion", "b")


def test_status_bound_and_reason() -> None:
    pairs = dict(verdict_properties([{
        "criterion": "success_rate >= 95%", "result": "iterations", "measured": 1.0,
        "limit": 0.95, "passed": False, "status": "inconclusive", "bound": 0.861,
        "reason": "20 runs cannot show 95%", "samples": 20,
    }]))
    assert pairs["roo.verdict.1.status"] == "INCONCLUSIVE"
    assert pairs["roo.verdict.1.bound"] == "0.861"
    assert pairs["roo.verdict.1.measured"] == "1"
    assert pairs["roo.verdict.1.reason"] == "20 runs cannot show 95%"
    assert verdict_properties([]) == []
