"""What the local PostgreSQL and Redis share: finding their binaries (with the install hints when
none is found), the bounds of a start, and reading a server's log tail for an error.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from pytest_roo.services import procs
from pytest_roo.services.models import ServiceError, ServiceUnavailable

__all__ = ["PORT_ATTEMPTS", "START_TIMEOUT", "find_postgres_bin", "find_redis_bin"]

POSTGRES_HINT = (
    "Install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`; macOS: "
    "`brew install postgresql@16`), point --roo-postgres-bin at its bin directory, or use "
    "--roo-services=docker / --roo-services=external --roo-postgres-url=URL."
)
REDIS_HINT = (
    "Install Redis (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), "
    "point --roo-redis-bin at redis-server, or use --roo-services=docker / "
    "--roo-services=external --roo-redis-url=URL."
)
START_TIMEOUT = 30.0
PORT_ATTEMPTS = 5
# external probes are bounded (seconds): a binary that hangs fails clearly instead of
# blocking the session
PROBE_TIMEOUT = 5.0


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/(\d+)(?:\.(\d+))?/bin$", path)
    return tuple(int(g) for g in match.groups() if g) if match else (0,)


def find_postgres_bin(configured: Path | None) -> Path:
    """The directory holding ``postgres`` and ``initdb``; ServiceUnavailable lists what was probed."""

    def usable(directory: Path) -> bool:
        return all(os.access(directory / name, os.X_OK) for name in ("postgres", "initdb"))

    if configured is not None:
        if usable(configured):
            return configured
        raise ServiceUnavailable(
            f"PostgreSQL: --roo-postgres-bin={str(configured)!r} holds no executable `postgres` "
            f"and `initdb`.", POSTGRES_HINT)
    probed: list[str] = []
    on_path = shutil.which("postgres")
    probed.append("`postgres` on PATH")
    if on_path and usable(Path(on_path).parent):
        return Path(on_path).parent
    pg_config = shutil.which("pg_config")
    probed.append("`pg_config --bindir`")
    if pg_config:
        try:
            code, out = procs.run_bounded([pg_config, "--bindir"], timeout=PROBE_TIMEOUT)
        except ServiceError as exc:
            probed[-1] += f" ({exc})"
            code, out = 1, ""
        bindir = out.strip() if code == 0 else ""
        if bindir and usable(Path(bindir)):
            return Path(bindir)
    probed.append("/usr/lib/postgresql/*/bin")
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if usable(Path(candidate)):
            return Path(candidate)
    raise ServiceUnavailable(
        f"PostgreSQL: no server binaries found (probed {', '.join(probed)}).", POSTGRES_HINT)


def find_redis_bin(configured: Path | None) -> Path:
    """The redis-server to run: ``--roo-redis-bin`` if given, else one on PATH; ServiceUnavailable
    with the install hint if none."""
    if configured is not None:
        if configured.is_file() and os.access(configured, os.X_OK):
            return configured
        if os.access(configured / "redis-server", os.X_OK):
            return configured / "redis-server"
        raise ServiceUnavailable(
            f"Redis: --roo-redis-bin={str(configured)!r} is not an executable redis-server.",
            REDIS_HINT)
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise ServiceUnavailable("Redis: no `redis-server` on PATH.", REDIS_HINT)


def _read_tail(path: Path, limit: int = 2000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace").strip()


class _PortTaken(ServiceError):
    pass


def stop_for_restart(proc: subprocess.Popen[bytes], *, kill: bool, graceful: int,
                     timeout: float, watchdog: procs.Watchdog | None,
                     killed: Callable[[], None] | None = None) -> None:
    """Stop a local server that is to start again in place: ``kill``: SIGKILL to its whole
    group; else ``graceful`` (its clean shutdown), and SIGKILL to the group after ``timeout``
    s. The server is reaped and the watchdog forgets it; ``killed`` runs after a SIGKILL,
    once the server is reaped (what a killed server leaves behind)."""
    forced = kill
    if kill:
        procs.kill_group(proc.pid, signal.SIGKILL)
    else:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(graceful)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            procs.kill_group(proc.pid, signal.SIGKILL)
            forced = True
    procs.reap(proc)
    if forced and killed is not None:
        killed()
    if watchdog is not None:
        watchdog.forget_pid(proc.pid)
