"""The e2e suites notice a broken dashboard: with one fault switch of the reference system on,
the suite fails on the criterion that fault breaks, in the cells it breaks, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import SuiteRun, run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]

TIMEOUT = 280.0


def run_e2e(tmp_path: Path, path: str, faults: str, browsers: str, *args: str) -> SuiteRun:
    """``pytest suites/e2e/<path>`` in a subprocess against the reference system with faults."""
    return run_suite([f"suites/e2e/{path}"], tmp_path, faults=faults, profile="standard",
                     args=["--roo-browsers", browsers, *args], timeout=TIMEOUT)


def test_firefox_only_script_error_fails_only_firefox_cells(tmp_path: Path) -> None:
    run = run_e2e(tmp_path, "test_log_latency.py", "firefox_script_error=1", "chromium,firefox")
    assert run.returncode == 1, run.explain()
    cells = run.cells
    assert cells["test_injected_line_visible_within_100ms[chromium-Desktop Chrome]"][
        "outcome"] == "pass", run.explain()
    firefox = cells["test_injected_line_visible_within_100ms[firefox-Desktop Chrome]"]
    assert firefox["outcome"] == "fail", run.explain()
    assert "injected Firefox-only failure" in firefox["reason"], firefox
    # the failing cell left its screenshot and trace
    assert sorted(Path(p).suffix for p in firefox["evidence"]) == [".png", ".zip"], firefox
    assert all(Path(p).is_file() for p in firefox["evidence"])


def test_slow_log_panel_fails_the_latency_criterion(tmp_path: Path) -> None:
    run = run_e2e(tmp_path, "test_log_latency.py", "slow_log_panel_ms=150", "chromium")
    assert run.returncode == 1, run.explain()
    verdicts = run.verdicts("test_injected_line_visible_within_100ms[chromium-Desktop Chrome]")
    failing = {v["criterion"] for v in verdicts if not v["passed"]}
    assert failing == {"visible.p95 < 100ms"}, run.explain()


def test_layout_overflowing_on_phones_fails_only_the_phone(tmp_path: Path) -> None:
    run = run_e2e(tmp_path, "test_responsiveness.py", "overflow_on_phone=1", "chromium")
    assert run.returncode == 1, run.explain()
    outcomes = {name: cell["outcome"] for name, cell in run.cells.items()}
    assert outcomes == {
        "test_dashboard_is_responsive[chromium-iPhone 13]": "fail",
        "test_dashboard_is_responsive[chromium-iPad Pro 11]": "pass",
        "test_dashboard_is_responsive[chromium-Desktop Chrome]": "pass",
    }, run.explain()
    assert "overflow" in run.cells["test_dashboard_is_responsive[chromium-iPhone 13]"]["reason"]


def test_logins_failing_ten_percent_fail_the_auth_rate(tmp_path: Path) -> None:
    """Each run logs in twice (after register, then again), so 10 % failing logins break 19 %
    of runs. The rate is pooled over the two cells (59 runs, 30 each): the first failure in a
    cell means the pool can no longer show ">= 95 %", so that cell stops and fails, and the
    pooled entry fails the session."""
    run = run_e2e(tmp_path, "test_auth_flow.py", "login_fail_rate=10%", "chromium",
                  "--roo-devices", "desktop,mobile")
    assert run.returncode == 1, run.explain()
    pooled = run.verdicts("test_register_login_dashboard [pooled over 2 cells]")
    assert [v["criterion"] for v in pooled] == ["success_rate >= 95%"], run.explain()
    assert not pooled[0]["passed"], run.explain()
    rates = [v for cell in run.cells for v in run.verdicts(cell)
             if v["criterion"] == "success_rate >= 95%"]
    assert rates and not any(v["passed"] for v in rates), run.explain()
    assert {c["outcome"] for c in run.cells.values()} >= {"fail"}, run.explain()
    assert "sign-in failed: " in run.output, run.explain()


def test_api_errors_fail_the_lifecycle_rate(tmp_path: Path) -> None:
    """5 % of API calls answered 500: a lifecycle run makes about eight of them, so about a third
    of runs break, and the pooled ">= 90 %" over 29 runs (15 per cell) fails at the first."""
    run = run_e2e(tmp_path, "test_deployment_lifecycle.py", "api_error_rate=0.05", "chromium",
                  "--roo-devices", "desktop,mobile")
    assert run.returncode == 1, run.explain()
    pooled = run.verdicts("test_create_start_logs_stop_delete [pooled over 2 cells]")
    assert [v["criterion"] for v in pooled] == ["success_rate >= 90%"], run.explain()
    assert not pooled[0]["passed"], run.explain()
    assert {c["outcome"] for c in run.cells.values()} >= {"fail"}, run.explain()
    assert "injected failure (api_error_rate)" in run.output or "500" in run.output, run.explain()
