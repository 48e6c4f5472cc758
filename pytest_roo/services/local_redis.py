"""A throwaway Redis from a redis-server binary on this machine: no persistence, the password in
a 0600 config file, the port retried when another process takes it first.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

from pytest_roo.services import procs
from pytest_roo.services.local_common import (
    PORT_ATTEMPTS,
    START_TIMEOUT,
    _PortTaken,
    _read_tail,
    find_redis_bin,
)
from pytest_roo.services.models import RedisServer, ServiceError, ServiceUnavailable

__all__ = ["LocalRedis"]


class LocalRedis:
    """One redis-server in ``session_dir`` (no persistence), password from a 0600 config file."""

    def __init__(
        self,
        session_dir: procs.SessionDir,
        *,
        binary: Path | None = None,
        service_user: str = "postgres",
        watchdog: procs.Watchdog | None = None,
    ) -> None:
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
                f'save ""\nappendonly no\ndir {self.dir}\ndaemonize no\n'
                f"requirepass {self.password}\nlogfile {log_path}\nloglevel warning\n"
                f"databases 16\n"
            )
            os.chmod(conf, 0o600)
            if self.run_as.switches:
                os.chown(conf, self.run_as.uid, self.run_as.gid)
            proc = procs.spawn([str(self.binary), str(conf)], run_as=self.run_as,
                               cwd=str(self.dir))
            self.session_dir.register_pid(proc.pid)
            if self.watchdog is not None:
                self.watchdog.watch_pid(proc.pid)
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
            self.timings["ready"] = time.perf_counter() - t0
            return RedisServer(host="127.0.0.1", port=port, password=self.password,
                               backend="local", version=version, socket_path=str(socket_path))
        raise ServiceError(f"Redis: could not bind a port after {PORT_ATTEMPTS} attempts: "
                           f"{last_error}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], socket_path: Path,
                    log_path: Path) -> str:
        from pytest_roo.services.resp import RedisError, RespConnection

        deadline = time.monotonic() + START_TIMEOUT
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
                raise ServiceError(f"Redis was not ready after {START_TIMEOUT:.0f} s: "
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
        if proc is not None:  # nothing to persist: SIGKILL takes under a millisecond
            procs.kill_group(proc.pid, signal.SIGKILL)
            procs.reap(proc)
        if remove:
            procs.rmtree(self.dir)
