"""A throwaway PostgreSQL from binaries on this machine.

It starts in tens of milliseconds because nothing slow is on the path: the ``initdb`` result is
cached per machine (keyed by server version and settings, built once, atomically), copied into
the session's runtime directory on tmpfs (or claimed from a spare copy made ahead), and
``postgres`` is executed directly (no ``pg_ctl``) while a real connection is polled every 2 ms.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_roo.services import procs
from pytest_roo.services.local_common import (
    PORT_ATTEMPTS,
    START_TIMEOUT,
    _PortTaken,
    _read_tail,
    find_postgres_bin,
    stop_for_restart,
)
from pytest_roo.services.models import PostgresServer, ServiceError, ServiceUnavailable

if TYPE_CHECKING:
    from pytest_roo.faults.windows import FaultWindow
    from pytest_roo.services.pgwire import Connection

__all__ = ["LocalPostgres", "spare_make", "spare_root"]

CACHE_FORMAT = "1"
POSTGRES_SUPERUSER = "postgres"
INITDB_ARGS = (
    "--no-locale", "--encoding=UTF8", "--auth-local=trust", "--auth-host=scram-sha-256",
    "--no-sync", "--no-instructions", "--wal-segsize=1",
)
POSTGRES_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "max_wal_size": "256MB",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "password_encryption": "scram-sha-256",
    # segments live in the data directory, so they go with it even after a SIGKILL
    "dynamic_shared_memory_type": "mmap",
}
# every external command is bounded (seconds): a binary that hangs fails clearly instead of
# blocking the session
VERSION_TIMEOUT = 10.0
INITDB_TIMEOUT = 120.0
COPY_TIMEOUT = 120.0


def cache_root() -> Path:
    env = os.environ.get("ROO_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-roo"


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    port: int


class LocalPostgres:
    """One PostgreSQL server in ``session_dir``; ``start()`` returns the PostgresServer."""

    def __init__(
        self,
        session_dir: procs.SessionDir,
        *,
        bin_dir: Path | None = None,
        service_user: str = "postgres",
        watchdog: procs.Watchdog | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.session_dir = session_dir
        self.bin_dir = find_postgres_bin(bin_dir)
        try:
            self.run_as = procs.run_as_for(service_user)
        except LookupError as exc:
            raise ServiceUnavailable(f"PostgreSQL: {exc}.") from None
        self.watchdog = watchdog
        self.settings = {**POSTGRES_SETTINGS, **(settings or {})}
        self.password = secrets.token_urlsafe(18)
        self.version = ""
        self.timings: dict[str, float] = {}
        self._running: _Running | None = None
        self._spare_key: tuple[str, Path] | None = None
        self.data_dir = session_dir.path / "pg"
        self.socket_dir = session_dir.path / "pgs"
        self.log_path = session_dir.path / "pg.log"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the server processes: PATH, the C locale and UTC only."""
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}

    def cache_key(self) -> str:
        """Changes with the server binaries (path, size, mtime) and with the initdb settings."""
        material = [CACHE_FORMAT, self.run_as.name, POSTGRES_SUPERUSER, *INITDB_ARGS]
        for name in ("postgres", "initdb"):
            path = os.path.realpath(self.bin_dir / name)
            st = os.stat(path)
            material += [path, str(st.st_size), str(st.st_mtime_ns)]
        return hashlib.sha256("\n".join(material).encode()).hexdigest()[:16]

    def check_version(self) -> str:
        """``postgres -V``, bounded: initdb runs it too (through ``sh -c``) and would wait for a
        binary that hangs for as long as initdb's own limit allows."""
        try:
            code, out = procs.run_bounded([str(self.bin_dir / "postgres"), "-V"],
                                          timeout=VERSION_TIMEOUT, env=self.env)
        except ServiceError as exc:
            raise ServiceError(f"PostgreSQL: {exc}. Is {self.bin_dir} a PostgreSQL server's "
                               f"bin directory?") from None
        if code != 0 or "PostgreSQL" not in out:
            raise ServiceError(f"PostgreSQL: `{self.bin_dir / 'postgres'} -V` answered "
                               f"{code}: {out.strip()[-500:]!r}")
        return out.strip()

    def _initdb(self, target: Path) -> None:
        self.check_version()
        target.mkdir(mode=0o700)
        if self.run_as.switches:
            os.chown(target, self.run_as.uid, self.run_as.gid)
        try:
            code, out = procs.run_bounded(
                [str(self.bin_dir / "initdb"), "-D", str(target), "-U", POSTGRES_SUPERUSER,
                 *INITDB_ARGS],
                timeout=INITDB_TIMEOUT, run_as=self.run_as, env=self.env, cwd=str(target),
            )
        except ServiceError as exc:
            raise ServiceError(f"PostgreSQL: {exc}") from None
        if code != 0:
            raise ServiceError(f"PostgreSQL: initdb failed ({code}): {out[-2000:]}")

    def _prepare_data_dir(self) -> None:
        """Claim a spare copy of the cached initdb image, else copy it, else build it."""
        t0 = time.perf_counter()
        key = self.cache_key()
        image = cache_root() / "postgres" / key
        if spare_claim(key, self.data_dir):
            self.timings["spare"] = time.perf_counter() - t0
        elif image.is_dir():
            _copy_tree(image, self.data_dir)
            self.timings["copy"] = time.perf_counter() - t0
        else:
            # initdb as the server's user into the session dir (tmpfs, and reachable by that
            # user even when the cache lives in root's home), then publish with a rename
            self._initdb(self.data_dir)
            self.timings["initdb"] = time.perf_counter() - t0
            try:
                image.parent.mkdir(parents=True, exist_ok=True)
                tmp = image.parent / f"{key}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
                _copy_tree(self.data_dir, tmp)
                try:
                    os.rename(tmp, image)
                except OSError:  # another process published the same image first
                    procs.rmtree(tmp)
            except (OSError, ServiceError):
                return  # no cache this time; the server still starts from the fresh initdb
        self._spare_key = (key, image)

    def _make_spare(self) -> None:
        if self._spare_key is not None:
            key, image = self._spare_key
            spare_make(key, image)

    def start(self) -> PostgresServer:
        """Prepare the data directory, start PostgreSQL on a private socket directory and wait until
        it accepts connections."""
        t0 = time.perf_counter()
        if self.watchdog is not None:
            self.watchdog.watch_dir(self.session_dir.path)
        self._prepare_data_dir()
        self.socket_dir.mkdir(mode=0o700)
        if self.run_as.switches:
            os.chown(self.socket_dir, self.run_as.uid, self.run_as.gid)
        last_error = ""
        for _ in range(PORT_ATTEMPTS):
            port = procs.free_port()
            running = self._spawn(port)
            try:
                conn = self._wait_ready(running)
            except _PortTaken as exc:
                last_error = str(exc)
                self._kill(running)
                continue
            except BaseException:
                self._kill(running)
                raise
            self._running = running
            try:
                from pytest_roo.services.pgwire import quote_ident, quote_literal, scram_verifier

                # the verifier, not the password: the statement may end up in a traceback or log
                conn.query(f"ALTER ROLE {quote_ident(POSTGRES_SUPERUSER)} "
                           f"PASSWORD {quote_literal(scram_verifier(self.password))}")
                server_version = conn.parameters.get("server_version", "")
            finally:
                conn.close()
            self.timings["ready"] = time.perf_counter() - t0
            # the next session (or xdist worker) finds its data directory ready: copying the
            # image costs ~50 ms, renaming a spare copy costs nothing
            threading.Thread(target=self._make_spare, name="roo-pg-spare", daemon=True).start()
            return PostgresServer(
                host="127.0.0.1", port=port, user=POSTGRES_SUPERUSER, password=self.password,
                backend="local", version=server_version, socket_dir=str(self.socket_dir),
                control=self,
            )
        raise ServiceError(f"PostgreSQL: could not bind a port after {PORT_ATTEMPTS} attempts: "
                           f"{last_error}")

    def _spawn(self, port: int) -> _Running:
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(port),
                "-c", f"unix_socket_directories={self.socket_dir}"]
        for key, value in self.settings.items():
            args += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log:
            proc = procs.spawn(args, run_as=self.run_as, death_signal=signal.SIGQUIT,
                               env=self.env, cwd=str(self.data_dir), stdout=log, stderr=log)
        self.session_dir.register_pid(proc.pid)
        if self.watchdog is not None:
            self.watchdog.watch_pid(proc.pid)
        return _Running(proc, port)

    def _wait_ready(self, running: _Running, timeout: float = START_TIMEOUT) -> Connection:
        from pytest_roo.services.pgwire import Connection, PgError

        deadline = time.monotonic() + timeout
        while True:
            code = running.proc.poll()
            if code is not None:
                tail = _read_tail(self.log_path)
                if "could not bind" in tail or "could not create any TCP/IP" in tail:
                    raise _PortTaken(tail)
                raise ServiceError(f"PostgreSQL exited with {code} while starting; its log "
                                   f"({self.log_path}) ends with:\n{tail}")
            try:
                return Connection.open(host=str(self.socket_dir), port=running.port,
                                       user=POSTGRES_SUPERUSER, timeout=2.0)
            except (FileNotFoundError, ConnectionRefusedError, ConnectionError):
                pass
            except PgError as exc:
                if exc.sqlstate not in ("57P03",):  # 57P03: the database system is starting up
                    raise ServiceError(f"PostgreSQL refused the readiness check: {exc}") from None
            if time.monotonic() > deadline:
                raise ServiceError(f"PostgreSQL was not ready after {timeout:.0f} s; log: "
                                   f"{_read_tail(self.log_path)}")
            time.sleep(0.002)

    def _kill(self, running: _Running) -> None:
        procs.kill_group(running.proc.pid, signal.SIGKILL)
        procs.reap(running.proc)
        if self.watchdog is not None:
            self.watchdog.forget_pid(running.proc.pid)

    def restart(self, *, kill: bool = False, timeout: float = START_TIMEOUT,
                down: float = 0.0) -> FaultWindow:
        """Stop the server (``kill``: SIGKILL to the postmaster and its backends; else a fast
        shutdown, SIGINT) and start it on the same data directory and port; returns the window
        from the stop to the first accepted connection (crash recovery included)."""
        from pytest_roo.faults.windows import FaultWindow

        running = self._running
        if running is None:
            raise ServiceError("PostgreSQL: not running (stopped, or never started), so it "
                               "cannot be restarted")
        window = FaultWindow("kill" if kill else "restart", target="postgres").start()
        self._running = None
        # SIGINT: a fast shutdown (checkpoint, exit). A kill takes the whole group at once: a
        # postmaster killed alone leaves backends attached to its shared memory for a moment,
        # and the new one refuses to start beside them.
        stop_for_restart(running.proc, kill=kill, graceful=signal.SIGINT, timeout=timeout,
                         watchdog=self.watchdog,
                         killed=lambda: procs.remove_postgres_segment(self.data_dir))
        if down > 0:
            time.sleep(down)  # an outage longer than the restart itself
        again = self._spawn(running.port)
        try:
            conn = self._wait_ready(again, timeout)
        except _PortTaken:
            self._kill(again)
            raise ServiceError(f"PostgreSQL: port {running.port} was taken by another process "
                               f"while the server restarted; it could not start again on it") from None
        except BaseException:
            self._kill(again)
            raise
        conn.close()
        self._running = again
        return window.end()

    def stop(self, remove: bool = True) -> None:
        """SIGKILL to the server's process group (the data is thrown away; ~1 ms instead of
        tens for a shutdown) and its System V segment removed. ``remove=False`` leaves the
        directory to the watchdog, which deletes it after the session, off its critical path."""
        running, self._running = self._running, None
        if running is not None:
            procs.kill_group(running.proc.pid, signal.SIGKILL)
            procs.remove_postgres_segment(self.data_dir)
            # waited for here, not in a thread: a killed child nobody waits for stays a zombie
            procs.reap(running.proc)
        if remove:
            procs.rmtree(self.data_dir)
            procs.rmtree(self.socket_dir)


MAX_SPARES = 2


def spare_root() -> Path:
    """Ready copies of the initdb image on the runtime filesystem, claimed with one rename."""
    base = procs.runtime_base()
    return base.with_name(base.name + "-spare")


def _copy_tree(src: Path, dst: Path) -> None:
    code, out = procs.run_bounded(["cp", "-a", str(src), str(dst)], timeout=COPY_TIMEOUT)
    if code != 0:
        raise ServiceError(f"`cp -a {src} {dst}` failed ({code}): {out.strip()[-500:]}")


def spare_claim(key: str, target: Path) -> bool:
    root = spare_root()
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return False
    for name in names:
        if name.startswith(key + "-"):
            try:
                os.rename(root / name, target)
                return True
            except OSError:
                continue  # another process claimed it first
    return False


def spare_make(key: str, image: Path) -> None:
    """Copy ``image`` into a spare directory unless MAX_SPARES are ready already."""
    root = spare_root()
    try:
        root.mkdir(mode=0o711, parents=True, exist_ok=True)
        names = os.listdir(root)
        for name in names:  # copies abandoned half-way by a dead process
            if name.startswith("tmp-"):
                pid = int(name.split("-")[1])
                if procs.process_start_time(pid) is None:
                    procs.rmtree(root / name)
        if sum(name.startswith(key + "-") for name in names) >= MAX_SPARES:
            return
        tmp = root / f"tmp-{os.getpid()}-{secrets.token_hex(3)}"
        _copy_tree(image, tmp)
        os.rename(tmp, root / f"{key}-{secrets.token_hex(4)}")
    except (OSError, ValueError, ServiceError):
        pass
