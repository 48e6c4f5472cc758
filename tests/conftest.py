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

A test whose failure says that its measurement was void (in its message, or in what it printed:
the output of a pytest run inside it) is measured once more, with nothing beside it (under
xdist): the plugin's own words for a run that could not judge what it was asked
to, "schedule not kept" (the load asked for was not applied), "load generator saturated" and
INCONCLUSIVE (too few samples to decide, at the confidence asked for). A busy two-core machine
makes those now and then; a run that fails again fails the test. Only the second attempt is
reported: it carries the first attempt's reason (a section and the user property
``measured_again``), and the terminal summary lists every test measured again.
``ROO_TESTS_MEASURE_AGAIN=0`` turns this off (to see the first attempts as they are).
"""

from __future__ import annotations

import fcntl
import importlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

#: the directory of the run's lock files, made by the controlling process (which the workers
#: inherit it from) and removed by it at the end
LOCK_DIR = "ROO_TESTS_LOCK_DIR"

#: what a void measurement's failure says (pytest_roo/load/engine.py, pytest_roo/slo)
VOID = re.compile(r"schedule not kept|load generator saturated|INCONCLUSIVE")
#: the user property a test measured again carries, with the first attempt's reason
MEASURED_AGAIN = "measured_again"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "solo: runs with no other test of this run in flight (under xdist)")
    config.addinivalue_line(
        "markers", "heavy: judges the reference system's timings under a suite; no two heavy "
        "tests run at once (under xdist)")
    if not os.environ.get("PYTEST_XDIST_WORKER") and getattr(config.option, "numprocesses", None):
        os.environ[LOCK_DIR] = tempfile.mkdtemp(prefix="pytest-roo-locks-")
    if os.environ.get("ROO_TESTS_MEASURE_AGAIN", "1") != "0":
        config.pluginmanager.register(MeasureAgain(), "roo-tests-measure-again")


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


class _Held:
    """The locks one test holds: the heavy lock when it is heavy, then the shared one, or the
    exclusive (solo) pair."""

    def __init__(self, base: Path, solo: bool, heavy: bool) -> None:
        def lock_file(name: str) -> int:
            fd = os.open(base / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fds.append(fd)
            return fd

        self._fds: list[int] = []
        if heavy:
            fcntl.flock(lock_file("heavy"), fcntl.LOCK_EX)  # released when the file closes
        self._gate, self._run = lock_file("solo.gate"), lock_file("solo.run")
        self.solo = False
        if solo:
            self.go_solo()
        else:
            fcntl.flock(self._gate, fcntl.LOCK_SH)  # waits while a solo test waits or runs
            fcntl.flock(self._run, fcntl.LOCK_SH)
            fcntl.flock(self._gate, fcntl.LOCK_UN)

    def go_solo(self) -> None:
        """From here on nothing else runs: the shared lock (if held) is let go, then the gate
        stops new tests and the run lock waits for the ones in flight to end. A test waiting
        here holds no lock another test waits for but the heavy one, which no solo test
        waiting at the gate can want (it took the heavy lock before the gate)."""
        if self.solo:
            return
        fcntl.flock(self._run, fcntl.LOCK_UN)
        fcntl.flock(self._gate, fcntl.LOCK_EX)  # no new test starts from here on
        fcntl.flock(self._run, fcntl.LOCK_EX)  # the tests in flight have ended
        self.solo = True

    def close(self) -> None:
        fcntl.flock(self._run, fcntl.LOCK_UN)
        if self.solo:
            fcntl.flock(self._gate, fcntl.LOCK_UN)
        for fd in self._fds:
            os.close(fd)  # the heavy lock goes with its file


HELD = pytest.StashKey[_Held]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    base = _lock_dir()
    if base is None:
        yield
        return
    held = _Held(base, item.get_closest_marker("solo") is not None,
                 item.get_closest_marker("heavy") is not None)
    item.stash[HELD] = held
    try:
        yield
    finally:
        del item.stash[HELD]
        held.close()


def _void_reason(reports: list[pytest.TestReport]) -> str | None:
    """The line that says a failed call's measurement was void, if one does: in its message,
    else in what it printed (a test that runs pytest inside, and asserts on the outcomes,
    fails with "assert 0 == 1" while the inner run's output says why)."""
    for report in reports:
        if report.when != "call" or not report.failed:
            continue
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)
        printed = [text for name, text in report.sections if name.startswith("Captured std")]
        for text in (message, *printed):
            for line in text.splitlines():
                if VOID.search(line):
                    return " ".join(line.split())[:300]
    return None


def _restart_timer(item: pytest.Item, start: bool) -> None:
    """pytest-timeout's timer for the whole test: stopped while a test waits to be alone and
    started afresh for its second attempt, which gets the full timeout again."""
    hooks = item.config.pluginmanager.hook
    if not hasattr(hooks, "pytest_timeout_cancel_timer"):
        return
    settings_of = getattr(importlib.import_module("pytest_timeout"), "_get_item_settings", None)
    settings: Any = settings_of(item) if settings_of is not None else None
    if settings is None or not settings.timeout or settings.func_only:
        return
    if start:
        hooks.pytest_timeout_set_timer(item=item, settings=settings)
    else:
        hooks.pytest_timeout_cancel_timer(item=item)


class MeasureAgain:
    """Runs a test a second time, alone, when its first attempt's measurement was void."""

    def __init__(self) -> None:
        self.again: list[tuple[str, str, str]] = []  # (nodeid, first reason, final outcome)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        reason = _void_reason(reports)
        if reason is not None and not (item.session.shouldfail or item.session.shouldstop):
            _restart_timer(item, start=False)
            held = item.stash.get(HELD, None)
            if held is not None:
                held.go_solo()
            _restart_timer(item, start=True)
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            note = (f"the first attempt's measurement was void ({reason}); measured again"
                    + (", alone" if held is not None else ""))
            for report in reports:
                report.user_properties.append((MEASURED_AGAIN, reason))
                report.sections.append(("measured again", note))
        for report in reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and not report.passed):
            return
        for key, reason in report.user_properties:
            if key == MEASURED_AGAIN:
                self.again.append((report.nodeid, str(reason), report.outcome))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.again or os.environ.get("PYTEST_XDIST_WORKER"):
            return
        terminalreporter.write_sep("=", f"measured again: {len(self.again)} "
                                        "(the first attempt's measurement was void)")
        for nodeid, reason, outcome in self.again:
            terminalreporter.write_line(f"{outcome.upper()} {nodeid}: first attempt: {reason}")
