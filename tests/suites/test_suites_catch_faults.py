"""Each ready suite, run against the reference system with one fault switched on, fails on the
criterion that fault breaks -- and only on it (the other criteria pass)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES = {
    # suite: (fault, {(test, criterion) that must fail}); the suite's other tests must pass
    "db": ("slow_queries_ms=250",
           {("test_app_pool_under_200_concurrent_requests", "p95 < 200ms")}),
    "ws": ("echo_delay_ms=80", {("test_echo_round_trip", "p95 < 50ms")}),
    "api": ("slow_queries_ms=150", {("test_api_under_concurrent_users", "p95 < 100ms")}),
    "realtime": ("broadcast_delay_ms=150",
                 {("test_injected_log_line_reaches_subscribers", "delivery.p95 < 100ms"),
                  ("test_status_change_reaches_watcher", "status.p95 < 100ms")}),
    "relay": ("relay_duplicate=0.2",
              {("test_commands_reach_devices_exactly_once", "errors == 0")}),
    "workflow": ("login_fail_rate=0.2",
                 {("test_user_workflow", "success_rate >= 99.9%")}),
}


@pytest.mark.parametrize("suite", list(CASES))
def test_suite_fails_on_its_fault(suite: str, tmp_path: Path) -> None:
    fault, expected = CASES[suite]
    # the cold start has its own fault below; the API suite's load tests run here
    deselect = ["--deselect", "suites/api/test_api.py::test_cold_start"] if suite == "api" else []
    run = run_suite([f"suites/{suite}"], tmp_path, faults=fault, args=deselect)
    assert run.report, f"no JSON report written\n{run.explain()}"
    assert run.returncode == 1, f"the suite did not fail with {fault}\n{run.explain()}"
    assert run.failing == expected, (
        f"with {fault} expected exactly {sorted(expected)} to fail, got {sorted(run.failing)}"
        f"\n{run.explain()}")
    failed_tests = {name for name, entry in run.tests.items() if entry.get("outcome") == "failed"}
    assert failed_tests == {test for test, _ in expected}, run.explain()
    # every other test of the suite ran and passed
    others = set(run.tests) - failed_tests
    assert all(run.outcome(name) == "passed" for name in others), run.explain()


def test_cold_start_fault_fails_the_cold_start_criterion(tmp_path: Path) -> None:
    run = run_suite(["suites/api/test_api.py::test_cold_start"], tmp_path,
                    faults="cold_start_delay_ms=1500")
    assert run.returncode == 1, run.explain()
    assert run.failing == {("test_cold_start", "cold_start.max < 1s")}, run.explain()
