"""The three service backends behind one interface, and the ``auto`` choice between them.

``Services`` starts each server the first time it is asked for and stops everything in
``close()``. Which backend serves is decided once (``choose``): ``auto`` takes docker when an
engine answers ``GET /_ping`` within about a second, else the local binaries.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from pytest_roo.services.models import (
    PostgresServer,
    RedisServer,
    ServiceError,
    ServiceUnavailable,
)

__all__ = [
    "BACKENDS",
    "DockerProbe",
    "ServiceConfig",
    "Services",
    "probe_docker",
]

BACKENDS = ("auto", "docker", "local", "external")
PROBE_ENV = "ROO_DOCKER_PROBE"  # "yes <where>" / "no <where>": the controller's answer for workers


@dataclass(frozen=True)
class ServiceConfig:
    """The settings the service layer reads (a subset of pytest_roo.settings.Settings)."""

    services: str = "auto"
    postgres_url: str | None = None
    redis_url: str | None = None
    postgres_bin: Path | None = None
    redis_bin: Path | None = None
    service_user: str = "postgres"
    postgres_image: str = "postgres:16.4-alpine"
    redis_image: str = "redis:7.4.1-alpine"

    @classmethod
    def from_settings(cls, settings: Any) -> ServiceConfig:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


# --- docker probe -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerProbe:
    available: bool
    where: str

    def describe(self) -> str:
        return (f"a Docker engine answered at {self.where}" if self.available
                else f"no Docker engine answered at {self.where} within 1 s")


def _docker_endpoints() -> list[str]:
    host = os.environ.get("DOCKER_HOST")
    if host:
        return [host]
    candidates = ["/var/run/docker.sock", os.path.expanduser("~/.docker/run/docker.sock")]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        candidates.append(os.path.join(runtime, "docker.sock"))
    return ["unix://" + path for path in candidates]


def _ping(endpoint: str, timeout: float) -> bool:
    parts = urlsplit(endpoint)
    try:
        if parts.scheme == "unix":
            if not os.path.exists(parts.path):
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = parts.path
        elif parts.scheme in ("tcp", "http"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (parts.hostname or "127.0.0.1", parts.port or 2375)
        else:
            return False
        with sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
    except OSError:
        return False


def probe_docker(timeout: float = 1.0) -> DockerProbe:
    """Does a Docker engine answer? Reuses the answer an xdist controller put in the env."""
    cached = os.environ.get(PROBE_ENV)
    if cached:
        answer, _, where = cached.partition(" ")
        return DockerProbe(answer == "yes", where)
    endpoints = _docker_endpoints()
    deadline = time.monotonic() + timeout
    for endpoint in endpoints:
        if _ping(endpoint, max(0.05, deadline - time.monotonic())):
            return DockerProbe(True, endpoint)
    return DockerProbe(False, " or ".join(endpoints))


def remember_probe(probe: DockerProbe) -> None:
    os.environ[PROBE_ENV] = f"{'yes' if probe.available else 'no'} {probe.where}"


# --- backends -----------------------------------------------------------------------------------


class Backend(Protocol):
    name: str

    def start_postgres(self, **kwargs: Any) -> PostgresServer: ...

    def start_redis(self, **kwargs: Any) -> RedisServer: ...

    def close(self) -> None: ...


class LocalBackend:
    name = "local"

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._session_dir: Any = None
        self._watchdog: Any = None
        self._servers: list[Any] = []
        self.timings: dict[str, dict[str, float]] = {}

    def _dirs(self) -> tuple[Any, Any]:
        from pytest_roo.services import procs

        if self._session_dir is None:
            self._watchdog = procs.Watchdog()
            self._session_dir = procs.SessionDir()
            self._watchdog.watch_dir(self._session_dir.path)
        return self._session_dir, self._watchdog

    def start_postgres(self, **kwargs: Any) -> PostgresServer:
        from pytest_roo.services.local import LocalPostgres, find_postgres_bin

        find_postgres_bin(self.config.postgres_bin)  # unavailable: no directories made
        session_dir, watchdog = self._dirs()
        server = LocalPostgres(session_dir, bin_dir=self.config.postgres_bin,
                               service_user=self.config.service_user, watchdog=watchdog,
                               settings=kwargs.get("settings"))
        self._servers.append(server)
        result = server.start()
        self.timings["postgres"] = server.timings
        return result

    def start_redis(self, **kwargs: Any) -> RedisServer:
        from pytest_roo.services.local import LocalRedis, find_redis_bin

        find_redis_bin(self.config.redis_bin)
        session_dir, watchdog = self._dirs()
        server = LocalRedis(session_dir, binary=self.config.redis_bin,
                            service_user=self.config.service_user, watchdog=watchdog)
        self._servers.append(server)
        result = server.start()
        self.timings["redis"] = server.timings
        return result

    def close(self) -> None:
        errors: list[BaseException] = []
        for server in reversed(self._servers):
            try:  # the watchdog removes the directories once the pipe closes
                server.stop(remove=self._watchdog is None)
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        self._servers.clear()
        if self._watchdog is not None:
            self._watchdog.close(timeout=None)
        elif self._session_dir is not None:
            self._session_dir.remove()
        if errors:
            raise errors[0]


def parse_postgres_url(url: str) -> PostgresServer:
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ServiceError("--roo-postgres-url must look like postgresql://user:password@host:port/db")
    return PostgresServer(
        host=parts.hostname, port=parts.port or 5432,
        user=unquote(parts.username or "postgres"), password=unquote(parts.password or ""),
        dbname=unquote(parts.path.lstrip("/")) or "postgres", backend="external",
    )


def parse_redis_url(url: str) -> RedisServer:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return RedisServer(host="localhost", port=0, password=unquote(parts.password or "") or None,
                           backend="external", socket_path=parts.path)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ServiceError("--roo-redis-url must look like redis://:password@host:port/db")
    db_text = parts.path.lstrip("/")
    return RedisServer(
        host=parts.hostname, port=parts.port or 6379,
        password=unquote(parts.password) if parts.password else None,
        user=unquote(parts.username) if parts.username else None,
        db=int(db_text) if db_text.isdigit() else 0, backend="external",
    )


class ExternalBackend:
    name = "external"

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config

    def start_postgres(self, **kwargs: Any) -> PostgresServer:
        if not self.config.postgres_url:
            raise ServiceUnavailable(
                "PostgreSQL: the external backend has no URL.",
                "Give --roo-postgres-url=postgresql://user:password@host:port/postgres "
                "(or ROO_POSTGRES_URL).")
        server = parse_postgres_url(self.config.postgres_url)
        try:
            with server.connect(timeout=5.0) as conn:
                version = conn.parameters.get("server_version", "")
        except Exception as exc:
            raise ServiceError(f"PostgreSQL at {server.masked_url} did not accept a connection: "
                               f"{exc}") from None
        return PostgresServer(**{**_fields(server), "version": version})

    def start_redis(self, **kwargs: Any) -> RedisServer:
        if not self.config.redis_url:
            raise ServiceUnavailable(
                "Redis: the external backend has no URL.",
                "Give --roo-redis-url=redis://:password@host:port/0 (or ROO_REDIS_URL).")
        server = parse_redis_url(self.config.redis_url)
        try:
            with server.connect(timeout=5.0) as conn:
                conn.command("PING")
        except Exception as exc:
            raise ServiceError(f"Redis at {server.masked_url} did not answer PING: {exc}") from None
        return server

    def close(self) -> None:
        pass


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


# the docker SDK's form of "publish on 127.0.0.1, on a port the engine picks"
LOOPBACK_BINDING = ("127.0.0.1", None)
DOCKER_POSTGRES_SETTINGS = {"fsync": "off", "synchronous_commit": "off",
                            "full_page_writes": "off", "max_connections": "300"}


def postgres_command(settings: dict[str, str] | None = None) -> list[str]:
    """The container's command: the image's ``postgres`` with fast, throwaway settings."""
    command = ["postgres"]
    for key, value in {**DOCKER_POSTGRES_SETTINGS, **(settings or {})}.items():
        command += ["-c", f"{key}={value}"]
    return command


def redis_command(password: str) -> list[str]:
    """No persistence; the password must not start with "--" (redis-server would read it as the
    next option's name), which generated hex passwords never do."""
    if password.startswith("-"):
        raise ServiceError("a Redis password passed on the command line must not start with '-'")
    return ["redis-server", "--requirepass", password, "--save", "", "--appendonly", "no"]


class DockerBackend:
    """Containers from pinned images via testcontainers; ports published on 127.0.0.1 only.

    Instead of Ryuk, the watchdog process removes the containers if pytest dies.
    """

    name = "docker"

    def __init__(self, config: ServiceConfig, probe: DockerProbe | None = None) -> None:
        self.config = config
        self.probe = probe or probe_docker()
        self._containers: list[Any] = []
        self._watchdog: Any = None

    def _check(self, what: str) -> None:
        if not self.probe.available:
            raise ServiceUnavailable(
                f"{what}: {self.probe.describe()}.",
                "Start a Docker engine (or set DOCKER_HOST), or use --roo-services=local.")
        try:
            import testcontainers  # noqa: F401
        except ImportError:
            raise ServiceUnavailable(f"{what}: testcontainers is not installed.",
                                     "pip install 'pytest-roo[docker]'") from None

    def _run(self, image: str, port: int, env: dict[str, str], command: list[str]) -> Any:
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.container import DockerContainer

        from pytest_roo.services import procs

        # the environment variable is read once, on first use: if testcontainers was used
        # before in this process, only the config object still turns Ryuk off
        testcontainers_config.ryuk_disabled = True
        if self._watchdog is None:
            self._watchdog = procs.Watchdog()
        try:
            container = DockerContainer(image)
        except Exception as exc:  # docker.errors.DockerException: the engine went away
            raise ServiceError(f"Docker: cannot talk to the engine: {exc}") from None
        # published on 127.0.0.1 only, on a port the engine picks; with_bind_ports() takes no
        # host address, the docker SDK takes an (address, port) pair
        container.ports[f"{port}/tcp"] = LOOPBACK_BINDING  # type: ignore[assignment]
        for key, value in env.items():
            container.with_env(key, value)
        container.with_command(command)
        try:
            container.start()
        except Exception as exc:
            created = getattr(container, "_container", None)
            if created is not None:  # created but not started: remove it now
                with contextlib.suppress(Exception):
                    container.stop()
            raise ServiceError(f"Docker: the {image} container did not start: {exc}") from None
        self._containers.append(container)
        wrapped = container.get_wrapped_container()
        self._watchdog.run_on_exit(["docker", "rm", "-f", "-v", wrapped.id])
        return container

    def _host_port(self, container: Any, port: int) -> int:
        return int(container.get_exposed_port(port))

    def start_postgres(self, **kwargs: Any) -> PostgresServer:
        self._check("PostgreSQL")
        password = secrets.token_hex(16)
        container = self._run(
            self.config.postgres_image, 5432,
            {"POSTGRES_PASSWORD": password, "POSTGRES_USER": "postgres",
             "POSTGRES_INITDB_ARGS": "--no-sync"},
            postgres_command(kwargs.get("settings")),
        )
        server = PostgresServer(host="127.0.0.1", port=self._host_port(container, 5432),
                                user="postgres", password=password, backend="docker")
        version = _poll(lambda: _pg_version(server), 60.0, "PostgreSQL container")
        return PostgresServer(**{**_fields(server), "version": version})

    def start_redis(self, **kwargs: Any) -> RedisServer:
        self._check("Redis")
        password = secrets.token_hex(16)
        container = self._run(self.config.redis_image, 6379, {}, redis_command(password))
        server = RedisServer(host="127.0.0.1", port=self._host_port(container, 6379),
                             password=password, backend="docker")

        def ping() -> str:
            with server.connect(timeout=1.0) as conn:
                conn.command("PING")
            return ""

        _poll(ping, 60.0, "Redis container")
        return server

    def close(self) -> None:
        for container in reversed(self._containers):
            try:
                wrapped_id = container.get_wrapped_container().id
                container.stop()
                if self._watchdog is not None:
                    self._watchdog.cancel_run(["docker", "rm", "-f", "-v", wrapped_id])
            except Exception:
                pass
        self._containers.clear()
        if self._watchdog is not None:
            self._watchdog.close()


def _pg_version(server: PostgresServer) -> str:
    with server.connect(timeout=1.0) as conn:
        return conn.parameters.get("server_version", "")


def _poll(check: Callable[[], str], timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except Exception as exc:
            if time.monotonic() > deadline:
                raise ServiceError(f"{what} was not ready after {timeout:.0f} s: {exc}") from None
        time.sleep(0.05)


# --- the session's services ---------------------------------------------------------------------


@dataclass
class Services:
    """Chooses the backend once and starts each server on first use; ``close()`` stops them."""

    config: ServiceConfig
    probe: DockerProbe | None = None
    _backend: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    postgres_servers: list[PostgresServer] = field(default_factory=list)
    redis_servers: list[RedisServer] = field(default_factory=list)

    @property
    def requested(self) -> str:
        return self.config.services

    def choose(self) -> str:
        """The backend that serves this session: docker, local or external."""
        if self.config.services != "auto":
            return self.config.services
        if self.probe is None:
            self.probe = probe_docker()
        return "docker" if self.probe.available else "local"

    def describe(self) -> str:
        """One line for the session header."""
        chosen = self.choose()
        if self.config.services == "auto":
            assert self.probe is not None
            return f"auto -> {chosen} ({self.probe.describe()})"
        return chosen

    @property
    def backend(self) -> Any:
        with self._lock:
            if self._backend is None:
                chosen = self.choose()
                if chosen == "docker":
                    self._backend = DockerBackend(self.config, self.probe)
                elif chosen == "external":
                    self._backend = ExternalBackend(self.config)
                else:
                    self._backend = LocalBackend(self.config)
            return self._backend

    def _explain(self, exc: ServiceUnavailable) -> ServiceUnavailable:
        if self.config.services == "auto" and self.probe is not None:
            return ServiceUnavailable(f"{self.probe.describe()}; {exc}")
        return exc

    def postgres(self, **kwargs: Any) -> PostgresServer:
        try:
            server: PostgresServer = self.backend.start_postgres(**kwargs)
        except ServiceUnavailable as exc:
            raise self._explain(exc) from None
        self.postgres_servers.append(server)
        return server

    def redis(self, **kwargs: Any) -> RedisServer:
        try:
            server: RedisServer = self.backend.start_redis(**kwargs)
        except ServiceUnavailable as exc:
            raise self._explain(exc) from None
        self.redis_servers.append(server)
        return server

    def close(self) -> None:
        with self._lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()
