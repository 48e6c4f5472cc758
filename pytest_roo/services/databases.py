"""Per-test PostgreSQL databases and Redis logical databases.

PostgreSQL, isolation ``database``: a template database is filled once per session (SQL files,
callables), then each test gets a clone (``CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY``
on PostgreSQL 15+). A background thread keeps a few clones ready ahead of the tests (``AHEAD``),
and another drops used ones on its own connection (``DROP DATABASE ... WITH (FORCE)``), so
neither step sits on the test's critical path.
``transaction``: one database per session, each test runs inside a transaction on
``postgres_db.connection`` that is rolled back. ``truncate``: one database per session; after
each test every table is emptied and the template's rows and sequence positions are restored.
"""

from __future__ import annotations

import importlib
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from pytest_roo.services.models import (
    PostgresDatabase,
    PostgresServer,
    RedisDatabase,
    RedisServer,
    ServiceError,
)
from pytest_roo.services.pgwire import Connection, quote_ident

__all__ = ["ISOLATION_MODES", "PostgresDatabases", "RedisDatabases", "TemplateLoader"]

ISOLATION_MODES = ("database", "transaction", "truncate")
SEED_SCHEMA = "_roo_seed"
ACQUIRE_TIMEOUT = 120.0
# clones kept ready in database mode: a burst of short tests takes them without waiting while
# the pool refills behind them (each costs one copy of the template on the server's disk)
AHEAD = 3

TemplateLoader = str | os.PathLike[str] | Callable[[PostgresDatabase], object]


def _server_fields(server: PostgresServer) -> dict[str, Any]:
    return {f.name: getattr(server, f.name) for f in fields(PostgresServer)}


def _resolve_loader(loader: TemplateLoader) -> list[Path] | Callable[[PostgresDatabase], object]:
    """A path (file or directory of *.sql), ``"pkg.module:function"`` or a callable."""
    if callable(loader):
        return loader
    text = os.fspath(loader)
    path = Path(text)
    if path.is_dir():
        return sorted(path.glob("*.sql"))
    if path.is_file():
        return [path]
    if ":" in text and not text.endswith(".sql"):
        module_name, _, attr = text.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ServiceError(f"postgres_template_load: cannot import {text!r}: {exc}") from None
        if callable(func):
            return func  # type: ignore[no-any-return]
    raise ServiceError(
        f"postgres_template_load: {text!r} is neither an existing .sql file, a directory of .sql "
        f"files, a 'package.module:function' name nor a callable")


class PostgresDatabases:
    """Hands out one database per test on ``server``; see the module docstring for the modes."""

    def __init__(self, server: PostgresServer, isolation: str = "database", *,
                 prefix: str | None = None, ahead: int = AHEAD) -> None:
        if isolation not in ISOLATION_MODES:
            raise ServiceError(f"postgres isolation {isolation!r} is not one of "
                               f"{', '.join(ISOLATION_MODES)}")
        self.server = server
        self.isolation = isolation
        self.prefix = prefix or f"roo_{secrets.token_hex(3)}"
        self.template = f"{self.prefix}_tpl"
        self.ahead = max(0, ahead)
        self._admin: Connection | None = None
        self._version = 0
        self._counter = 0
        self._lock = threading.Condition()
        self._ready: deque[str] = deque()
        self._drops: deque[str] = deque()
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._worker_error: BaseException | None = None
        self._shared: PostgresDatabase | None = None
        self._shared_conn: Connection | None = None
        self._restore_sql = ""
        self._waiting = 0
        self.created: list[str] = []

    # --- setup ---------------------------------------------------------------------------------

    def _connect(self, dbname: str | None = None) -> Connection:
        return self.server.connect(dbname=dbname or self.server.dbname, timeout=30.0)

    def _database(self, name: str, connection: Connection | None = None) -> PostgresDatabase:
        return PostgresDatabase(**{**_server_fields(self.server), "dbname": name},
                                isolation=self.isolation, connection=connection)

    def prepare(self, loaders: Iterable[TemplateLoader] = ()) -> None:
        """Create the template and fill it; start the clone and drop threads (database mode)."""
        self._admin = self._connect()
        self._version = int(self._admin.scalar("SHOW server_version_num") or 0)
        resolved = [_resolve_loader(loader) for loader in loaders]
        if not resolved and self.server.backend != "external":
            # nothing to load: the clones come from template1 itself, one CREATE DATABASE less
            # at the session start (on a shared external server someone may be connected to it)
            self.template = "template1"
        else:
            self._create(self._admin, self.template, "template1")
            self.created.append(self.template)
        for item in resolved:
            if callable(item):
                item(self._database(self.template))
            else:
                with self._connect(self.template) as conn:
                    for path in item:
                        try:
                            conn.query(path.read_text())
                        except Exception as exc:
                            raise ServiceError(f"postgres_template_load: {path} failed: {exc}"
                                               ) from None
        if self._own_template:
            # a loader's leftover connection would block every clone
            self._terminate(self.template)
            self._admin.query(
                f"ALTER DATABASE {quote_ident(self.template)} WITH IS_TEMPLATE true")
        if self.isolation == "database":
            self._threads = [
                threading.Thread(target=self._clone_work, name="roo-pg-clones", daemon=True),
                threading.Thread(target=self._drop_work, name="roo-pg-drops", daemon=True),
            ]
            for thread in self._threads:
                thread.start()
        else:
            name = f"{self.prefix}_{self.isolation[:2]}"
            self._create(self._admin, name)
            conn = self._connect(name)
            if self.isolation == "transaction":
                self._shared = self._database(name, conn)
            else:
                conn.query("SET lock_timeout = '30s'")
                self._restore_sql = self._snapshot(conn)
                self._shared = self._database(name)
            self._shared_conn = conn

    def _terminate(self, name: str) -> None:
        assert self._admin is not None
        self._admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")

    @property
    def _own_template(self) -> bool:
        return self.template != "template1"

    def _create(self, conn: Connection, name: str, template: str | None = None) -> None:
        # FILE_COPY (PostgreSQL 15+): with fsync off it beats the default WAL_LOG by about a
        # third for small templates, because it does not write every block to the WAL
        strategy = " STRATEGY FILE_COPY" if self._version >= 150000 else ""
        conn.query(f"CREATE DATABASE {quote_ident(name)} "
                   f"TEMPLATE {quote_ident(template or self.template)}{strategy}")

    def _drop(self, conn: Connection, name: str) -> None:
        if self._version >= 130000:
            conn.query(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        else:
            conn.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{name}'")
            conn.query(f"DROP DATABASE IF EXISTS {quote_ident(name)}")

    # --- database mode: the clone-ahead and drop-behind threads --------------------------------

    def _next_name(self) -> str:
        self._counter += 1
        return f"{self.prefix}_{self._counter}"

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self._worker_error = exc
            self._lock.notify_all()

    def _clone_work(self) -> None:
        """Keeps ``ahead`` clones ready (more while tests wait for one)."""
        try:
            with self._connect() as conn:
                while True:
                    with self._lock:
                        while not self._closing and (
                            len(self._ready) >= self.ahead + self._waiting
                        ):
                            self._lock.wait()
                        if self._closing:
                            return
                        name = self._next_name()
                        self.created.append(name)  # close(drop=True) removes it even half-made
                    self._create(conn, name)
                    with self._lock:
                        self._ready.append(name)
                        self._lock.notify_all()
        except BaseException as exc:
            self._fail(exc)

    def _drop_work(self) -> None:
        """Drops used databases on its own connection, so a drop never delays the next clone
        (both wait on checkpoints; side by side they share them)."""
        try:
            conn: Connection | None = None
            try:
                while True:
                    with self._lock:
                        while not self._closing and not self._drops:
                            self._lock.wait()
                        if self._closing:
                            return
                        name = self._drops.popleft()
                    if conn is None:  # connected on the first drop: the session start stays lean
                        conn = self._connect()
                    self._drop(conn, name)
                    with self._lock:
                        if name in self.created:
                            self.created.remove(name)
            finally:
                if conn is not None:
                    conn.close()
        except BaseException as exc:
            self._fail(exc)

    def acquire(self) -> PostgresDatabase:
        """This test's database."""
        if self._shared is not None:
            if self.isolation == "transaction":
                assert self._shared_conn is not None
                self._shared_conn.query("BEGIN")
            return self._shared
        deadline = time.monotonic() + ACQUIRE_TIMEOUT
        with self._lock:
            self._waiting += 1
            self._lock.notify_all()
            try:
                while not self._ready:
                    if self._worker_error is not None:
                        raise ServiceError(f"creating or dropping a test database failed: "
                                           f"{self._worker_error}") from None
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ServiceError(f"no test database after {ACQUIRE_TIMEOUT:.0f} s")
                    self._lock.wait(remaining)
                name = self._ready.popleft()
            finally:
                self._waiting -= 1
            self._lock.notify_all()
        return self._database(name)

    def release(self, database: PostgresDatabase) -> None:
        """Give ``database`` back after its test: roll back (transaction), restore the tables
        (truncate) or queue it to be dropped (database)."""
        if self.isolation == "transaction":
            assert self._shared_conn is not None
            self._shared_conn.query("ROLLBACK")
        elif self.isolation == "truncate":
            assert self._shared_conn is not None
            self._shared_conn.query(self._restore_sql)
        else:
            with self._lock:
                self._drops.append(database.dbname)
                self._lock.notify_all()

    # --- truncate mode --------------------------------------------------------------------------

    def _snapshot(self, conn: Connection) -> str:
        """Copy the template's rows aside; return the SQL that empties and restores the tables."""
        tables = conn.query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            f"WHERE schemaname NOT IN ('pg_catalog', 'information_schema', '{SEED_SCHEMA}') "
            "ORDER BY 1").rows
        names = [str(row[0]) for row in tables]
        seeded: list[str] = []
        if names:
            probe = " UNION ALL ".join(
                f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {name})" for i, name in enumerate(names))
            seeded = [names[int(str(row[0]))] for row in conn.query(probe).rows]
        restore: list[str] = []
        if seeded:
            conn.query(f"CREATE SCHEMA {SEED_SCHEMA}")
            for i, name in enumerate(seeded):
                conn.query(f"CREATE TABLE {SEED_SCHEMA}.t{i} AS SELECT * FROM {name}")
                restore.append(f"INSERT INTO {name} OVERRIDING SYSTEM VALUE "
                               f"SELECT * FROM {SEED_SCHEMA}.t{i};")
        sequences = conn.query(
            "SELECT format('%I.%I', schemaname, sequencename), last_value, "
            "last_value IS NOT NULL FROM pg_sequences "
            f"WHERE schemaname NOT IN ('pg_catalog', 'information_schema', '{SEED_SCHEMA}')").rows
        for seq, value, called in sequences:
            if called == "t":
                restore.append(f"SELECT setval('{seq}', {value}, true);")
        truncate = (
            "DO $roo$ DECLARE names text; BEGIN "
            "SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO names "
            "FROM pg_tables WHERE schemaname NOT IN "
            f"('pg_catalog', 'information_schema', '{SEED_SCHEMA}'); "
            "IF names IS NOT NULL THEN "
            "EXECUTE 'TRUNCATE ' || names || ' RESTART IDENTITY CASCADE'; END IF; END $roo$;"
        )
        if not restore:
            return truncate
        return (truncate + " SET session_replication_role = replica; " + " ".join(restore)
                + " RESET session_replication_role;")

    # --- teardown -------------------------------------------------------------------------------

    def close(self, drop: bool = True) -> None:
        """Stop the thread; with ``drop`` remove every database made here (external servers)."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(30)
        if self._shared_conn is not None:
            self._shared_conn.close()
            self._shared_conn = None
        if self._admin is None:
            return
        try:
            if drop:
                names = set(self.created) | set(self._drops) | set(self._ready)
                if self._shared is not None:
                    names.add(self._shared.dbname)
                for name in sorted(names - {self.template}):
                    self._drop(self._admin, name)
                if self._own_template:
                    self._admin.query(
                        f"ALTER DATABASE {quote_ident(self.template)} WITH IS_TEMPLATE false")
                    self._drop(self._admin, self.template)
        finally:
            self._admin.close()
            self._admin = None


class RedisDatabases:
    """One logical database of ``server`` per test, emptied (FLUSHDB) before the test starts.

    One connection is kept for the whole session, so the reset is one round trip.
    """

    def __init__(self, server: RedisServer, db: int | None = None) -> None:
        self.server = server
        self.db = server.db if db is None else db
        self._conn: Any = None

    def acquire(self) -> RedisDatabase:
        """The logical database, emptied (FLUSHDB) for the next test."""
        if self._conn is None:
            self._conn = self.server.connect()
            if self.db != self.server.db:
                self._conn.command("SELECT", self.db)
        self._conn.command("FLUSHDB")
        values = {f.name: getattr(self.server, f.name) for f in fields(RedisServer)}
        return RedisDatabase(**{**values, "db": self.db})

    def close(self) -> None:
        """Close the connection used to empty the database."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def worker_index(worker_id: str | None) -> int:
    """``gw3`` -> 3; the controller or a run without xdist -> 0."""
    if worker_id and worker_id.startswith("gw") and worker_id[2:].isdigit():
        return int(worker_id[2:])
    return 0


def as_loaders(value: object) -> Sequence[TemplateLoader]:
    """Normalise what a ``postgres_template_load`` fixture returned."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)) or callable(value):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise ServiceError(f"postgres_template_load returned {value!r}; expected a list of .sql "
                       f"paths, directories, 'module:function' names or callables")
