"""pytest-benchmark's fixture judged by criteria: with the marker alone, and skipped with a reason
when benchmarking is disabled (never a TypeError, never a vacuous pass)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")

TESTS = """
import pytest
from pytest_roo import slo


@pytest.mark.slo("p95 < 1s", "count >= 5")
def test_marker_alone(benchmark):
    benchmark(sum, range(100))


def test_explicit(benchmark):
    benchmark(sum, range(100))
    slo.check(benchmark, "p99 < 1s")
"""


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-benchmark disables itself in a process that inherits PYTEST_XDIST_WORKER."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def test_the_marker_judges_the_benchmark_rounds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=TESTS)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(f"--roo-report-json={report}",
                                           "--benchmark-min-rounds=100", "-p", "no:xdist")
    result.assert_outcomes(passed=2)
    tests = {t["nodeid"].split("::")[1]: t for t in json.loads(report.read_text())["tests"]}
    verdicts = tests["test_marker_alone"]["verdicts"]
    assert [v["criterion"] for v in verdicts] == ["p95 < 1s", "count >= 5"]
    assert all(v["passed"] and v["samples"] >= 100 for v in verdicts)


def test_disabled_benchmarks_are_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=TESTS)
    result = pytester.runpytest_subprocess("--benchmark-disable", "-rs", "-p", "no:xdist")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*pytest-benchmark is disabled*nothing is judged*"])
