"""The regression gate's pure logic: rules, the comparison's verdicts, baselines on disk."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pytest_roo.baseline import BaselineError, compare, load, parse_rules, save
from pytest_roo.baseline.compare import rate_difference_bounds, throughput_ratio_bounds
from pytest_roo.baseline.rules import RuleError
from pytest_roo.results.metrics import LoadResult
from pytest_roo.results.verdict import Verdict

RULES = parse_rules("p95:+10%,throughput:-5%,error_rate:+0.1%")


def synthetic(seed: int, n: int = 20_000, *, shift: float = 0.0, errors: int = 0,
              duration: float = 10.0) -> LoadResult:
    """Latencies with a p95 near 5 ms (lognormal, median 2.5 ms), plus ``shift`` seconds each."""
    rng = np.random.default_rng(seed)
    samples = rng.lognormal(math.log(0.0025), 0.42, n) + shift
    result = LoadResult.from_samples("load", samples, metric="rtt", duration=duration,
                                     errors={"timeout": errors} if errors else None)
    return result


def by_stat(verdicts: list[Verdict]) -> dict[str, str]:
    return {v.stat: v.status for v in verdicts}


def test_the_synthetic_p95_is_near_5ms() -> None:
    assert 0.0045 < synthetic(1).percentile("rtt", 95) < 0.0055


def test_no_change_passes_every_rule() -> None:
    verdicts = compare(synthetic(2), synthetic(1), RULES, baseline_name="main")
    assert by_stat(verdicts) == {"p95": "pass", "throughput": "pass", "error_rate": "pass"}
    p95 = next(v for v in verdicts if v.stat == "p95")
    assert p95.criterion == "p95:+10% vs main"
    assert p95.metric == "rtt" and p95.samples == 20_000
    assert p95.limit == pytest.approx(synthetic(1).percentile("rtt", 95) * 1.1)
    assert p95.bound is not None and p95.bound <= p95.limit
    assert p95.confidence == pytest.approx(0.975)  # each run's bound: both hold at 95 %


def test_a_20ms_shift_on_a_5ms_p95_fails_only_the_p95() -> None:
    verdicts = compare(synthetic(2, shift=0.020), synthetic(1), RULES)
    assert by_stat(verdicts) == {"p95": "fail", "throughput": "pass", "error_rate": "pass"}
    p95 = next(v for v in verdicts if v.stat == "p95")
    assert p95.measured > 0.024 and not p95.passed
    assert "above" in p95.reason


def test_a_small_noisy_sample_is_inconclusive_not_a_regression() -> None:
    # 40 samples cannot bound a p95 from above at 97.5 %: no pass, and a 5 % rise is no fail
    verdicts = compare(synthetic(2, n=40, shift=0.00025), synthetic(1, n=40), parse_rules("p95:+1%"))
    assert by_stat(verdicts) == {"p95": "inconclusive"}
    assert math.isinf(verdicts[0].bound or 0.0)


def test_a_rise_within_the_allowed_change_passes_and_one_beyond_it_fails() -> None:
    base = synthetic(1, n=100_000)
    assert by_stat(compare(synthetic(2, n=100_000, shift=0.0002), base,
                           parse_rules("p95:+10%"))) == {"p95": "pass"}
    assert by_stat(compare(synthetic(2, n=100_000, shift=0.0015), base,
                           parse_rules("p95:+10%"))) == {"p95": "fail"}
    assert by_stat(compare(synthetic(2, n=100_000, shift=0.0015), base,
                           parse_rules("p95:+2ms"))) == {"p95": "pass"}


def test_an_error_rate_rise_fails_and_noise_in_a_small_run_is_inconclusive() -> None:
    base = synthetic(1, errors=2)  # 0.01 %
    assert by_stat(compare(synthetic(2, errors=200), base, RULES))["error_rate"] == "fail"
    assert by_stat(compare(synthetic(2, errors=3), base, RULES))["error_rate"] == "pass"
    small = synthetic(2, n=300, errors=1)  # 0.33 % of 301: as likely noise as a rise
    assert by_stat(compare(small, synthetic(1, n=300), RULES))["error_rate"] == "inconclusive"
    verdict = next(v for v in compare(synthetic(2, errors=200), base, RULES)
                   if v.stat == "error_rate")
    assert verdict.kind == "ratio" and verdict.op == "<="
    assert verdict.measured == pytest.approx(200 / 20_200)


def test_success_rate_mirrors_error_rate() -> None:
    base = synthetic(1, errors=2)
    verdicts = compare(synthetic(2, errors=200), base, parse_rules("success_rate:-0.1%"))
    assert by_stat(verdicts) == {"success_rate": "fail"}
    assert verdicts[0].op == ">=" and verdicts[0].measured == pytest.approx(1 - 200 / 20_200)


def test_throughput_fall_fails_and_a_small_count_is_inconclusive() -> None:
    base = synthetic(1, duration=10.0)  # 2000/s
    assert by_stat(compare(synthetic(2, duration=12.0), base, RULES))["throughput"] == "fail"
    assert by_stat(compare(synthetic(2, duration=10.1), base, RULES))["throughput"] == "pass"
    few = compare(synthetic(2, n=200, duration=1.03), synthetic(1, n=200, duration=1.0), RULES)
    assert by_stat(few)["throughput"] == "inconclusive"


def test_confidence_zero_judges_the_point_estimates() -> None:
    verdicts = compare(synthetic(2, n=40), synthetic(1, n=40), parse_rules("p95:+50%"),
                       confidence=0.0)
    assert verdicts[0].status in ("pass", "fail")


def test_rules_on_missing_metrics_are_skipped_or_named() -> None:
    iterations = LoadResult(name="load", duration=1.0, operations=10)
    assert [v.stat for v in compare(iterations, iterations, RULES)] == ["throughput", "error_rate"]
    verdicts = compare(iterations, synthetic(1), parse_rules("p95:+10%"))
    assert verdicts[0].status == "inconclusive"
    assert "this run has no latency metric" in verdicts[0].reason


def test_two_sample_bounds_contain_the_estimate() -> None:
    diff, lower, upper = rate_difference_bounds(30, 1000, 10, 1000, 0.95)
    assert diff == pytest.approx(0.02)
    assert 0 < lower < diff < upper
    ratio, lo, hi = throughput_ratio_bounds(1000, 10.0, 1000, 10.0, 0.95)
    assert lo < ratio == 1.0 < hi and hi - lo < 0.2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no rule given"),
        ("p95", "not STAT:CHANGE"),
        ("p95:10", "with a unit"),
        ("p95:-10%", "regresses upwards"),
        ("throughput:+5%", "when it falls"),
        ("error_rate:-0.1%", "when it rises"),
        ("error_rate:0.1ms", "in percent"),
        ("latency:+10%", "unknown stat 'latency'"),
        ("p0:+10%", "not between 0"),
        ("p101:+10%", "not between 0"),
        ("rtt.throughput:-5%", "drop the 'rtt'. prefix"),
        ("p95:+10%,p95:+20%", "has a rule already"),
        ("throughput:-100%", "100 %"),
        ("p95:+10%;throughput:-5%", "not STAT:CHANGE"),
    ],
)
def test_bad_rules_name_the_value_and_the_forms(text: str, problem: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rules(text)
    message = str(info.value)
    assert problem in message and "accepted forms" in message
    assert "p95:+10%,throughput:-5%,error_rate:+0.1%" in message


def test_rules_parse_metric_prefixes_and_durations() -> None:
    rules = parse_rules(" delivery.p99.9 : +2ms , error_rate:0.5% ")
    assert rules[0].metric == "delivery" and rules[0].percentile == 99.9
    assert rules[0].absolute and rules[0].change == pytest.approx(0.002)
    assert rules[1].stat == "error_rate" and rules[1].change == pytest.approx(0.005)


def test_a_baseline_round_trip_is_lossless(tmp_path: Path) -> None:
    first, second = synthetic(1), synthetic(2, errors=5)
    first.errors = Counter()
    saved = save(tmp_path, "main", {"t.py::test_a": [first.to_dict(), second.to_dict()],
                                    "t.py::test_b": []},
                 settings={"profile": "smoke"}, host={"cores": 2})
    assert saved.path == tmp_path / "main.json"
    loaded = load(tmp_path, "main")
    assert list(loaded.results) == ["t.py::test_a"]  # a test that recorded nothing is left out
    assert list(loaded.results["t.py::test_a"]) == ["load", "load#2"]
    again = LoadResult.from_dict(loaded.results["t.py::test_a"]["load#2"])
    assert again.metrics["rtt"].encode() == second.metrics["rtt"].encode()
    assert list(again.metrics["rtt"].histogram.counts) == list(second.metrics["rtt"].histogram.counts)
    assert again.errors == Counter(timeout=5)
    assert loaded.settings == {"profile": "smoke"} and loaded.host == {"cores": 2}
    assert json.loads((tmp_path / "main.json").read_text())["schema"] == "pytest-roo/baseline/v1"


def test_a_missing_baseline_names_the_directory_and_what_is_there(tmp_path: Path) -> None:
    save(tmp_path, "main", {"t.py::test_a": [synthetic(1).to_dict()]})
    with pytest.raises(BaselineError) as info:
        load(tmp_path, "release-1")
    message = str(info.value)
    assert "no baseline 'release-1'" in message and str(tmp_path) in message
    assert "saved baselines there: main" in message
    (tmp_path / "junk.json").write_text("[1]")
    with pytest.raises(BaselineError, match="not a pytest-roo baseline"):
        load(tmp_path, "junk")


@pytest.mark.parametrize("name", ["", "../main", "a/b", "main.json", ".hidden", "x" * 101])
def test_bad_baseline_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="expected a name of letters"):
        save(tmp_path, name, {})
