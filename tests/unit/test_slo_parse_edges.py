"""The criteria language's edge cases: silent misreadings become clear errors."""

from __future__ import annotations

import pytest

from pytest_roo import slo
from pytest_roo.results.metrics import LoadResult
from pytest_roo.slo import CriterionError


def _rejected(text: str) -> str:
    with pytest.raises(CriterionError) as info:
        slo.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert "accepted forms" in message
    return message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("error_rate < 1", "did you mean 1%?"),
        ("error_rate <= 1.0", "did you mean 1.0%?"),
        ("success_rate >= 1", "did you mean 1%?"),
        ("error_rate < 2.5", "did you mean 2.5%?"),
    ],
)
def test_a_bare_number_of_one_or_more_for_a_rate_is_rejected(text: str, hint: str) -> None:
    message = _rejected(text)
    assert hint in message
    assert "fraction" in message


@pytest.mark.parametrize("text", ["error_rate < 0.99", "success_rate >= 0.95", "error_rate < 1%"])
def test_fractions_below_one_and_percentages_still_read(text: str) -> None:
    assert slo.parse(text).kind == "ratio"


@pytest.mark.parametrize(
    "text",
    [
        "error_rate < 0",
        "error_rate < 0%",
        "success_rate < 0%",
        "success_rate > 100%",
        "error_rate > 100%",
        "p95 < 0ms",
        "max < 0s",
        "errors < 0",
        "count < 0",
        "throughput < 0/s",
    ],
)
def test_criteria_that_can_never_pass_are_rejected(text: str) -> None:
    assert "can never pass" in _rejected(text)


@pytest.mark.parametrize("text", ["errors == 0", "error_rate == 0%", "success_rate >= 100%", "error_rate <= 0%"])
def test_limits_on_the_edge_that_can_pass_still_read(text: str) -> None:
    slo.parse(text)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("p95 < \uff15\uff10ms", "FULLWIDTH DIGIT FIVE"),  # full-width 50
        ("p95 < \u0665\u0660ms", "ARABIC-INDIC DIGIT FIVE"),
        ("p\u0669\u0665 < 50ms", "ARABIC-INDIC DIGIT NINE"),
        ("error_rate < \u0967%", "DEVANAGARI DIGIT ONE"),
    ],
)
def test_only_ascii_digits(text: str, named: str) -> None:
    message = _rejected(text)
    assert named in message
    assert "ASCII digits" in message


@pytest.mark.parametrize(
    ("text", "stat", "percentile"),
    [
        ("p99.99999 < 1s", "p99.99999", 99.99999),
        ("p(99.99999) < 1s", "p99.99999", 99.99999),
        ("p99.9999999999999 < 1s", "p99.9999999999999", 99.9999999999999),
        ("p99.90 < 1s", "p99.9", 99.9),
        ("p095 < 1s", "p95", 95.0),
        ("p0.001 < 1s", "p0.001", 0.001),
        ("p100 < 1s", "p100", 100.0),
    ],
)
def test_percentiles_are_labelled_as_written(text: str, stat: str, percentile: float) -> None:
    criterion = slo.parse(text)
    assert criterion.stat == stat
    assert criterion.percentile == percentile


def test_percentiles_finer_than_a_float_are_rejected_not_rounded_to_p100() -> None:
    message = _rejected("p99.99999999999999999 < 1s")
    assert "significant digits" in message
    assert "p100" not in message.split("\n")[0]


@pytest.mark.parametrize(
    "text",
    [
        "p95 < 1" + "0" * 400 + "ms",
        "throughput > " + "9" * 400,
        "count >= " + "1" * 400,
        "errors < " + "5" * 330,
    ],
)
def test_numbers_too_large_for_a_float_are_rejected(text: str) -> None:
    message = _rejected(text)
    assert "too large" in message


def test_a_limit_of_1e400_written_with_an_exponent_does_not_read() -> None:
    assert "does not read" in _rejected("p95 < 1e400ms")


@pytest.mark.parametrize("bad", [5, 0.95, None, b"p95 < 5ms", object()])
def test_check_rejects_values_that_are_not_criteria(bad: object) -> None:
    result = LoadResult.from_samples("r", [0.001] * 10)
    with pytest.raises(CriterionError) as info:
        slo.check(result, bad)  # type: ignore[arg-type]
    message = str(info.value)
    assert repr(bad) in message
    assert "accepted forms" in message
    assert type(bad).__name__ in message


def test_check_rejects_a_non_criterion_inside_a_list() -> None:
    result = LoadResult.from_samples("r", [0.001] * 10)
    with pytest.raises(CriterionError, match="expected a string, got int"):
        slo.check(result, ["p95 < 50ms", 5])  # type: ignore[list-item]


def test_check_still_flattens_lists_and_tuples() -> None:
    result = LoadResult.from_samples("r", [0.001] * 100)
    verdicts = slo.check(result, ["p95 < 50ms"], ("max < 1s", slo.parse("p50 < 10ms")), "count >= 100")
    assert [v.criterion for v in verdicts] == ["p95 < 50ms", "max < 1s", "p50 < 10ms", "count >= 100"]
