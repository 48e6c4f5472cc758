"""Service faults on real servers: PostgreSQL and Redis restarted and killed in place, the
embedded reference system restarted and killed, each on the same port with its data, the old
connections broken, new ones working, and no process left behind (nor a zombie).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from pytest_roo.faults import FaultWindow, measure_recovery, scheduled
from pytest_roo.services.backends import ServiceConfig, Services
from pytest_roo.services.models import PostgresServer, RedisServer, ServiceError
from pytest_roo.target import Target, TargetError, fetch

pytestmark = pytest.mark.integration


@pytest.fixture
def services() -> Iterator[Services]:
    """Servers of this module's own (the session's would be restarted under other tests)."""
    started = Services(ServiceConfig(services="local"))
    yield started
    started.close()


def postmaster(server: PostgresServer) -> int:
    control: Any = server.control
    return int(control._running.proc.pid)


def redis_pid(server: RedisServer) -> int:
    control: Any = server.control
    return int(control._proc.pid)


def zombie_children() -> list[int]:
    found = []
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def check_window(window: FaultWindow, kind: str, target: str) -> None:
    assert window.kind == kind and window.target == target
    assert window.started is not None and window.ended is not None
    assert window.started < window.ended <= time.monotonic()


@pytest.mark.parametrize("fault", ["restart", "kill"])
def test_postgres_keeps_its_data_port_and_leaves_nothing_behind(services: Services,
                                                                fault: str) -> None:
    # synchronous_commit on: a kill may otherwise lose the last commits, as PostgreSQL does
    pg = services.postgres(settings={"synchronous_commit": "on"})
    with pg.connect() as conn:
        conn.query("CREATE TABLE kept (n int)")
        conn.query("INSERT INTO kept SELECT generate_series(1, 1000)")
    before = pg.connect()
    old_pid = postmaster(pg)
    window = getattr(pg, fault)()
    check_window(window, fault, "postgres")
    with pytest.raises(Exception):  # noqa: B017 -- a broken pipe or a closed connection
        before.query("SELECT 1")
    before.close()
    with pg.connect() as conn:  # same host, port and password
        assert conn.query("SELECT count(*) FROM kept").rows == [("1000",)]
        assert conn.query("SHOW port").rows == [(str(pg.port),)]
    assert postmaster(pg) != old_pid
    assert not psutil.pid_exists(old_pid)  # exited and reaped
    assert old_pid not in zombie_children()


def test_postgres_restarted_from_a_thread_outlives_the_thread(services: Services) -> None:
    # the parent-death signal follows the forking thread: the start must not happen in it
    pg = services.postgres()
    with scheduled(pg.restart, after=0.05) as fault:
        time.sleep(0.2)
    assert fault.window is not None and fault.window.ended is not None
    time.sleep(0.5)  # a server killed with its thread would be gone by now
    assert psutil.Process(postmaster(pg)).is_running()
    with pg.connect() as conn:
        assert conn.query("SELECT 1").rows == [("1",)]


def test_redis_with_an_append_only_file_keeps_acknowledged_writes(services: Services) -> None:
    redis = services.redis(persistence="aof")
    with redis.connect() as conn:
        for n in range(200):
            conn.command("SET", f"k{n}", str(n))
    old_pid = redis_pid(redis)
    check_window(redis.kill(), "kill", "redis")
    with redis.connect() as conn:
        assert conn.command("DBSIZE") == 200
        assert conn.command("GET", "k199") == b"199"
    check_window(redis.restart(), "restart", "redis")
    with redis.connect() as conn:
        assert conn.command("DBSIZE") == 200
    assert not psutil.pid_exists(old_pid)
    assert old_pid not in zombie_children()


def test_redis_without_persistence_starts_empty(services: Services) -> None:
    redis = services.redis()
    with redis.connect() as conn:
        conn.command("SET", "gone", "1")
    before = redis.connect()
    redis.restart()
    with pytest.raises(Exception):  # noqa: B017 -- the server closed it
        before.command("PING")
    before.close()
    with redis.connect() as conn:
        assert conn.command("DBSIZE") == 0


def test_a_service_given_by_url_cannot_be_restarted() -> None:
    pg = PostgresServer(host="127.0.0.1", port=5432, user="u", password="pw-secret",
                        backend="external")
    with pytest.raises(ServiceError, match="cannot restart a service given by URL") as info:
        pg.restart()
    assert "pw-secret" not in str(info.value)
    redis = RedisServer(host="127.0.0.1", port=6379, backend="external")
    with pytest.raises(ServiceError, match="cannot restart a service given by URL"):
        redis.kill()
    docker = RedisServer(host="127.0.0.1", port=6379, backend="docker")
    with pytest.raises(ServiceError, match=r"docker backend .* would not survive"):
        docker.restart()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Target]:
    from suites.embedded import start_embedded

    target = start_embedded(ServiceConfig(services="local"), tmp_path, faults="")
    yield target
    pids = target.pids
    target.stop()
    assert not any(psutil.pid_exists(pid) for pid in pids)


@pytest.mark.parametrize("fault", ["restart", "kill"])
def test_the_embedded_target_comes_back_on_its_port(embedded: Target, fault: str) -> None:
    old_pid = embedded.pids[0]
    window = getattr(embedded, fault)()
    check_window(window, fault, "target")
    assert embedded.pids[0] != old_pid and embedded.alive()
    assert not psutil.pid_exists(old_pid)
    status, body, problem = fetch(embedded.url("/health"), 2.0)
    assert status == 200, problem
    assert body["database"] == "ok"
    recovery = measure_recovery(lambda: fetch(embedded.url("/health"), 1.0)[0] == 200,
                                since=window)
    assert recovery.operations == 1 and not recovery.errors


def test_the_embedded_target_restarted_from_a_thread_stays_up(embedded: Target) -> None:
    with scheduled(embedded.restart) as fault:
        pass
    assert fault.window is not None
    time.sleep(0.5)  # an app killed with the thread that started it would be gone by now
    assert embedded.alive()
    assert fetch(embedded.url("/health"), 2.0)[0] == 200


def test_an_external_target_cannot_be_restarted() -> None:
    target = Target.external_url("http://user:pw-secret@127.0.0.1:9/app")
    with pytest.raises(TargetError, match="cannot restart a target given by URL") as info:
        target.restart()
    assert "pw-secret" not in str(info.value)
    with pytest.raises(TargetError, match="cannot kill"):
        target.kill()
