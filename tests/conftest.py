"""The tests' own scheduling: a test marked ``solo`` has the machine to itself under xdist.

A few tests measure what the machine can do (the healthy reference system at 10x its standard
load): with another worker starting browsers or servers on the same two cores, they measure
that worker instead. Under xdist every test holds a shared lock for its whole run (setup, call,
teardown) and a ``solo`` test an exclusive one, so a ``solo`` test starts once the other
workers' current tests have ended, and they start nothing new until it has. Waiting ``solo``
tests go first (a gate lock), so a busy worker cannot starve them. Without xdist nothing is
locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "solo: runs with no other test of this run in flight (under xdist)")


def _lock_paths() -> tuple[Path, Path] | None:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run or not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    base = Path(tempfile.gettempdir()) / f"pytest-roo-solo-{run}"
    return base.with_suffix(".gate"), base.with_suffix(".run")


@contextlib.contextmanager
def _held(solo: bool) -> Iterator[None]:
    paths = _lock_paths()
    if paths is None:
        yield
        return
    gate_path, run_path = paths
    with open(gate_path, "a") as gate, open(run_path, "a") as run:
        if solo:
            fcntl.flock(gate, fcntl.LOCK_EX)  # no new test starts from here on
            fcntl.flock(run, fcntl.LOCK_EX)  # the tests in flight have ended
        else:
            fcntl.flock(gate, fcntl.LOCK_SH)  # waits while a solo test waits or runs
            fcntl.flock(run, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(run, fcntl.LOCK_UN)
            if solo:
                fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    with _held(item.get_closest_marker("solo") is not None):
        yield
