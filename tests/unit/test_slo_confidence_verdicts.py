"""Verdicts on confidence bounds: PASS, FAIL or INCONCLUSIVE with the samples that would decide."""

from __future__ import annotations

import math

import pytest

from pytest_roo import slo
from pytest_roo.results.metrics import LoadResult
from pytest_roo.results.verdict import Verdict, format_verdicts


def runs(ok: int, failed: int) -> LoadResult:
    result = LoadResult(name="iterations")
    result.operations = ok + failed
    if failed:
        result.add_error("assertion", failed)
    return result


@pytest.mark.parametrize(
    ("ok", "failed", "criterion", "status"),
    [
        (20, 0, "success_rate >= 95%", "inconclusive"),  # 20/20 cannot show 95 %
        (58, 0, "success_rate >= 95%", "inconclusive"),
        (59, 0, "success_rate >= 95%", "pass"),
        (92, 1, "success_rate >= 95%", "pass"),
        (60, 40, "success_rate >= 95%", "fail"),
        (100, 0, "error_rate < 1%", "inconclusive"),
        (1000, 0, "error_rate < 1%", "pass"),
        (970, 30, "error_rate < 1%", "fail"),
        (20, 0, "success_rate >= 100%", "pass"),  # "no failure": judged on what was seen
        (19, 1, "success_rate >= 100%", "fail"),
    ],
)
def test_rates_are_judged_on_bounds(ok: int, failed: int, criterion: str, status: str) -> None:
    (verdict,) = slo.evaluate(runs(ok, failed), [criterion])
    assert verdict.status == status, verdict
    assert verdict.passed is (status == "pass")
    if status == "inconclusive":
        assert "more samples would decide" in verdict.reason
        assert verdict.bound is not None and verdict.confidence == 0.95


def test_inconclusive_says_how_many_more_runs() -> None:
    (verdict,) = slo.evaluate(runs(20, 0), ["success_rate >= 95%"])
    assert "about 39 more samples would decide" in verdict.reason
    assert round(verdict.bound or 0, 3) == 0.861


def test_confidence_zero_is_the_point_estimate() -> None:
    (verdict,) = slo.evaluate(runs(20, 0), ["success_rate >= 95%"], confidence=0)
    assert verdict.status == "pass" and verdict.bound is None


def test_percentiles_need_enough_samples_above_the_limit() -> None:
    few = LoadResult.from_samples("few", [0.010] * 30, metric="rtt")
    (verdict,) = slo.evaluate(few, ["p95 < 50ms"])
    # 30 samples cannot bound a p95 from above at 95 %
    assert verdict.status == "inconclusive" and math.isinf(verdict.bound or 0)
    many = LoadResult.from_samples("many", [0.010] * 200, metric="rtt")
    assert slo.evaluate(many, ["p95 < 50ms"])[0].status == "pass"
    slow = LoadResult.from_samples("slow", [0.080] * 200, metric="rtt")
    assert slo.evaluate(slow, ["p95 < 50ms"])[0].status == "fail"


def test_a_census_is_judged_as_counted() -> None:
    result = runs(16, 0)
    result.info["census"] = True
    (verdict,) = slo.evaluate(result, ["success_rate >= 95%"])
    assert verdict.status == "pass" and verdict.confidence == 0


def test_inconclusive_fails_a_check_and_says_so() -> None:
    with pytest.raises(slo.SloFailure) as caught:
        slo.check(runs(20, 0), "success_rate >= 95%")
    first = str(caught.value).splitlines()[0]
    assert first.startswith("1 of 1 criteria inconclusive: success_rate >= 95% measured 100.0%")
    assert "INCONCLUSIVE" in str(caught.value)


def test_verdict_json_round_trip_keeps_status_and_bound() -> None:
    (verdict,) = slo.evaluate(LoadResult.from_samples("few", [0.01] * 30, metric="rtt"),
                              ["p95 < 50ms"])
    data = verdict.to_dict()
    assert data["status"] == "inconclusive" and data["bound"] is None  # inf is not JSON
    assert data["bound_text"] == "<= n/a @95%"
    again = Verdict.from_dict(data)
    assert again.status == "inconclusive" and not again.passed
    old = {k: v for k, v in data.items() if k not in ("status", "bound", "confidence")}
    assert Verdict.from_dict({**old, "passed": True}).status == "pass"  # reports from before


def test_the_table_shows_the_bound() -> None:
    verdicts = slo.evaluate(runs(59, 0), ["success_rate >= 95%"])
    table = format_verdicts(verdicts)
    assert ">= 95.0% @95%" in table and "PASS" in table


def test_a_failure_names_the_errors_by_kind_and_why_the_run_stopped() -> None:
    result = LoadResult.from_samples("echo", [0.001] * 400, metric="rtt")
    result.add_error("mismatch", 7)
    result.add_error("timeout", 2)
    result.operations += 9
    result.info["error_examples"] = {"mismatch": "reply 'roo:ab12:3:' is 16 characters, sent 64"}
    result.info["stopped"] = "aborted: error_rate < 1% lost early"
    with pytest.raises(slo.SloFailure) as caught:
        slo.check(result, "error_rate < 1%")
    text = str(caught.value)
    assert "errors of echo: mismatch 7, timeout 2" in text
    assert "mismatch: reply 'roo:ab12:3:' is 16 characters" in text
    assert "echo stopped: aborted: error_rate < 1% lost early" in text
