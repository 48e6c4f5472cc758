"""A throwaway Redis from a redis-server binary on this machine: no persistence by default
(``persistence="aof"`` keeps an append-only file, so a restart or a kill keeps every
acknowledged write), the password in a 0600 config file, the port retried when another process
takes it first.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_roo.services import procs
from pytest_roo.services.local_common import (
    PORT_ATTEMPTS,
    START_TIMEOUT,
    _PortTaken,
    _read_tail,
    find_redis_bin,
    stop_for_restart,
)
from pytest_roo.services.models import RedisServer, ServiceError, ServiceUnavailable

if TYPE_CHECKING:
    from pytest_roo.faults.windows import FaultWindow

__all__ = ["PERSISTENCE", "LocalRedis"]

#: what ``persistence=`` accepts: nothing on disk (the default), or an append-only file fsynced
#: before each reply (cheap on the runtime directory's tmpfs)
PERSISTENCE = {
    None: 'save ""\nappendonly no\n',
    "aof": 'save ""\nappendonly yes\nappendfsync always\nappendfilename "roo.aof"\n',
}


class LocalRedis:
    """One redis-server in ``session_dir`` (``persistence``: None or ``"aof"``), password from a
    0600 config file."""

    def __init__(
        self,
        session_dir: procs.SessionDir,
        *,
        binary: Path | None = None,
        service_user: str = "postgres",
        watchdog: procs.Watchdog | None = None,
        persistence: str | None = None,
    ) -> None:
        if persistence not in PERSISTENCE:
            raise ServiceError(f"Redis: persistence={persistence!r} is not valid; expected None "
                               f"(nothing on disk) or 'aof' (an append-only file)")
        self.persistence = persistence
        self.session_dir = session_dir
        self.binary = find_redis_bin(binary)
        try:
            self.run_as = procs.run_as_for(service_user)
        except LookupError as exc:
            raise ServiceUnavailable(f"Redis: {exc}.") from None
        self.watchdog = watchdog
        self.password = secrets.token_urlsafe(18)
        self.dir = session_dir.path / "redis"
        self.timings: dict[str, float] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._port = 0

    def start(self) -> RedisServer:
        """Start redis-server on a free port and a private unix socket, with a password, and wait
        until it answers."""
        t0 = time.perf_counter()
        if self.watchdog is not None:
            self.watchdog.watch_dir(self.session_dir.path)
        self.dir.mkdir(mode=0o700)
        if self.run_as.switches:
            os.chown(self.dir, self.run_as.uid, self.run_as.gid)
        socket_path = self.dir / "r.sock"
        log_path = self.dir / "redis.log"
        last_error = ""
        for _ in range(PORT_ATTEMPTS):
            port = procs.free_port()
            conf = self.dir / "redis.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode yes\n"
                f"unixsocket {socket_path}\nunixsocketperm 700\n"
                f'{PERSISTENCE[self.persistence]}dir {self.dir}\ndaemonize no\n'
                f"requirepass {self.password}\nlogfile {log_path}\nloglevel warning\n"
                f"databases 16\n"
            )
            os.chmod(conf, 0o600)
            if self.run_as.switches:
                os.chown(conf, self.run_as.uid, self.run_as.gid)
            proc = self._spawn(conf)
            try:
                version = self._wait_ready(proc, socket_path, log_path)
            except _PortTaken as exc:
                last_error = str(exc)
                self._kill(proc)
                continue
            except BaseException:
                self._kill(proc)
                raise
            self._proc = proc
            self._port = port
            self.timings["ready"] = time.perf_counter() - t0
            return RedisServer(host="127.0.0.1", port=port, password=self.password,
                               backend="local", version=version, socket_path=str(socket_path),
                               control=self)
        raise ServiceError(f"Redis: could not bind a port after {PORT_ATTEMPTS} attempts: "
                           f"{last_error}")

    def _spawn(self, conf: Path) -> subprocess.Popen[bytes]:
        proc = procs.spawn([str(self.binary), str(conf)], run_as=self.run_as, cwd=str(self.dir))
        self.session_dir.register_pid(proc.pid)
        if self.watchdog is not None:
            self.watchdog.watch_pid(proc.pid)
        return proc

    def restart(self, *, kill: bool = False, timeout: float = START_TIMEOUT,
                down: float = 0.0) -> FaultWindow:
        """Stop redis-server (``kill``: SIGKILL; else SIGTERM, a clean shutdown) and start it
        with the same configuration (port, directory, persistence); returns the window from the
        stop to the first PING answered."""
        from pytest_roo.faults.windows import FaultWindow

        proc = self._proc
        if proc is None:
            raise ServiceError("Redis: not running (stopped, or never started), so it cannot be "
                               "restarted")
        window = FaultWindow("kill" if kill else "restart", target="redis").start()
        self._proc = None
        stop_for_restart(proc, kill=kill, graceful=signal.SIGTERM, timeout=timeout,
                         watchdog=self.watchdog)
        if down > 0:
            time.sleep(down)  # an outage longer than the restart itself
        again = self._spawn(self.dir / "redis.conf")
        try:
            self._wait_ready(again, self.dir / "r.sock", self.dir / "redis.log", timeout)
        except _PortTaken:
            self._kill(again)
            raise ServiceError(f"Redis: port {self._port} was taken by another process while "
                               f"the server restarted; it could not start again on it") from None
        except BaseException:
            self._kill(again)
            raise
        self._proc = again
        return window.end()

    def _wait_ready(self, proc: subprocess.Popen[bytes], socket_path: Path,
                    log_path: Path, timeout: float = START_TIMEOUT) -> str:
        from pytest_roo.services.resp import RedisError, RespConnection

        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                tail = _read_tail(log_path)
                if "Address already in use" in tail:
                    raise _PortTaken(tail)
                raise ServiceError(f"redis-server exited with {code} while starting: {tail}")
            try:
                with RespConnection(str(socket_path), 0, timeout=2.0) as conn:
                    conn.command("AUTH", self.password)
                    conn.command("PING")
                    info = conn.command("INFO", "server")
                    text = info.decode() if isinstance(info, bytes) else ""
                    match = re.search(r"redis_version:(\S+)", text)
                    return match.group(1) if match else ""
            except (FileNotFoundError, ConnectionRefusedError, ConnectionError):
                pass
            except RedisError as exc:
                if "LOADING" not in str(exc):
                    raise ServiceError(f"Redis refused the readiness check: {exc}") from None
            if time.monotonic() > deadline:
                raise ServiceError(f"Redis was not ready after {timeout:.0f} s: "
                                   f"{_read_tail(log_path)}")
            time.sleep(0.001)

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        procs.kill_group(proc.pid, signal.SIGKILL)
        procs.reap(proc)
        if self.watchdog is not None:
            self.watchdog.forget_pid(proc.pid)

    def stop(self, remove: bool = True) -> None:
        """Kill the server's process group and, if ``remove``, its directory."""
        proc, self._proc = self._proc, None
        if proc is not None:  # nothing worth keeping: SIGKILL takes under a millisecond
            procs.kill_group(proc.pid, signal.SIGKILL)
            procs.reap(proc)
        if remove:
            procs.rmtree(self.dir)
