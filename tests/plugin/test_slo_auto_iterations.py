"""@pytest.mark.slo(..., iterations="auto"): run until the rate is decided, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")


@pytest.fixture(autouse=True)
def stated_confidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROO_CONFIDENCE", "0.95")


TESTS = """
import pytest

calls = {"clean": 0, "broken": 0, "borderline": 0}


@pytest.mark.slo("success_rate >= 95%", iterations="auto")
def test_clean():
    calls["clean"] += 1


@pytest.mark.slo("success_rate >= 95%", iterations="auto")
def test_broken():
    calls["broken"] += 1
    assert calls["broken"] % 5, "every fifth run fails"


@pytest.mark.slo("success_rate >= 95%", iterations="auto", max_iterations=100)
def test_borderline():
    calls["borderline"] += 1
    assert calls["borderline"] % 20, "every twentieth run fails"


def test_counts():
    assert calls == {"clean": 89, "broken": 30, "borderline": 100}
"""


def _tests(report_path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(report_path.read_text())
    return {t["nodeid"].split("::")[-1]: t for t in data["tests"]}


def test_auto_iterations_stop_when_the_rate_is_decided(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_auto=TESTS)
    report = pytester.path / "r.json"
    result = pytester.runpytest(f"--roo-report-json={report}", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*success_rate >= 95%*iterations*80.0%*FAIL (sequential: after 30 of at most 600 iter*",
        "*iterations stopped: stopped early: success_rate >= 95% decided FAIL after 30 iterations*",
    ])
    result.stdout.fnmatch_lines(["*INCONCLUSIVE (inconclusive at max_iterations=100: on the limit*"])
    tests = _tests(report)
    for name, status, runs in (("test_clean", "pass", 89), ("test_broken", "fail", 30),
                               ("test_borderline", "inconclusive", 100)):
        (res,) = tests[name]["results"]
        (verdict,) = tests[name]["verdicts"]
        assert res["operations"] == runs
        assert res["info"]["iterations_requested"] == "auto"
        assert res["info"]["iterations_run"] == runs
        assert res["info"]["max_iterations"] == (100 if name == "test_borderline" else 600)
        assert verdict["status"] == status and verdict["samples"] == runs
        assert verdict["confidence"] == 0.95
        (sequential,) = res["info"]["sequential"]
        assert sequential["status"] == status and sequential["iterations"] == runs
    (borderline,) = tests["test_borderline"]["verdicts"]
    assert "would not decide" in borderline["reason"]  # exactly 95 %: no count decides it


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('"success_rate >= 95%", iterations="sometimes"',
         "iterations='sometimes'): expected a whole number >= 1 or \"auto\""),
        ('"success_rate >= 95%", iterations=20, max_iterations=50',
         "max_iterations=50) goes with iterations=\"auto\" only (got iterations=20)"),
        ('"success_rate >= 95%", max_iterations=50',
         "max_iterations=50) goes with iterations=\"auto\" only (got iterations=None)"),
        ('"success_rate >= 95%", iterations="auto", max_iterations=0',
         "max_iterations=0): expected a whole number >= 1"),
        ('"success_rate >= 95%", iterations="auto", max_iterations=30',
         "max_iterations=30) is too few to ever show 'success_rate >= 95%' at 95% confidence"),
        ('"p95 < 1s", iterations="auto"', "error_rate criterion, and the marker has none"),
    ],
)
def test_bad_auto_arguments_are_errors(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.slo({marker})
        def test_x():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()


def test_auto_needs_a_confidence(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROO_CONFIDENCE", "0")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.slo("success_rate >= 95%", iterations="auto")
        def test_x():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*iterations=\"auto\") needs a confidence above 0, got 0.0*"])


def test_auto_on_a_class_merges_with_the_criteria_of_its_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        calls = []

        @pytest.mark.slo(iterations="auto", max_iterations=100)
        class TestFlow:
            @pytest.mark.slo("success_rate >= 90%")
            def test_clean(self):
                calls.append(1)

            @pytest.mark.slo("success_rate >= 90%", iterations=59)
            def test_conflict(self):
                pass

        def test_counts():
            assert len(calls) == 37  # a clean flow shows 90 % after 37 looks of at most 100
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*iterations=...) is given twice with different values (59 and 'auto'); keep one*",
    ])
