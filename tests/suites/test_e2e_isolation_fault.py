"""The browser isolation suite injects enough lines to see a leak of one in 200."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.runner import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]

ISOLATION = "suites/e2e/test_isolation.py"
ARGS = ["--roo-browsers", "chromium", "--roo-devices", "desktop"]


def test_a_leak_of_one_line_in_200_fails_the_isolation_suite(tmp_path: Path) -> None:
    run = run_suite([ISOLATION], tmp_path, faults="log_leak_rate=0.005", args=ARGS,
                    timeout=280.0)
    assert run.returncode == 1, run.explain()
    assert "of A's 1000 lines reached B's page" in run.output, run.explain()


def test_the_healthy_system_passes_the_isolation_suite(tmp_path: Path) -> None:
    run = run_suite([ISOLATION], tmp_path, args=ARGS, timeout=280.0)
    assert run.returncode == 0, run.explain()
