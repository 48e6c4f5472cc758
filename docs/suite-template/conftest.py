"""Starts the system under test for this suite. Edit the three settings below for your system.

Nothing else is needed: pytest-roo's ``target`` fixture calls the hook once per session (once
per xdist worker), and ``start_process`` keeps the promises of the project's own servers (own
process group, gone after the session, after Ctrl-C and after pytest is killed; the log tail in
the failure when the system does not start). With ``--roo-target URL`` the hook is not called
and the suite runs against that deployment instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_roo.launch import start_process
from pytest_roo.settings import Settings
from pytest_roo.target import Target

#: How to start your system (a list, or a string split like a shell would). SUT_COMMAND overrides.
COMMAND = os.environ.get("SUT_COMMAND", "node server.js")
#: A URL that answers 2xx once your system serves real requests. SUT_HEALTH overrides.
HEALTH = os.environ.get("SUT_HEALTH", "http://127.0.0.1:8080/health")
#: Variables for your system: passwords and tokens go here, never into COMMAND (visible in ps).
ENV = {"PORT": os.environ.get("SUT_PORT", "8080")}


def pytest_roo_start_target(config: pytest.Config, settings: Settings,
                            output_dir: Path) -> Target:
    """Start the system once per session; pytest-roo stops it at the end."""
    return start_process(
        COMMAND,
        health=HEALTH,
        env=ENV,
        cwd=Path(__file__).parent,
        log_path=output_dir / "system.log",
        timeout=30,
    )
