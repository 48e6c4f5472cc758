"""pytest-benchmark with the slo marker: sub-microsecond rounds keep their nanoseconds, and a
benchmark that cannot run (pytest-xdist) is skipped with the reason and the way to run it."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")

#: a clock that advances 117 ns per reading: every round of one call lasts exactly 117 ns
CLOCK = """
import itertools

_ticks = itertools.count()


def clock():
    return next(_ticks) * 117e-9
"""

TESTS = """
import statistics

import pytest
from pytest_roo import slo


@pytest.mark.slo("round.p95 < 200ns", "round.p50 > 100ns")
def test_exact_clock(benchmark):
    benchmark.pedantic(abs, args=(-1,), rounds=200, iterations=1)


@pytest.mark.slo("p95 < 1s")
def test_real_fast_call(benchmark):
    benchmark(abs, -1)  # about 100 ns a call on a quiet machine
    rounds = benchmark.stats.stats.data
    metric = slo.as_result(benchmark).get_metric("round")
    # the judged distribution is benchmark's own, to the nearest nanosecond and HdrHistogram's
    # 3 significant digits (in microseconds the rounds would all read 1 us)
    close = {"rel": 1e-3, "abs": 0.5e-9}
    assert metric.percentile(50) == pytest.approx(statistics.median_low(rounds), **close)
    assert metric.min == pytest.approx(min(rounds), **close)
"""


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-benchmark disables itself in a process that inherits PYTEST_XDIST_WORKER."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def test_sub_microsecond_rounds_are_judged_in_nanoseconds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=TESTS, fake_clock=CLOCK)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        f"--roo-report-json={report}", "--benchmark-timer=fake_clock.clock", "-p", "no:xdist",
        "-k", "exact_clock",
    )
    result.assert_outcomes(passed=1)
    (test,) = json.loads(report.read_text())["tests"]
    (res,) = test["results"]
    summary = res["metrics"]["round"]["summary"]
    assert res["metrics"]["round"]["unit"] == "ns"
    assert summary["count"] == 200
    assert summary["min"] == pytest.approx(117e-9) and summary["max"] == pytest.approx(117e-9)
    assert [v["status"] for v in test["verdicts"]] == ["pass", "pass"]
    result.stdout.fnmatch_lines(["*round.p95 < 200ns*117 ns*PASS*"])


def test_a_real_fast_call_keeps_its_resolution(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-k", "real_fast_call",
                                           "--benchmark-max-time=0.2")
    result.assert_outcomes(passed=1)


XDIST_TESTS = """
import pytest
from pytest_roo import slo


@pytest.mark.slo("p95 < 1s")
def test_marker_alone(benchmark):
    benchmark(abs, -1)


def test_explicit(benchmark):
    benchmark(abs, -1)
    slo.check(benchmark, "p95 < 1s")
"""


def test_under_xdist_the_marker_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=XDIST_TESTS)
    result = pytester.runpytest_subprocess("-n", "2", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([
        "*pytest-benchmark disables itself under pytest-xdist (this is worker gw*): run the "
        "benchmarks in one process, with -p no:xdist or -n 0; it measured nothing*",
    ])


def test_a_failing_body_keeps_its_own_error_when_benchmarks_are_off(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.slo("p95 < 1s")
        def test_x(benchmark):
            benchmark(abs, -1)
            assert False, "the body's own failure"
        """
    )
    result = pytester.runpytest_subprocess("--benchmark-disable", "-p", "no:xdist")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the body's own failure*"])
    result.stdout.no_fnmatch_line("*NothingMeasured*")
