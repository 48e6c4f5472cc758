"""Fixtures for the reference system's own tests: backends and app processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from refapp_client import SECRET, StartApp

from fixtures.refapp.launcher import RefApp, start_refapp

PG_BIN = Path(os.environ.get("ROO_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class LocalServers:
    """PostgreSQL and Redis started from local binaries for these tests."""

    pg_port: int
    redis_port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def new_database(self) -> str:
        name = "refapp_" + uuid.uuid4().hex[:12]
        subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
             "-d", "postgres", "-qc", f"CREATE DATABASE {name}"],
            check=True, timeout=30, capture_output=True,
        )
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{name}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"


@pytest.fixture(scope="session")
def refapp_local_servers() -> Iterator[LocalServers]:
    """Throwaway PostgreSQL + Redis from local binaries (used when the services area's
    ``postgres_db``/``redis_db`` fixtures are not available)."""
    redis_bin = shutil.which("redis-server")
    if not (PG_BIN / "postgres").exists() or redis_bin is None:
        pytest.skip(
            f"needs PostgreSQL binaries in {PG_BIN} (apt-get install postgresql-15) and "
            "redis-server (apt-get install redis-server)"
        )
    tmp = Path(tempfile.mkdtemp(prefix="refapp-tests-"))
    servers = LocalServers(_free_port(), _free_port())
    as_postgres: dict[str, str] = {}
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(tmp, "postgres")
        as_postgres = {"user": "postgres"}
    try:
        subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(tmp / "pg"), "-A", "trust", "-U", "postgres"],
            check=True, timeout=60, capture_output=True, cwd=tmp, **as_postgres,  # type: ignore[call-overload]
        )
        pg = subprocess.Popen(  # type: ignore[call-overload]
            [str(PG_BIN / "postgres"), "-D", str(tmp / "pg"), "-k", str(tmp),
             "-p", str(servers.pg_port), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "dynamic_shared_memory_type=mmap", "-c", "max_connections=400"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            cwd=tmp, **as_postgres,
        )
        servers.procs.append(pg)
        redis = subprocess.Popen(
            [redis_bin, "--port", str(servers.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        servers.procs.append(redis)
        _wait_port(servers.pg_port, pg, "postgres")
        _wait_port(servers.redis_port, redis, "redis-server")
        yield servers
    finally:
        for proc in servers.procs:
            _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class Backends:
    pg_url: str
    redis_url: str


@pytest.fixture
def refapp_backends(request: pytest.FixtureRequest) -> Backends:
    """A fresh PostgreSQL database and a Redis for one test."""
    try:
        pg = request.getfixturevalue("postgres_db")
        redis = request.getfixturevalue("redis_db")
        return Backends(str(pg.url), str(redis.url))
    except pytest.FixtureLookupError:
        local: LocalServers = request.getfixturevalue("refapp_local_servers")
        return Backends(local.new_database(), local.redis_url)


@pytest.fixture
def start_app(refapp_backends: Backends, tmp_path: Path) -> Iterator[StartApp]:
    """Factory: ``start_app(faults=..., env=...)`` starts a reference app on this test's
    backends; every app started is stopped at teardown and must exit cleanly."""
    apps: list[RefApp] = []

    def start(
        faults: str | Mapping[str, float | int] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RefApp:
        full_env = {"REFAPP_SECRET": SECRET, "REFAPP_KDF_ITERATIONS": "2000", **(env or {})}
        app = start_refapp(
            refapp_backends.pg_url, refapp_backends.redis_url, faults=faults, env=full_env,
            log_path=tmp_path / f"refapp-{len(apps)}.log",
        )
        apps.append(app)
        return app

    yield start
    codes = {app.pid: app.stop() for app in apps}
    assert all(code == 0 for code in codes.values()), (
        f"reference app did not exit cleanly on SIGTERM: {codes}\n"
        + "\n".join(app.output()[-2000:] for app in apps)
    )


@pytest.fixture
def refapp(start_app: StartApp) -> RefApp:
    """A healthy reference app with no faults."""
    return start_app()
