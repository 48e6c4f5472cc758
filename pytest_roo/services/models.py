"""What the service fixtures hand to tests: plain dataclasses with host, port, credentials and URLs.

``repr()`` and ``str()`` mask the password, so an object printed in a failure, a log line or a
report never leaks it; ``url`` and ``dsn`` carry it for the clients that need it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from pytest_roo.redact import remember_secret

if TYPE_CHECKING:
    from pytest_roo.faults.windows import FaultWindow
    from pytest_roo.services.pgwire import Connection
    from pytest_roo.services.resp import RespConnection

__all__ = [
    "PostgresDatabase",
    "PostgresServer",
    "RedisDatabase",
    "RedisServer",
    "ServiceControl",
    "ServiceError",
    "ServiceUnavailable",
]

MASK = "***"


class ServiceError(RuntimeError):
    """A service could not be started or used; the message says what was tried."""


class ServiceUnavailable(ServiceError):
    """The backend's parts are missing (no binaries, no engine, no URL); ``hint`` says how to
    install them. Under ``--roo-services=auto`` the tests needing the service are skipped."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message + (f" {hint}" if hint else ""))
        self.hint = hint


class ServiceControl(Protocol):
    """How a backend stops and starts again a server it started (see ``restart`` / ``kill``)."""

    def restart(self, *, kill: bool = False, timeout: float = 30.0,
                down: float = 0.0) -> FaultWindow:
        """Stop the server (SIGKILL with ``kill``), leave it stopped ``down`` seconds, start it
        again in place and wait until it is ready."""
        ...


#: why a server given by URL cannot be restarted, and what can
_NO_CONTROL = {
    "external": "cannot restart a service given by URL ({url}): pytest-roo did not start it, "
                "so it cannot stop and start it; restart and kill work on the servers of the "
                "local backend (--roo-services=local)",
    "docker": "cannot {what} a server of the docker backend ({url}) in place: its data "
              "would not survive a container restart (PostgreSQL's data directory is a tmpfs "
              "inside the container, which a restart empties, and the container's Redis keeps "
              "nothing on disk), so nothing a test could check would be left; restart and kill work on the servers of the local "
              "backend (--roo-services=local)",
}


def _control(server: PostgresServer | RedisServer, what: str) -> ServiceControl:
    control: ServiceControl | None = server.control
    if control is None:
        reason = _NO_CONTROL.get(server.backend, "cannot {what} this server ({url}): the {backend} "
                                 "backend did not give a way to stop and start it")
        raise ServiceError(reason.format(url=server.masked_url, what=what,
                                         backend=server.backend))
    return control


def _down(down: float) -> float:
    if isinstance(down, bool) or not isinstance(down, (int, float)) or not down >= 0:
        raise ValueError(f"down={down!r} is not valid; expected the seconds the server stays "
                         "stopped, >= 0")
    return float(down)


def _netloc(user: str | None, password: str | None, host: str, port: int) -> str:
    auth = ""
    if user:
        auth = quote(user, safe="")
    if password:
        auth += ":" + (MASK if password == MASK else quote(password, safe=""))
    if auth:
        auth += "@"
    shown_host = f"[{host}]" if ":" in host else host
    return f"{auth}{shown_host}:{port}"


def _dsn_value(value: str) -> str:
    if value and all(c not in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL server and its superuser credentials.

    ``url`` (``postgresql://user:password@host:port/dbname``) suits asyncpg, SQLAlchemy and
    psycopg; ``dsn`` is the libpq keyword form. ``socket_dir`` is set for local servers.
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str = "postgres"
    backend: str = "local"
    version: str = ""
    socket_dir: str | None = None
    #: how its backend restarts it (None for a server given by URL)
    control: ServiceControl | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        remember_secret(self.password)  # masked in test reports from now on

    def restart(self, timeout: float = 30.0, down: float = 0.0) -> FaultWindow:
        """Stop the server cleanly (a fast shutdown: open connections are closed, the data is
        written out) and start it again on the same data directory and port; return once it
        accepts connections. Returns the FaultWindow from the stop to the server being ready
        (``recovery_meter(probe, since=window)`` measures the application's recovery).
        Connections opened before are gone; new ones work. ``down``: seconds the server stays
        stopped before it starts again (an outage longer than the restart itself).
        ServiceError for a server given by URL, or a backend that cannot restart in place
        (docker)."""
        stopped = _down(down)  # a bad value is named before anything else is tried
        return _control(self, "restart").restart(kill=False, timeout=timeout, down=stopped)

    def kill(self, timeout: float = 30.0, down: float = 0.0) -> FaultWindow:
        """SIGKILL the postmaster and every backend at once (a crash: nothing is written out),
        then start again on the same data directory and port (crash recovery replays the WAL)
        and return once it accepts connections. Committed data survives; with the local
        backend's default ``synchronous_commit=off`` the last commits (up to about 0.6 s) can
        be lost, as on any such server: set it ``on`` (``postgres_server_args``) to test
        durability."""
        stopped = _down(down)
        return _control(self, "kill").restart(kill=True, timeout=timeout, down=stopped)

    def backup(self, path: str | os.PathLike[str], *, dbname: str | None = None,
               snapshot: str | None = None, timeout: float = 120.0) -> Path:
        """``pg_dump -Fc`` of ``dbname`` (default this one) into ``path``, the password passed
        in pg_dump's environment; see :func:`pytest_roo.services.backups.dump_postgres`."""
        from pytest_roo.services.backups import dump_postgres

        return dump_postgres(self, path, dbname=dbname or self.dbname, snapshot=snapshot,
                             timeout=timeout)

    def restore(self, path: str | os.PathLike[str], *, dbname: str,
                timeout: float = 120.0) -> None:
        """Restore a :meth:`backup` file as the new database ``dbname`` (which must not
        exist), through a side database renamed into place; see
        :func:`pytest_roo.services.backups.restore_postgres`."""
        from pytest_roo.services.backups import restore_postgres

        restore_postgres(self, path, dbname=dbname, timeout=timeout)

    @property
    def url(self) -> str:
        """A ``postgresql://`` URL with the password (keep it out of logs: see masked_url)."""
        return f"postgresql://{_netloc(self.user, self.password, self.host, self.port)}/{quote(self.dbname, safe='')}"

    @property
    def dsn(self) -> str:
        """A libpq keyword/value connection string with the password."""
        parts = {"host": self.host, "port": str(self.port), "user": self.user,
                 "password": self.password, "dbname": self.dbname}
        return " ".join(f"{k}={_dsn_value(v)}" for k, v in parts.items())

    @property
    def masked_url(self) -> str:
        """The URL with the password masked, for messages and reports."""
        return f"postgresql://{_netloc(self.user, MASK, self.host, self.port)}/{self.dbname}"

    def __repr__(self) -> str:
        return (f"PostgresServer(backend={self.backend!r}, url={self.masked_url!r}, "
                f"version={self.version!r})")

    __str__ = __repr__

    def connect(self, dbname: str | None = None, timeout: float = 5.0) -> Connection:
        """A small synchronous connection (pytest_roo.services.pgwire) as the superuser."""
        from pytest_roo.services.pgwire import Connection

        if self.socket_dir:
            return Connection.open(host=self.socket_dir, port=self.port, user=self.user,
                                   password=self.password, dbname=dbname or self.dbname,
                                   timeout=timeout)
        return Connection.open(host=self.host, port=self.port, user=self.user,
                               password=self.password, dbname=dbname or self.dbname,
                               timeout=timeout)


@dataclass(frozen=True)
class PostgresDatabase(PostgresServer):
    """One test's database: the server's fields with ``dbname`` naming this database.

    ``isolation`` is ``database`` (a fresh clone of the template, dropped afterwards),
    ``transaction`` (``connection`` is open inside a transaction that is rolled back after the
    test; only writes through it are undone) or ``truncate`` (tables are emptied and the
    template's rows restored after the test).
    """

    isolation: str = "database"
    connection: Connection | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The database's name (the same as ``dbname``)."""
        return self.dbname

    def __repr__(self) -> str:
        return (f"PostgresDatabase(backend={self.backend!r}, url={self.masked_url!r}, "
                f"isolation={self.isolation!r})")

    __str__ = __repr__


@dataclass(frozen=True)
class RedisServer:
    """A running Redis server. ``url`` is ``redis://:password@host:port/db``."""

    host: str
    port: int
    password: str | None = field(default=None, repr=False)
    user: str | None = None
    db: int = 0
    backend: str = "local"
    version: str = ""
    socket_path: str | None = None
    #: how its backend restarts it (None for a server given by URL)
    control: ServiceControl | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        remember_secret(self.password)  # masked in test reports from now on

    def restart(self, timeout: float = 30.0, down: float = 0.0) -> FaultWindow:
        """Stop redis-server (SIGTERM: a clean shutdown) and start it again on the same port
        and directory; return once it answers PING. Returns the FaultWindow from the stop to
        PING answering. The local backend's Redis keeps no data on disk unless started with
        ``persistence="aof"`` (``redis_server_args``): without it every key is gone after a
        restart or a kill."""
        stopped = _down(down)  # a bad value is named before anything else is tried
        return _control(self, "restart").restart(kill=False, timeout=timeout, down=stopped)

    def kill(self, timeout: float = 30.0, down: float = 0.0) -> FaultWindow:
        """SIGKILL redis-server, then start it again as :meth:`restart` does. With
        ``persistence="aof"`` every write Redis acknowledged is back (the append-only file
        is written, and fsynced, before the reply is sent); without persistence nothing is."""
        stopped = _down(down)
        return _control(self, "kill").restart(kill=True, timeout=timeout, down=stopped)

    def save(self, path: str | os.PathLike[str], *,
             read: Sequence[Sequence[str | bytes | int]] = (),
             timeout: float = 60.0) -> list[object]:
        """An RDB snapshot (BGSAVE, client writes paused meanwhile) moved to ``path``; returns
        the answers of the ``read`` commands, run at the snapshot's instant. Local backend;
        see :func:`pytest_roo.services.backups.save_redis`."""
        from pytest_roo.services.backups import save_redis

        return save_redis(self, path, read=read, timeout=timeout)

    def restore(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> FaultWindow:
        """Replace the server's data with a :meth:`save` file (placed, then the server
        restarted); see :func:`pytest_roo.services.backups.restore_redis`."""
        from pytest_roo.services.backups import restore_redis

        return restore_redis(self, path, timeout=timeout)

    @property
    def url(self) -> str:
        """A ``redis://`` URL with the password (keep it out of logs: see masked_url)."""
        return f"redis://{_netloc(self.user, self.password, self.host, self.port)}/{self.db}"

    @property
    def dsn(self) -> str:
        """The same as ``url``."""
        return self.url

    @property
    def masked_url(self) -> str:
        """The URL with the password masked, for messages and reports."""
        password = MASK if self.password else None
        return f"redis://{_netloc(self.user, password, self.host, self.port)}/{self.db}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, url={self.masked_url!r})"

    __str__ = __repr__

    def connect(self, timeout: float = 5.0) -> RespConnection:
        """A small synchronous RESP connection, authenticated and on ``db``."""
        from pytest_roo.services.resp import RespConnection

        if self.socket_path:
            conn = RespConnection(self.socket_path, 0, timeout)
        else:
            conn = RespConnection(self.host, self.port, timeout)
        try:
            if self.password:
                if self.user:
                    conn.command("AUTH", self.user, self.password)
                else:
                    conn.command("AUTH", self.password)
            if self.db:
                conn.command("SELECT", self.db)
        except BaseException:
            conn.close()
            raise
        return conn


@dataclass(frozen=True)
class RedisDatabase(RedisServer):
    """One test's Redis logical database, empty when the test starts."""
