"""A property of the whole criteria language: every string either reads as a criterion whose text
reads back as the same criterion, or raises CriterionError naming it. Nothing else escapes."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_roo import slo, units
from pytest_roo.slo import CriterionError

DIGITS = st.sampled_from(["0", "1", "5", "9", "\uff15", "\u0665", "\u0967", "\u00b2"])
NUMBERS = st.one_of(
    st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,6})?\Z"),
    st.from_regex(r"\A\.[0-9]{1,3}\Z"),
    st.integers(min_value=300, max_value=420).map(lambda n: "1" + "0" * n),  # near float's limit
    st.lists(DIGITS, min_size=1, max_size=25).map("".join),
    st.sampled_from(["0", "1", "1.0", "100", "99.99999999999999999", "1e400", "-5", "nan", "inf"]),
)
STATS = st.one_of(
    st.sampled_from(["p95", "P99", "p99.9", "p100", "p0", "p101", "max", "min", "mean", "avg",
                     "med", "std", "stdev", "error_rate", "success_rate", "throughput", "count",
                     "errors", "latency", "p", ""]),
    NUMBERS.map(lambda n: "p" + n),
    NUMBERS.map(lambda n: "p(" + n + ")"),
)
OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "=", "!=", "=<", ""])
UNITS = st.sampled_from(["", "ms", "s", "us", "\u00b5s", "%", "/s", "msec", "x"])
SPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "\u3000"])
METRICS = st.sampled_from(["", "rtt.", "delivery.", "a-b.", "1.", "\u00e9t\u00e9.", "x.y."])


@st.composite
def near_criteria(draw: st.DrawFn) -> str:
    """Strings built from the language's pieces, right and wrong, so most reach deep checks."""
    parts = [draw(SPACE), draw(METRICS), draw(STATS), draw(SPACE), draw(OPS), draw(SPACE),
             draw(NUMBERS), draw(SPACE), draw(UNITS), draw(SPACE)]
    return "".join(parts)


@settings(max_examples=400, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(near_criteria(), st.text(max_size=40)))
def test_every_string_reads_back_or_is_named_in_a_criterion_error(text: str) -> None:
    error = ""
    try:
        criterion = slo.parse(text)
    except CriterionError as exc:
        error = str(exc)
    if error:
        assert repr(text) in error
        assert "accepted forms" in error
        return
    assert slo.parse(criterion.text) == criterion
    assert math.isfinite(criterion.limit)
    # the limit can be shown in a verdict table without raising
    formatter = {"latency": units.format_duration, "ratio": units.format_percent,
                 "rate": units.format_rate, "count": units.format_count}[criterion.kind]
    assert formatter(criterion.limit)
    if criterion.percentile is not None:
        assert criterion.stat == f"p{criterion.stat[1:]}"
        assert float(criterion.stat[1:]) == criterion.percentile


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(st.from_regex(r"\A[ \t]*p[0-9]{1,3}(\.[0-9]{1,10})?[ \t]*<[ \t]*[0-9]{1,6}(ms|s|us)?[ \t]*\Z"))
def test_well_formed_latency_criteria_read(text: str) -> None:
    error = ""
    try:
        criterion = slo.parse(text)
    except CriterionError as exc:
        error = str(exc)
    if error:  # only the percentile's range or a zero limit may refuse
        assert "between 0 and 100" in error or "can never pass" in error, error
        return
    assert criterion.kind == "latency"
    assert slo.parse(criterion.text) == criterion
