"""Per-test recording: no global state, one hook call per result, a mistake fails one test only,
merged markers, SIGTERM handled like Ctrl-C, secrets kept out of the header."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("no_playwright_plugin")


@pytest.fixture(autouse=True)
def point_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the mechanics (marker, tables, report, hooks) on small synthetic
    results: verdicts on the point estimate (confidence bounds: test_slo_confidence_verdicts)."""
    monkeypatch.setenv("ROO_CONFIDENCE", "0")

RESULT = """
import pytest
from pytest_roo import slo
from pytest_roo.results.metrics import LoadResult


def result(name, ms, n=100):
    return LoadResult.from_samples(name, [ms / 1000] * n, metric="rtt")
"""


def run_json(pytester: pytest.Pytester, source: str,
             *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(test_rec=RESULT + source)
    report = pytester.path / "report.json"
    result = pytester.runpytest(f"--roo-report-json={report}", *args)
    return result, json.loads(report.read_text())


def test_a_check_caught_by_the_test_is_not_in_the_report(pytester: pytest.Pytester) -> None:
    result, report = run_json(
        pytester,
        """
def test_expects_a_failure():
    with pytest.raises(slo.SloFailure):
        slo.check(result("slow", 80), "p95 < 50ms")
""",
    )
    result.assert_outcomes(passed=1)
    assert report["summary"]["verdicts"] == 0
    assert "criteria judged" not in result.stdout.str()


def test_a_passing_check_through_roo_record_is_reported(pytester: pytest.Pytester) -> None:
    result, report = run_json(
        pytester,
        """
def test_ok(roo_record):
    roo_record(result("fast", 5), "p95 < 50ms", "p99 < 50ms")
""",
    )
    result.assert_outcomes(passed=1)
    assert report["summary"]["verdicts_passed"] == 2


def test_recording_something_else_fails_that_test_only(pytester: pytest.Pytester) -> None:
    result, report = run_json(
        pytester,
        """
def test_bad(roo_record):
    roo_record("not a result")

def test_after():
    pass
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*TypeError: pytest-roo can record a LoadResult*not str*"])
    outcomes = {t["nodeid"].split("::")[1]: t["outcome"] for t in report["tests"]}
    assert outcomes == {"test_bad": "failed", "test_after": "passed"}


def test_a_result_that_cannot_be_written_fails_that_test_only(pytester: pytest.Pytester) -> None:
    result, report = run_json(
        pytester,
        """
def test_unserialisable(roo_record):
    r = result("odd", 1)
    r.info["handle"] = object()
    roo_record(r)

def test_after():
    pass
""",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # not INTERNAL_ERROR
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*pytest-roo could not record this test's results*"])
    outcomes = {t["nodeid"].split("::")[1]: t["outcome"] for t in report["tests"]}
    assert outcomes == {"test_unserialisable": "failed", "test_after": "passed"}


def test_markers_on_class_and_function_are_merged(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
def pytest_roo_result_recorded(item, result, verdicts):
    print("CRITERIA", sorted(v.criterion for v in verdicts))
"""
    )
    result, _ = run_json(
        pytester,
        """
@pytest.mark.slo("p99 < 50ms")
class TestGroup:
    @pytest.mark.slo("p95 < 50ms")
    def test_one(self, roo_record):
        roo_record(result("r", 10))
""",
        "-s",
    )
    result.assert_outcomes(passed=1)
    assert "CRITERIA ['p95 < 50ms', 'p99 < 50ms']" in result.stdout.str()


def test_abort_on_fail_uses_the_merged_criteria(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_abort="""
import pytest
from pytest_roo.plugin.recording import get_slo_spec

pytestmark = pytest.mark.slo("error_rate < 1%", abort_on_fail=True)

@pytest.mark.slo("p95 < 50ms")
def test_spec(request):
    spec = get_slo_spec(request.node)
    assert spec.abort_on_fail
    assert set(spec.criteria) == {"p95 < 50ms", "error_rate < 1%"}
"""
    )
    # the spec is there while fixtures are set up, so a load fixture sees all criteria
    result = pytester.runpytest("-p", "no:randomly")
    # the test records nothing, so the marker fails it after the body passed its asserts
    result.stdout.fnmatch_lines(["*recorded no result*"])
    assert "assert spec" not in result.stdout.str()


def test_two_iteration_counts_are_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
import pytest

pytestmark = pytest.mark.slo("success_rate >= 95%", iterations=3)

@pytest.mark.slo("success_rate >= 95%", iterations=5)
def test_x():
    pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*iterations=...) is given twice with different values (5 and 3)*"])


def test_header_masks_the_target_password(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--roo-target=http://alice:hunter2@127.0.0.1:9/")
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["roo: *target=http://alice:***@127.0.0.1:9 *"])


@pytest.mark.slow
def test_sigterm_writes_the_report_like_ctrl_c(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_term="""
import time
from pytest_roo.results.metrics import LoadResult

def test_first(roo_record):
    roo_record(LoadResult.from_samples("first", [0.001] * 10))

def test_long(roo_record):
    roo_record(LoadResult.from_samples("partial", [0.001] * 5))
    print("READY", flush=True)
    time.sleep(60)

def test_never():
    pass
"""
    )
    report = pytester.path / "r.json"
    junit = pytester.path / "junit.xml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "-p", "no:playwright",
         f"--roo-report-json={report}", f"--junitxml={junit}", "test_term.py"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if "READY" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    data = json.loads(report.read_text())
    assert data["exit_status"] == int(pytest.ExitCode.INTERRUPTED)
    assert data["sections"]["interrupted"] == "terminated (SIGTERM)"
    tests = {t["nodeid"].split("::")[1]: t for t in data["tests"]}
    assert tests["test_first"]["outcome"] == "passed"
    assert tests["test_long"]["outcome"] == "interrupted"
    assert tests["test_long"]["results"][0]["name"] == "partial"
    assert any("SIGTERM" in note for note in tests["test_long"]["notes"])
    assert "test_never" not in tests
    assert junit.exists()


def test_iterations_stop_once_the_rate_can_no_longer_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
import pytest

calls = []

@pytest.mark.slo("success_rate >= 95%", iterations=20)
def test_flow():
    calls.append(1)
    assert len(calls) not in (3, 5), "login failed"
"""
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest(f"--roo-report-json={report}")
    result.assert_outcomes(failed=1)
    (entry,) = json.loads(report.read_text())["tests"]
    (iterations,) = entry["results"]
    # 18 of 20 cannot reach 95 %: the 15 iterations left are not run
    assert iterations["operations"] == 5
    assert iterations["info"]["stopped"].startswith("stopped early: with 2 failed, 20 iterations")
    assert entry["verdicts"][0]["status"] == "fail"
