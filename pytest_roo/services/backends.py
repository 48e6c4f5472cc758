"""The three service backends behind one interface, and the ``auto`` choice between them.

``Services`` starts each server the first time it is asked for and stops everything in
``close()``. Which backend serves is decided once (``choose``): ``auto`` takes docker when an
engine answers ``GET /_ping`` within about a second and has the images or can pull them, else
the local binaries. The docker backend itself is in docker_backend.py.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Sequence
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

    @property
    def images(self) -> tuple[str, str]:
        """The PostgreSQL and Redis images of the Docker backend."""
        return (self.postgres_image, self.redis_image)

    def __repr__(self) -> str:
        # the URLs' passwords stay out of tracebacks (--showlocals) and logs
        from pytest_roo.redact import mask_url

        fields = ", ".join(
            f"{name}={mask_url(value) if isinstance(value, str) and '://' in value else value!r}"
            if name.endswith("_url") else f"{name}={value!r}"
            for name, value in ((n, getattr(self, n)) for n in self.__dataclass_fields__))
        return f"ServiceConfig({fields})"

    @classmethod
    def from_settings(cls, settings: Any) -> ServiceConfig:
        """The service settings out of the session's Settings."""
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


# --- docker probe -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerProbe:
    """What the Docker probe found: an engine that can serve, or why not."""

    available: bool
    where: str
    reason: str = ""  # why an engine that answered cannot serve (an image it cannot provide)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for an xdist worker's ``workerinput``."""
        return {"available": self.available, "where": self.where, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DockerProbe:
        """The probe :meth:`to_dict` made, read back on an xdist worker."""
        return cls(bool(data["available"]), str(data["where"]), str(data.get("reason", "")))

    def describe(self) -> str:
        """One line saying where an engine answered, or why none can serve."""
        if self.available:
            return f"a Docker engine answered at {self.where}"
        if self.reason:
            return f"the Docker engine at {self.where} {self.reason}"
        return f"no Docker engine answered at {self.where} within 1 s"


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


def missing_image(endpoint: str, images: Sequence[str], timeout: float = 5.0) -> str:
    """Why the engine cannot provide one of ``images`` (neither present nor pullable), or ""."""
    from pytest_roo.services import docker_engine

    for image in images:
        try:
            if docker_engine.image_present(endpoint, image):
                continue
        except docker_engine.EngineError as exc:
            return f"did not answer about image {image}: {exc}"
        pullable, why = docker_engine.image_pullable(endpoint, image, timeout)
        if not pullable:
            return f"has no image {image} and cannot pull it ({why})"
    return ""


def probe_docker(timeout: float = 1.0, images: Sequence[str] = ()) -> DockerProbe:
    """Does a Docker engine answer, and can it provide ``images`` (present, or pullable)?"""
    endpoints = _docker_endpoints()
    deadline = time.monotonic() + timeout
    for endpoint in endpoints:
        if _ping(endpoint, max(0.05, deadline - time.monotonic())):
            reason = missing_image(endpoint, images) if images else ""
            return DockerProbe(not reason, endpoint, reason)
    return DockerProbe(False, " or ".join(endpoints))


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
                            service_user=self.config.service_user, watchdog=watchdog,
                            persistence=kwargs.get("persistence"))
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
        """The backend asked for: auto, docker, local or external."""
        return self.config.services

    def choose(self) -> str:
        """The backend that serves this session: docker, local or external."""
        if self.config.services != "auto":
            return self.config.services
        if self.probe is None:
            self.probe = probe_docker(images=self.config.images)
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
        """The backend in use, chosen and started on first use."""
        with self._lock:
            if self._backend is None:
                chosen = self.choose()
                if chosen == "docker":
                    from pytest_roo.services.docker_backend import DockerBackend

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
        """Start a PostgreSQL server on the backend; a failure explains what to install or pass."""
        try:
            server: PostgresServer = self.backend.start_postgres(**kwargs)
        except ServiceUnavailable as exc:
            raise self._explain(exc) from None
        self.postgres_servers.append(server)
        return server

    def redis(self, **kwargs: Any) -> RedisServer:
        """Start a Redis server on the backend; a failure explains what to install or pass."""
        try:
            server: RedisServer = self.backend.start_redis(**kwargs)
        except ServiceUnavailable as exc:
            raise self._explain(exc) from None
        self.redis_servers.append(server)
        return server

    def close(self) -> None:
        """Stop the backend and every server it started."""
        with self._lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()
