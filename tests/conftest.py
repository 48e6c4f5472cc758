"""The tests' own scheduling under xdist: ``solo`` and ``heavy`` tests.

A few tests measure what the machine can do (the healthy reference system at 10x its standard
load): with another worker starting browsers or servers on the same two cores, they measure
that worker instead. Under xdist every test holds a shared lock for its whole run (setup, call,
teardown) and a ``solo`` test an exclusive one, so a ``solo`` test starts once the other
workers' current tests have ended, and they start nothing new until it has. Waiting ``solo``
tests go first (a gate lock), so a busy worker cannot starve them.

``heavy`` tests run a suite against the reference system and judge its timings exactly: the
suite's client, the app and its database want both cores for the seconds they measure, so two
of them at once on two cores each see the other's load (a healthy echo at p95 41 ms against a
50 ms limit). A suite run judged on memory, or on the app's own CPU, is not heavy. No two heavy
tests run at once: each holds an exclusive lock, taken before the shared one so that a heavy
test waiting for another never holds up a ``solo`` test. They are collected first, so that
xdist's first split gives them to one worker and the other worker's share is light: workers
rarely wait for the lock. Without xdist nothing is locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

#: the directory of the run's lock files, made by the controlling process (which the workers
#: inherit it from) and removed by it at the end
LOCK_DIR = "ROO_TESTS_LOCK_DIR"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "solo: runs with no other test of this run in flight (under xdist)")
    config.addinivalue_line(
        "markers", "heavy: judges the reference system's timings under a suite; no two heavy "
        "tests run at once (under xdist)")
    if not os.environ.get("PYTEST_XDIST_WORKER") and getattr(config.option, "numprocesses", None):
        os.environ[LOCK_DIR] = tempfile.mkdtemp(prefix="pytest-roo-locks-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER") and LOCK_DIR in os.environ:
        shutil.rmtree(os.environ.pop(LOCK_DIR), ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # stable: the same order in every worker, as xdist requires
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


def _lock_dir() -> Path | None:
    base = os.environ.get(LOCK_DIR)
    if not base or not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    return Path(base)


@contextlib.contextmanager
def _held(solo: bool, heavy: bool) -> Iterator[None]:
    base = _lock_dir()
    if base is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        if heavy:
            alone = stack.enter_context(open(base / "heavy", "a"))
            fcntl.flock(alone, fcntl.LOCK_EX)  # released when the file closes
        with _shared_or_solo(base, solo):
            yield


@contextlib.contextmanager
def _shared_or_solo(base: Path, solo: bool) -> Iterator[None]:
    with open(base / "solo.gate", "a") as gate, open(base / "solo.run", "a") as run:
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
    with _held(item.get_closest_marker("solo") is not None,
               item.get_closest_marker("heavy") is not None):
        yield
