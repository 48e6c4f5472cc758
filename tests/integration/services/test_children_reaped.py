"""Killed children are waited for: no server, app or command pytest-roo started and stopped
stays behind as a zombie among this process's children (until init would collect it).

Real processes throughout: local PostgreSQL and Redis, ``python -m http.server`` through
``start_process``, a command past its time limit through ``run_bounded``, and a nested pytest
session that ends with all of them still running.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import hdrh.histogram  # noqa: F401  -- imported once here: the in-process pytest session
import numpy  # noqa: F401  -- below drops modules it imported, and numpy cannot be imported twice
import psutil
import pytest

from pytest_roo.launch import StartError, start_process
from pytest_roo.services import procs
from pytest_roo.services.backends import ServiceConfig, Services
from pytest_roo.services.models import ServiceError
from pytest_roo.target import kill_groups

pytestmark = pytest.mark.integration

SERVER = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
IGNORES_SIGTERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "time.sleep(300)")


def children() -> dict[int, psutil.Process]:
    return {child.pid: child for child in psutil.Process().children(recursive=False)}


def zombies(pids: object = None) -> list[int]:
    """Children of this process that exited and were not waited for (among ``pids``)."""
    found = []
    for pid, child in children().items():
        if pids is not None and pid not in pids:  # type: ignore[operator]
            continue
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                found.append(pid)
        except psutil.NoSuchProcess:
            continue
    return found


def settled(check: Callable[[], list[int]], seconds: float = 15.0) -> list[int]:
    """``check()`` until it is empty or ``seconds`` pass (a zombie nobody reaps stays one
    forever, so the bound only spares slow machines, it hides nothing)."""
    deadline = time.monotonic() + seconds
    found = check()
    while found and time.monotonic() < deadline:
        time.sleep(0.05)
        found = check()
    return found


def gone(pid: int) -> bool:
    """Neither running nor a zombie: exited and reaped."""
    return not psutil.pid_exists(pid)


@pytest.fixture
def new_children() -> Iterator[Callable[[], set[int]]]:
    before = set(children())
    yield lambda: set(children()) - before
    assert not settled(zombies), f"zombie children at the end: {zombies()}"


def test_local_postgres_and_redis_are_reaped_when_stopped(
    new_children: Callable[[], set[int]],
) -> None:
    services = Services(ServiceConfig(services="local"))
    try:
        services.postgres()
        services.redis()
        started = new_children()
        servers = {pid for pid in started
                   if psutil.Process(pid).name() in ("postgres", "redis-server")}
        assert len(servers) == 2, {pid: psutil.Process(pid).name() for pid in started}
    finally:
        services.close()
    # stopped means reaped at once: neither running nor left as a zombie
    assert [pid for pid in servers if not gone(pid)] == []
    # the watchdog removes the directories after close() and exits by itself; it is reaped too
    assert not settled(lambda: zombies(started))


def test_start_process_reaps_what_it_stops(
    tmp_path: Path, new_children: Callable[[], set[int]]
) -> None:
    port = procs.free_port()
    target = start_process([*SERVER, str(port)], health=f"http://127.0.0.1:{port}/",
                           cwd=tmp_path, log_path=tmp_path / "server.log")
    pid = target.pids[0]
    assert pid in new_children()
    target.stop()
    assert gone(pid)


def test_start_process_reaps_a_process_that_was_not_ready(
    tmp_path: Path, new_children: Callable[[], set[int]]
) -> None:
    with pytest.raises(StartError, match="not ready"):
        start_process([sys.executable, "-c", "import time; time.sleep(300)"],
                      health=lambda: False, base_url="http://127.0.0.1:9", timeout=1.0)
    assert not zombies()


def test_a_target_known_by_its_pids_is_reaped(new_children: Callable[[], set[int]]) -> None:
    # a process that ignores SIGTERM: the group gets SIGKILL after the grace, then is reaped
    proc = procs.spawn([sys.executable, "-c", IGNORES_SIGTERM])
    time.sleep(0.3)  # let it install the handler
    kill_groups((proc.pid,), grace=0.5)
    assert gone(proc.pid)
    proc.wait(0)  # only so that this Popen knows it ended (the pid was reaped already)


def test_a_command_past_its_limit_is_reaped(new_children: Callable[[], set[int]]) -> None:
    with pytest.raises(ServiceError, match="did not finish within"):
        procs.run_bounded(["sh", "-c", "sleep 300 & sleep 300"], timeout=0.5)
    assert not zombies()


def test_reap_kills_a_child_that_ignores_sigterm(new_children: Callable[[], set[int]]) -> None:
    proc = procs.spawn([sys.executable, "-c", IGNORES_SIGTERM])
    time.sleep(0.3)  # let it install the handler
    proc.terminate()
    assert procs.reap(proc, timeout=0.5) == -9
    assert gone(proc.pid)


SESSION_LEFT_RUNNING = """
import json, os, sys
import pytest
from pytest_roo.launch import start_process
from pytest_roo.services.procs import free_port

@pytest.fixture(scope="session")
def web(tmp_path_factory):
    port = free_port()
    target = start_process([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                            str(port)], health=f"http://127.0.0.1:{port}/",
                           cwd=tmp_path_factory.mktemp("web"))
    yield target
    target.stop()

def test_leaves_everything_running(postgres_db, redis_db, web):
    with open("pids.json", "w") as fh:
        json.dump(web.pids, fh)
"""


def test_a_session_that_ends_with_everything_running_leaves_no_zombie(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    new_children: Callable[[], set[int]],
) -> None:
    # pytest-playwright's module state does not survive a session nested inside another one
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:playwright")
    pytester.makepyfile(SESSION_LEFT_RUNNING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--roo-services=local")
    result.assert_outcomes(passed=1)
    import json

    web_pids = json.loads((pytester.path / "pids.json").read_text())
    assert all(gone(pid) for pid in web_pids)
    started = new_children()
    assert not settled(lambda: zombies(started)), "zombies after the nested session"
