"""The reference system while its database goes away and comes back, healthy and with the
fault switches of the chaos suite (no_retry, pool_never_reconnects, ack_before_commit) and of
the backup suite (write_behind_ms, log_history_ttl_ms, pool_never_reconnects after a restore), on
PostgreSQL and Redis servers of this module's own (restarting the session's would disturb the
other tests)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.refapp.launcher import RefApp, start_refapp
from pytest_roo.services.backends import ServiceConfig, Services
from pytest_roo.services.models import PostgresServer
from tests.integration.refapp.refapp_client import SECRET

pytestmark = pytest.mark.integration


class Api:
    """A registered user of one app; plain urllib, callable from any thread."""

    def __init__(self, app: RefApp) -> None:
        self.app = app
        self.dbname = ""
        creds = {"username": f"u{secrets.token_hex(4)}", "password": "password123"}
        assert self.call("POST", "/api/auth/register", creds)[0] == 201
        self.token = self.call("POST", "/api/auth/login", creds)[1]["access_token"]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.app.url(path), data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def names(self) -> set[str]:
        status, body = self.call("GET", "/api/deployments")
        assert status == 200
        return {d["name"] for d in body["deployments"]}


@pytest.fixture(scope="module")
def own() -> Iterator[tuple[PostgresServer, str]]:
    services = Services(ServiceConfig(services="local"))
    try:
        pg = services.postgres()
        redis = services.redis()
        yield pg, redis.url
    finally:
        services.close()


@pytest.fixture
def start(own: tuple[PostgresServer, str], tmp_path: Path) -> Iterator[Callable[[str], Api]]:
    pg, redis_url = own
    apps: list[RefApp] = []

    def make(faults: str) -> Api:
        name = f"svc_{secrets.token_hex(4)}"
        with pg.connect() as conn:
            conn.query(f'CREATE DATABASE "{name}"')
        url = pg.url.rsplit("/", 1)[0] + "/" + name
        app = start_refapp(url, redis_url, faults=faults or None,
                           env={"REFAPP_SECRET": SECRET, "REFAPP_KDF_ITERATIONS": "2000"},
                           log_path=tmp_path / f"refapp-{len(apps)}.log")
        apps.append(app)
        api = Api(app)
        api.dbname = name
        return api

    yield make
    for app in apps:
        app.stop()


def during_restart(pg: PostgresServer, call: Callable[[], Any], down: float = 1.0) -> Any:
    """``call()`` made while PostgreSQL is down (it stays stopped ``down`` seconds)."""
    answer: list[Any] = []
    restart = threading.Thread(target=pg.restart, kwargs={"down": down})
    restart.start()
    time.sleep(0.3)  # the fast shutdown is over; the server starts again in a moment
    answer.append(call())
    restart.join(30)
    return answer[0]


def test_healthy_app_waits_for_the_database(own: tuple[PostgresServer, str],
                                            start: Callable[[str], Api]) -> None:
    api = start("")
    status, body = during_restart(own[0], lambda: api.call("POST", "/api/deployments",
                                                           {"name": "waited"}))
    assert status == 201 and body["id"] > 0
    assert "waited" in api.names()


def test_no_retry_fails_while_the_database_is_down(own: tuple[PostgresServer, str],
                                                   start: Callable[[str], Api]) -> None:
    api = start("no_retry=1")
    status, _ = during_restart(own[0], lambda: api.call("POST", "/api/deployments",
                                                        {"name": "refused"}))
    assert status == 503
    time.sleep(0.5)
    assert api.call("POST", "/api/deployments", {"name": "later"})[0] == 201  # back by itself


def test_pool_never_reconnects_fails_for_good(own: tuple[PostgresServer, str],
                                              start: Callable[[str], Api]) -> None:
    api = start("pool_never_reconnects=1")
    assert api.call("POST", "/api/deployments", {"name": "before"})[0] == 201
    status, _ = during_restart(own[0], lambda: api.call("POST", "/api/deployments",
                                                        {"name": "during"}))
    assert status == 503
    for _ in range(3):  # the server is back; the app never is
        assert api.call("POST", "/api/deployments", {"name": "after"})[0] == 503
        time.sleep(0.3)
    assert api.call("GET", "/health")[0] == 200  # /health takes a connection of its own


def test_ack_before_commit_answers_before_writing(own: tuple[PostgresServer, str],
                                                  start: Callable[[str], Api]) -> None:
    api = start("ack_before_commit=1")
    status, body = api.call("POST", "/api/deployments", {"name": "eventually"})
    assert status == 201 and "id" not in body
    deadline = time.monotonic() + 5
    while "eventually" not in api.names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "eventually" in api.names()
    # acknowledged while the database was down: never written
    status, _ = during_restart(own[0], lambda: api.call("POST", "/api/deployments",
                                                        {"name": "lost"}))
    assert status == 201
    time.sleep(1.0)
    assert "lost" not in api.names()


def drop_and_restore(pg: PostgresServer, api: Api, folder: Path) -> int:
    """The app's database backed up, dropped, a call made meanwhile (its status returned),
    then restored."""
    dump = pg.backup(folder / "app.dump", dbname=api.dbname)
    try:
        with pg.connect() as conn:
            conn.query(f'DROP DATABASE "{api.dbname}" WITH (FORCE)')
        status, _ = api.call("GET", "/api/deployments")
        pg.restore(dump, dbname=api.dbname)
    finally:
        dump.unlink()
    return status


@pytest.mark.parametrize("faults", ["", "pool_never_reconnects=1"])
def test_a_restored_database_is_served_again_unless_the_pool_gave_up(
        own: tuple[PostgresServer, str], start: Callable[[str], Api], tmp_path: Path,
        faults: str) -> None:
    api = start(faults)
    assert api.call("POST", "/api/deployments", {"name": "kept"})[0] == 201
    assert drop_and_restore(own[0], api, tmp_path) >= 500  # no database: no answer
    if not faults:
        assert "kept" in api.names()  # the pool opens connections to the restored database
        return
    for _ in range(3):  # the database is back; the app never is
        assert api.call("GET", "/api/deployments")[0] == 503
        time.sleep(0.3)


def test_write_behind_answers_long_before_writing(start: Callable[[str], Api]) -> None:
    api = start("write_behind_ms=2000")
    status, body = api.call("POST", "/api/deployments", {"name": "later"})
    assert status == 201 and "id" not in body
    assert "later" not in api.names()  # acknowledged, not written yet
    deadline = time.monotonic() + 10
    while "later" not in api.names() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "later" in api.names()


def test_log_history_ttl_lets_the_history_expire(start: Callable[[str], Api]) -> None:
    api = start("log_history_ttl_ms=1500")
    status, body = api.call("POST", "/api/deployments", {"name": "logs"})
    assert status == 201
    path = f"/api/deployments/{body['id']}/logs"
    assert api.call("POST", path, {"line": "kept a while"})[0] == 202
    assert [e["line"] for e in api.call("GET", path)[1]["lines"]] == ["kept a while"]
    deadline = time.monotonic() + 10
    while api.call("GET", path)[1]["lines"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api.call("GET", path)[1]["lines"] == []  # expired, though nothing deleted it
