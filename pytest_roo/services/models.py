"""What the service fixtures hand to tests: plain dataclasses with host, port, credentials and URLs.

``repr()`` and ``str()`` mask the password, so an object printed in a failure, a log line or a
report never leaks it; ``url`` and ``dsn`` carry it for the clients that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from pytest_roo.redact import remember_secret

if TYPE_CHECKING:
    from pytest_roo.services.pgwire import Connection
    from pytest_roo.services.resp import RespConnection

__all__ = [
    "PostgresDatabase",
    "PostgresServer",
    "RedisDatabase",
    "RedisServer",
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

    def __post_init__(self) -> None:
        remember_secret(self.password)  # masked in test reports from now on

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

    def __post_init__(self) -> None:
        remember_secret(self.password)  # masked in test reports from now on

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
