"""Backups of a running PostgreSQL database and Redis server, and their restores.

PostgreSQL: a logical backup (``pg_dump -Fc``) of one database, restored by ``pg_restore`` into
a side database that is then renamed into place, so no client ever sees it half restored. The
password reaches pg_dump and pg_restore in their environment (``PGPASSWORD``), never on their
command line. A dump can be taken on a snapshot exported by another session
(``pg_export_snapshot()``), so that session reads exactly what the file holds.

Redis: an RDB file made by ``BGSAVE`` while client writes are paused for a moment
(``CLIENT PAUSE ... WRITE``), so commands given in ``read=`` answer exactly what the file holds;
restored by placing the file where the server loads it and restarting the server. Both need the
server's directory on this machine (the local backend).

No pytest import here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_roo.services import procs
from pytest_roo.services.models import (
    PostgresServer,
    RedisServer,
    ServiceError,
    ServiceUnavailable,
)

if TYPE_CHECKING:
    from pytest_roo.faults.windows import FaultWindow

__all__ = ["dump_postgres", "find_client_bin", "restore_postgres", "restore_redis",
           "save_redis"]

CLIENT_HINT = ("Install the PostgreSQL client programs of the server's major version or newer "
               "(Debian/Ubuntu: `apt-get install postgresql-client`), or point bin_dir at the "
               "directory holding pg_dump and pg_restore.")
#: how long Redis writes may stay paused while the snapshot is forked (milliseconds): a bound
#: in case this process dies between the pause and the unpause
PAUSE_MS = 2000


def find_client_bin(bin_dir: Path | None = None) -> Path:
    """The directory holding ``pg_dump`` and ``pg_restore``: ``bin_dir``, else the newest
    PostgreSQL bin directory found (as for the local server), else ``pg_dump`` on PATH."""
    from pytest_roo.services.local_common import find_postgres_bin

    def usable(directory: Path) -> bool:
        return all(os.access(directory / name, os.X_OK) for name in ("pg_dump", "pg_restore"))

    if bin_dir is not None:
        if usable(bin_dir):
            return bin_dir
        raise ServiceUnavailable(f"bin_dir={str(bin_dir)!r} holds no executable pg_dump and "
                                 f"pg_restore.", CLIENT_HINT)
    with contextlib.suppress(ServiceUnavailable):
        server_bin = find_postgres_bin(None)
        if usable(server_bin):
            return server_bin
    on_path = shutil.which("pg_dump")
    if on_path and usable(Path(on_path).parent):
        return Path(on_path).parent
    raise ServiceUnavailable("no pg_dump and pg_restore found.", CLIENT_HINT)


def _pg_env(server: PostgresServer) -> dict[str, str]:
    # the password in the environment: the process list shows argv, never this
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
            "PGPASSWORD": server.password, "PGCONNECT_TIMEOUT": "10"}


def _pg_args(server: PostgresServer, dbname: str) -> list[str]:
    return ["-h", server.host, "-p", str(server.port), "-U", server.user, "-d", dbname]


def _scrub(text: str, server: PostgresServer | RedisServer) -> str:
    if server.password:
        text = text.replace(server.password, "***")
    return text.strip()[-1500:]


def dump_postgres(server: PostgresServer, path: str | os.PathLike[str], *,
                  dbname: str | None = None, snapshot: str | None = None,
                  bin_dir: Path | None = None, timeout: float = 120.0) -> Path:
    """``pg_dump -Fc`` of ``dbname`` (default the server's) into ``path``; returns the path.

    Args:
        server: the server and its credentials (any reachable server, not only a local one).
        path: the dump file to write (its directory must exist).
        dbname: the database to back up.
        snapshot: a snapshot exported by ``SELECT pg_export_snapshot()`` in a transaction
            that stays open until this returns: the dump then holds exactly what that
            transaction sees.
        bin_dir: where pg_dump is (see :func:`find_client_bin`).
        timeout: seconds before pg_dump is killed and ServiceError raised.

    Example::

        dump = dump_postgres(postgres_server, tmp_path / "app.dump", dbname="app")
        restore_postgres(postgres_server, dump, dbname="app_copy")
    """
    target = Path(path)
    name = dbname or server.dbname
    args = [str(find_client_bin(bin_dir) / "pg_dump"), "-Fc", "-f", str(target),
            *_pg_args(server, name)]
    if snapshot is not None:
        if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):
            raise ValueError(f"snapshot={snapshot!r} is not a snapshot id; expected what "
                             "pg_export_snapshot() returns, e.g. '00000003-0000001B-1'")
        args += ["--snapshot", snapshot]
    code, out = procs.run_bounded(args, timeout=timeout, env=_pg_env(server))
    if code != 0:
        with contextlib.suppress(OSError):
            target.unlink()
        raise ServiceError(f"pg_dump of database {name!r} on {server.masked_url} failed "
                           f"({code}): {_scrub(out, server)}")
    return target


def restore_postgres(server: PostgresServer, path: str | os.PathLike[str], *, dbname: str,
                     bin_dir: Path | None = None, timeout: float = 120.0) -> None:
    """Restore the ``pg_dump -Fc`` file ``path`` as the new database ``dbname``.

    The dump goes into a side database first (``pg_restore --exit-on-error``), which is then
    renamed to ``dbname``: clients that connect meanwhile find no database rather than a
    half-restored one, and never write into it before its sequences are set. ``dbname`` must
    not exist (drop it first: that is the disaster being recovered from). ServiceError with
    pg_restore's own message when it fails; the side database is dropped then.
    """
    from pytest_roo.services.pgwire import quote_ident, quote_literal

    source = Path(path)
    if not source.is_file():
        raise ServiceError(f"restore_postgres: no dump file at {source}")
    side = f"{dbname[:40]}_restore_{secrets.token_hex(3)}"
    with server.connect() as conn:
        if conn.scalar(f"SELECT 1 FROM pg_database WHERE datname = {quote_literal(dbname)}"):
            raise ServiceError(f"restore_postgres: database {dbname!r} exists; drop it first "
                               "(the restore creates it)")
        conn.query(f"CREATE DATABASE {quote_ident(side)} TEMPLATE template0")
    try:
        args = [str(find_client_bin(bin_dir) / "pg_restore"), "--exit-on-error",
                "--no-owner", *_pg_args(server, side), str(source)]
        code, out = procs.run_bounded(args, timeout=timeout, env=_pg_env(server))
        if code != 0:
            raise ServiceError(f"pg_restore of {source} into {server.masked_url} failed "
                               f"({code}): {_scrub(out, server)}")
        with server.connect() as conn:
            conn.query(f"ALTER DATABASE {quote_ident(side)} RENAME TO {quote_ident(dbname)}")
    except BaseException:
        with contextlib.suppress(Exception), server.connect() as conn:
            conn.query(f"DROP DATABASE IF EXISTS {quote_ident(side)} WITH (FORCE)")
        raise


def _text(reply: object) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _config(conn: Any, name: str) -> str:
    reply = conn.command("CONFIG", "GET", name)
    return _text(reply[1]) if isinstance(reply, list) and len(reply) > 1 else ""


def _local_file(server: RedisServer, conn: Any, what: str) -> Path:
    """The server's RDB file, which must be on this machine."""
    directory = Path(_config(conn, "dir"))
    if server.backend != "local" or not directory.is_dir():
        raise ServiceError(f"Redis {what}: the server's directory ({directory}) is not on this "
                           f"machine ({server.masked_url}, {server.backend} backend); RDB "
                           "backups work on the servers of the local backend "
                           "(--roo-services=local)")
    return directory / (_config(conn, "dbfilename") or "dump.rdb")


def _wait_saved(conn: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = _text(conn.command("INFO", "persistence"))
        if "rdb_bgsave_in_progress:0" in info:
            if "rdb_last_bgsave_status:ok" not in info:
                raise ServiceError("Redis BGSAVE failed (rdb_last_bgsave_status is not ok); "
                                   "see the server's log")
            return
        if time.monotonic() > deadline:
            raise ServiceError(f"Redis BGSAVE did not finish within {timeout:g} s")
        time.sleep(0.005)


def save_redis(server: RedisServer, path: str | os.PathLike[str], *,
               read: Sequence[Sequence[str | bytes | int]] = (),
               timeout: float = 60.0) -> list[object]:
    """An RDB snapshot of the whole server (every numbered database) moved to ``path``.

    Client writes are paused (``CLIENT PAUSE ... WRITE``) while the commands of ``read`` run
    and ``BGSAVE`` forks, then resumed: the answers of ``read`` (returned, in order) show
    exactly what the file holds, e.g. ``read=[("LRANGE", "history", 0, -1)]``. Writers wait
    a few milliseconds, none fails. The file is moved out of the server's directory, so a
    later restart of a server without persistence still starts empty. Local backend only.
    """
    target = Path(path)
    with server.connect(timeout=timeout) as conn:
        source = _local_file(server, conn, "save")
        conn.command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        try:
            answers = [conn.command(*command) for command in read]
            conn.command("BGSAVE")
        finally:
            conn.command("CLIENT", "UNPAUSE")
        _wait_saved(conn, timeout)
    shutil.move(str(source), str(target))
    return answers


def restore_redis(server: RedisServer, path: str | os.PathLike[str], *,
                  timeout: float = 30.0) -> FaultWindow:
    """Replace everything in the server with the RDB file ``path`` (from :func:`save_redis`).

    The file is placed where the server loads it, the server restarted (``server.restart``)
    and, when the server keeps nothing on disk itself, the file removed again once loaded.
    Returns the restart's FaultWindow. Raises ServiceError for a server with an append-only
    file (it would load that instead) or one not started by the local backend.
    """
    source = Path(path)
    if not source.is_file():
        raise ServiceError(f"restore_redis: no RDB file at {source}")
    with server.connect(timeout=timeout) as conn:
        target = _local_file(server, conn, "restore")
        if _config(conn, "appendonly") == "yes":
            raise ServiceError("restore_redis: the server keeps an append-only file, which it "
                               "loads at start instead of an RDB file; restore works on "
                               "servers without AOF persistence")
        keeps_rdb = _config(conn, "save") != ""
        # a server with save points writes its data out when it shuts down: over the file
        conn.command("CONFIG", "SET", "save", "")
    owner = target.parent.stat()
    staged = target.with_name(f".{target.name}.restore-{secrets.token_hex(3)}")
    shutil.copyfile(source, staged)
    os.chmod(staged, 0o600)
    if owner.st_uid != os.geteuid():
        os.chown(staged, owner.st_uid, owner.st_gid)
    os.replace(staged, target)
    try:
        window = server.restart(timeout=timeout)
    finally:
        if not keeps_rdb:
            with contextlib.suppress(OSError):
                target.unlink()
    return window
