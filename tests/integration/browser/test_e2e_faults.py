"""The e2e suites notice a broken dashboard: with one fault switch of the reference system on,
the suite fails on the criterion that fault breaks, in the cells it breaks, and only there."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 280.0


@dataclasses.dataclass
class Run:
    returncode: int
    output: str
    report: dict[str, Any]

    @property
    def cells(self) -> dict[str, dict[str, Any]]:
        """Matrix cells by ``test-name[cell]``."""
        cells = self.report.get("sections", {}).get("matrix", {}).get("cells", [])
        return {c["nodeid"].split("::")[-1]: c for c in cells}

    def verdicts(self, test: str) -> list[dict[str, Any]]:
        for entry in self.report.get("tests", []):
            if entry["nodeid"].split("::")[-1] == test:
                return list(entry.get("verdicts", []))
        raise KeyError(test)

    def explain(self) -> str:
        return f"exit code {self.returncode}\n{self.output[-5000:]}"


def run_e2e(tmp_path: Path, path: str, faults: str, browsers: str, *args: str) -> Run:
    """``pytest suites/e2e/<path>`` in a subprocess against the reference system with faults."""
    report = tmp_path / "report.json"
    env = {**os.environ, "REFAPP_FAULTS": faults}
    env.pop("ROO_TARGET", None)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", f"suites/e2e/{path}", "--roo-browsers", browsers,
           "--roo-report-json", str(report), "--roo-output", str(tmp_path / "out"),
           "-p", "no:playwright", "-p", "no:cacheprovider", "-q", "--roo-progress", "off", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False,
                          start_new_session=True)
    data = json.loads(report.read_text()) if report.exists() else {}
    return Run(proc.returncode, proc.stdout.decode(errors="replace"), data)


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
    of runs: a cell of 20 runs still meets ">= 95 %" (at most 1 failure) with probability 8.4 %,
    two cells with 0.7 %."""
    run = run_e2e(tmp_path, "test_auth_flow.py", "login_fail_rate=10%", "chromium",
                  "--roo-devices", "desktop,mobile")
    assert run.returncode == 1, run.explain()
    rates = [v for cell in run.cells for v in run.verdicts(cell)
             if v["criterion"] == "success_rate >= 95%"]
    assert len(rates) == 2, run.explain()
    assert not all(v["passed"] for v in rates), run.explain()
    assert "sign-in failed: " in run.output, run.explain()
