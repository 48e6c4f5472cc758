"""Pure logic of the service layer: URLs and masking, loaders, the stale-directory sweep."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_roo.services import procs
from pytest_roo.services.backends import (
    ServiceConfig,
    Services,
    parse_postgres_url,
    parse_redis_url,
    probe_docker,
)
from pytest_roo.services.databases import as_loaders, worker_index
from pytest_roo.services.local import find_postgres_bin, find_redis_bin
from pytest_roo.services.models import (
    PostgresDatabase,
    PostgresServer,
    RedisServer,
    ServiceError,
    ServiceUnavailable,
)
from pytest_roo.services.pgwire import _Scram

SECRET = "s3cr/t:pw"


def test_postgres_server_urls_and_masked_repr() -> None:
    server = PostgresServer(host="127.0.0.1", port=5433, user="postgres", password=SECRET)
    assert server.url == "postgresql://postgres:s3cr%2Ft%3Apw@127.0.0.1:5433/postgres"
    assert "password=s3cr/t:pw" in server.dsn
    assert "host=127.0.0.1 port=5433 user=postgres" in server.dsn
    for text in (repr(server), str(server), server.masked_url):
        assert SECRET not in text
        assert "***" in text


def test_database_keeps_name_and_masks() -> None:
    db = PostgresDatabase(host="127.0.0.1", port=1, user="u", password=SECRET, dbname="roo_x_1")
    assert db.name == "roo_x_1"
    assert db.url.endswith("/roo_x_1")
    assert SECRET not in repr(db)


def test_redis_server_url_and_masked_repr() -> None:
    server = RedisServer(host="127.0.0.1", port=6380, password=SECRET, db=3)
    assert server.url == "redis://:s3cr%2Ft%3Apw@127.0.0.1:6380/3"
    assert SECRET not in repr(server)
    assert RedisServer(host="::1", port=1).url == "redis://[::1]:1/0"


def test_dsn_quotes_values_with_spaces() -> None:
    server = PostgresServer(host="h", port=1, user="u", password="a b'c")
    assert "password='a b\\'c'" in server.dsn


def test_parse_external_urls() -> None:
    pg = parse_postgres_url("postgresql://admin:p%40ss@db.local:6543/app")
    assert (pg.host, pg.port, pg.user, pg.password, pg.dbname) == (
        "db.local", 6543, "admin", "p@ss", "app")
    redis = parse_redis_url("redis://:pw@127.0.0.1:7000/2")
    assert (redis.host, redis.port, redis.password, redis.db) == ("127.0.0.1", 7000, "pw", 2)
    assert parse_redis_url("unix:///run/redis.sock").socket_path == "/run/redis.sock"
    with pytest.raises(ServiceError, match="postgresql://"):
        parse_postgres_url("mysql://x@h/db")


@pytest.mark.parametrize(
    ("worker", "index"), [(None, 0), ("master", 0), ("gw0", 0), ("gw7", 7), ("gwx", 0)]
)
def test_worker_index(worker: str | None, index: int) -> None:
    assert worker_index(worker) == index


def test_as_loaders_normalises(tmp_path: Path) -> None:
    sql = tmp_path / "a.sql"
    assert as_loaders(None) == []
    assert as_loaders(sql) == [sql]
    assert as_loaders([sql, "x:y"]) == [sql, "x:y"]
    with pytest.raises(ServiceError, match="expected a list"):
        as_loaders(42)


def test_find_postgres_bin_names_the_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable) as info:
        find_postgres_bin(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "apt-get install postgresql" in str(info.value)


def test_find_redis_bin_names_the_bad_path(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable, match="redis-server"):
        find_redis_bin(tmp_path / "nope")


def test_find_postgres_bin_reports_what_was_probed(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    with pytest.raises(ServiceUnavailable) as info:
        find_postgres_bin(None)
    message = str(info.value)
    assert "`postgres` on PATH" in message
    assert "pg_config --bindir" in message
    assert "/usr/lib/postgresql/*/bin" in message


def test_docker_probe_without_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    probe = probe_docker(timeout=0.2)
    assert not probe.available
    assert str(tmp_path) in probe.describe()
    services = Services(ServiceConfig(services="auto"), probe=probe)
    assert services.choose() == "local"
    assert services.describe().startswith("auto -> local (no Docker engine answered at unix://")


def test_scram_proof_matches_rfc7677_vector() -> None:
    scram = _Scram("pencil")
    scram.nonce = "rOprNGfwEbeRWgbNEkqO"
    scram.first_bare = "n=,r=rOprNGfwEbeRWgbNEkqO"
    final = scram.client_final(
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    # the RFC's vector uses n=user; with an empty name only the shape and the nonce are fixed
    assert final.startswith("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=")
    with pytest.raises(Exception, match="signature"):
        scram.verify("v=AAAA")


def test_sweep_removes_dead_owners_only(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / procs.OWNER_FILE).write_text(f"{dead.pid} {procs.process_start_time(os.getpid())}\n")
    reused = tmp_path / "reused"  # our pid, but a different start time: pid reuse
    reused.mkdir()
    (reused / procs.OWNER_FILE).write_text(f"{os.getpid()} 1\n")
    live = tmp_path / "live"
    live.mkdir()
    (live / procs.OWNER_FILE).write_text(f"{os.getpid()} {procs.process_start_time(os.getpid())}\n")
    removed = procs.sweep_stale(tmp_path)
    assert sorted(p.name for p in removed) == ["reused", "stale"]
    assert live.is_dir()
    assert not stale.exists()


def test_sweep_kills_servers_of_dead_owners(tmp_path: Path) -> None:
    server = procs.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    entry = tmp_path / "x"
    entry.mkdir()
    (entry / procs.OWNER_FILE).write_text("999999999 0\n")
    (entry / procs.PIDS_FILE).write_text(f"{server.pid} {procs.process_start_time(server.pid)}\n")
    procs.sweep_stale(tmp_path)
    assert server.wait(5) == -9
