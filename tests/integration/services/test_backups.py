"""Backups and restores on real servers: a PostgreSQL database dumped (on an exported
snapshot), dropped and restored; a Redis server saved (with reads at the snapshot's instant),
flushed and restored; passwords never on a command line or in a message; nothing left behind.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_roo.services.backends import ServiceConfig, Services
from pytest_roo.services.backups import find_client_bin
from pytest_roo.services.models import ServiceError, ServiceUnavailable

pytestmark = pytest.mark.integration


@pytest.fixture
def services() -> Iterator[Services]:
    """Servers of this module's own (a restore restarts Redis)."""
    try:
        find_client_bin()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    started = Services(ServiceConfig(services="local"))
    yield started
    started.close()


@pytest.fixture(autouse=True)
def no_dump_left(tmp_path: Path) -> Iterator[None]:
    """The backup files go with the test: they hold the servers' data."""
    yield
    for path in [*tmp_path.glob("*.dump"), *tmp_path.glob("*.rdb")]:
        path.unlink()


def test_a_dropped_database_comes_back_with_what_the_snapshot_saw(services: Services,
                                                                 tmp_path: Path) -> None:
    pg = services.postgres()
    with pg.connect() as conn:
        conn.query('CREATE DATABASE "shop"')
    db = dataclasses.replace(pg, dbname="shop")
    with db.connect() as conn:
        conn.query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);"
                   "INSERT INTO orders(item) VALUES ('a'), ('b')")
    with db.connect() as reader, db.connect() as writer:
        reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        snapshot = reader.scalar("SELECT pg_export_snapshot()")
        assert snapshot is not None
        writer.query("INSERT INTO orders(item) VALUES ('after')")  # not in the snapshot
        seen = sorted(str(r[0]) for r in reader.query("SELECT item FROM orders").rows)
        dump = pg.backup(tmp_path / "shop.dump", dbname="shop", snapshot=snapshot)
        reader.query("COMMIT")
    assert seen == ["a", "b"] and dump.stat().st_size > 0
    with pg.connect() as conn:
        conn.query('DROP DATABASE "shop" WITH (FORCE)')
    with pytest.raises(ServiceError, match="no dump file"):
        pg.restore(tmp_path / "missing.dump", dbname="shop")
    pg.restore(dump, dbname="shop")
    with db.connect() as conn:
        assert sorted(str(r[0]) for r in conn.query("SELECT item FROM orders").rows) == seen
        # the sequence came back too (at or past the snapshot: sequences are not
        # transactional), so the next row does not collide with a restored one
        conn.query("INSERT INTO orders(item) VALUES ('c')")
        assert conn.scalar("SELECT count(DISTINCT id) FROM orders") == "3"
    with pytest.raises(ServiceError, match="exists; drop it first"):
        pg.restore(dump, dbname="shop")
    with pg.connect() as conn:  # no side database left by the restores
        names = {str(r[0]) for r in conn.query("SELECT datname FROM pg_database").rows}
    assert not [n for n in names if "_restore_" in n]


def test_pg_dump_gets_the_password_in_its_environment_only(services: Services,
                                                          tmp_path: Path) -> None:
    import psutil

    pg = services.postgres()
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:  # every command line while the dump runs
        while not stop.is_set():
            for proc in psutil.process_iter(["cmdline"]):
                seen.append(" ".join(proc.info["cmdline"] or []))

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        pg.backup(tmp_path / "pg.dump", dbname="postgres")
    finally:
        stop.set()
        thread.join(10)
    assert seen  # the watcher looked while the dump ran
    assert not [line for line in seen if pg.password in line]
    wrong = dataclasses.replace(pg, password="not-the-password-0123")
    with pytest.raises(ServiceError) as failed:
        wrong.backup(tmp_path / "bad.dump", dbname="postgres")
    assert "not-the-password-0123" not in str(failed.value)
    assert "password authentication failed" in str(failed.value)
    assert not (tmp_path / "bad.dump").exists()


def test_redis_comes_back_with_what_the_reads_saw(services: Services, tmp_path: Path) -> None:
    redis = services.redis()
    with redis.connect() as conn:
        conn.command("RPUSH", "history", "one", "two")
        conn.command("SET", "other", "x")
        directory = Path(conn.command("CONFIG", "GET", "dir")[1].decode())  # type: ignore[index]
    answers = redis.save(tmp_path / "r.rdb", read=[("LRANGE", "history", 0, -1)])
    assert answers == [[b"one", b"two"]]
    assert not (directory / "dump.rdb").exists()  # moved out: a restart still starts empty
    with redis.connect() as conn:
        conn.command("RPUSH", "history", "three")  # after the snapshot: lost by the restore
        conn.command("FLUSHALL")
    window = redis.restore(tmp_path / "r.rdb")
    assert window.ended is not None
    with redis.connect() as conn:
        assert conn.command("LRANGE", "history", 0, -1) == [b"one", b"two"]
        assert conn.command("GET", "other") == b"x"
    assert not (directory / "dump.rdb").exists()
    redis.restart()  # the server keeps nothing on disk: it starts empty again
    with redis.connect() as conn:
        assert conn.command("DBSIZE") == 0
