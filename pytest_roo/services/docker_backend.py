"""The docker backend: PostgreSQL and Redis in containers, through the Docker Engine API.

What keeps containers from outliving pytest, in the order it happens:

1. before the first container exists, the watchdog is told to remove every container with
   this session's label when pytest dies (``python -S docker_engine.py remove``: no docker CLI,
   no package needed), so a SIGKILL between create and start leaves nothing either;
2. every container carries labels naming the session, the owner process (pid and start time)
   and the host; a session's first start removes the containers of owners that are dead, which
   covers a watchdog killed together with pytest (a cgroup kill, a cancelled CI job);
3. ``close()`` removes the session's containers (kill + remove: the data is thrown away).

A container that exits at start is noticed within a quarter of a second, with its exit code and
last log lines. PGDATA lives on a tmpfs inside the container (through the ``PGDATA`` variable,
so any image that honours it works): per-test ``CREATE DATABASE`` then costs what it costs on
the local backend instead of the engine's disk. When the engine runs on this machine, PostgreSQL
also listens on a unix socket in a bind-mounted directory, so the clones and connections made
by pytest-roo skip the engine's port proxy and the password exchange, as on the local backend.
Passwords go into the container as files, never into its command or environment.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pytest_roo.services import docker_engine
from pytest_roo.services.docker_owners import (
    LABEL_HOST,
    LABEL_OWNER,
    LABEL_SESSION,
    cleanup_argv,
    container_labels,
    dead_owner,
    sweep_dead_owners,
)
from pytest_roo.services.docker_readiness import READY_TIMEOUT, Started, exit_error, poll
from pytest_roo.services.docker_spec import (
    INITDB_ARGS,
    PGDATA,
    PGDATA_TMPFS,
    POSTGRES_PASSWORD_FILE,
    REDIS_CONFIG_FILE,
    SOCKET_MOUNT,
    archive,
    postgres_command,
    redis_command,
    redis_config,
)
from pytest_roo.services.models import (
    PostgresServer,
    RedisServer,
    ServiceError,
    ServiceUnavailable,
)

# what a container is started with: docker_spec.py; who owns it: docker_owners.py (both
# re-exported here, where they used to live)
__all__ = [
    "INITDB_ARGS",
    "LABEL_HOST",
    "LABEL_OWNER",
    "LABEL_SESSION",
    "PGDATA",
    "PGDATA_TMPFS",
    "POSTGRES_PASSWORD_FILE",
    "REDIS_CONFIG_FILE",
    "SOCKET_MOUNT",
    "DockerBackend",
    "archive",
    "cleanup_argv",
    "container_labels",
    "dead_owner",
    "postgres_command",
    "published_host",
    "redis_command",
    "redis_config",
    "sweep_dead_owners",
]

def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def published_host(endpoint: str) -> tuple[str, str]:
    """(address the engine publishes ports on, host this process connects to).

    A local engine (unix socket, or tcp on loopback) publishes on 127.0.0.1 only. A remote
    engine (``DOCKER_HOST=tcp://buildhost:2376``) runs the containers on that host: its ports
    are reachable only when published on its interfaces, and are reached by its name.
    """
    parts = urlsplit(endpoint)
    if (parts.scheme in ("tcp", "http", "https") and parts.hostname
            and not _is_loopback(parts.hostname)):
        return "0.0.0.0", parts.hostname
    return "127.0.0.1", "127.0.0.1"


def same_host(endpoint: str, engine_name: str) -> bool:
    """Does the engine run on this machine, sharing its file system? Then a bind-mounted
    directory is the same directory on both sides. (Docker Desktop runs in a VM, and a CI job
    in a container that talks to its host's engine has another host name.)"""
    return (sys.platform.startswith("linux") and urlsplit(endpoint).scheme == "unix"
            and engine_name == socket.gethostname())


def docker_endpoint(probed: str) -> str:
    """The engine to talk to: DOCKER_HOST, else the socket the probe found answering."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host
    return probed.split(" or ")[0]


class DockerBackend:
    """Containers from pinned images; ports published on 127.0.0.1 only (for a local engine)."""

    name = "docker"

    def __init__(self, config: Any, probe: Any = None) -> None:
        from pytest_roo.services.backends import probe_docker

        self.config = config
        self.probe = probe or probe_docker()
        self.session = secrets.token_hex(8)
        self.endpoint = ""
        self._client: Any = None
        self._watchdog: Any = None
        self._cleanup: list[str] = []
        self._containers: list[Any] = []
        self._lock = threading.Lock()
        self._engine_name: str | None = None
        self._session_dir: Any = None
        self._sockets = 0
        self.swept: list[str] = []

    def _check(self, what: str) -> None:
        if not self.probe.available:
            raise ServiceUnavailable(
                f"{what}: {self.probe.describe()}.",
                "Start a Docker engine (or set DOCKER_HOST), or use --roo-services=local.")
        try:
            _sdk()
        except ImportError:
            raise ServiceUnavailable(f"{what}: the docker SDK is not installed.",
                                     "pip install 'pytest-roo[docker]'") from None

    def _engine(self) -> Any:
        """The client; on first use also the sweep and the watchdog's cleanup, both before
        any container of this session exists."""
        with self._lock:
            if self._client is not None:
                return self._client
            docker = _sdk()

            from pytest_roo.services import procs

            self.endpoint = docker_endpoint(self.probe.where)
            try:
                client = (docker.from_env(timeout=60) if os.environ.get("DOCKER_HOST")
                          else docker.DockerClient(base_url=self.endpoint, timeout=60))
            except Exception as exc:  # docker.errors.DockerException
                raise ServiceError(f"Docker: cannot talk to the engine at {self.endpoint}: "
                                   f"{exc}") from None
            with contextlib.suppress(docker_engine.EngineError):
                self.swept = sweep_dead_owners(self.endpoint)
            procs.sweep_stale(procs.runtime_base())  # their socket directories
            self._watchdog = procs.Watchdog()
            self._cleanup = cleanup_argv(self.endpoint, self.session)
            self._watchdog.run_on_exit(self._cleanup)
            self._client = client
            return client

    def _image(self, client: Any, image: str) -> None:
        docker = _sdk()

        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise ServiceError(f"Docker: cannot inspect the image {image}: "
                               f"{exc.explanation}") from None
        try:
            client.images.pull(image)
        except docker.errors.APIError as exc:
            raise ServiceError(
                f"Docker: the engine has no image {image} and cannot pull it: "
                f"{exc.explanation}. Pull or build it, or name another with "
                f"--roo-postgres-image / --roo-redis-image") from None

    def _run(self, image: str, port: int, *, env: Mapping[str, str], command: list[str],
             files: Mapping[str, str], secret: str,
             tmpfs: Mapping[str, str] | None = None,
             volumes: Mapping[str, dict[str, str]] | None = None) -> Started:
        docker = _sdk()

        client = self._engine()
        self._image(client, image)
        bind, host = published_host(self.endpoint)
        try:
            container = client.containers.create(
                image, command=command, environment=dict(env), detach=True,
                labels=container_labels(self.session), tmpfs=dict(tmpfs or {}),
                volumes=dict(volumes or {}),
                ports={f"{port}/tcp": (bind, None)},  # a host port the engine picks
            )
        except docker.errors.APIError as exc:
            raise ServiceError(f"Docker: cannot create a {image} container: "
                               f"{exc.explanation}") from None
        self._containers.append(container)
        try:
            if files:
                container.put_archive("/", archive(files))
            container.start()
        except docker.errors.APIError as exc:
            raise ServiceError(f"Docker: the {image} container did not start: "
                               f"{exc.explanation}") from None
        started = Started(container, image, host, 0, secret)
        started.port = self._host_port(started, port)
        return started

    def _host_port(self, started: Started, port: int) -> int:
        """The published port, once the engine assigned it; a container that exited before
        (a bad command, a crashing entrypoint) is reported with its exit code and logs."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            state = started.state()
            if state.get("Status") in ("exited", "dead"):
                raise exit_error(started.container, started.image, state, started.secret)
            ports = (started.container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
            bindings = ports.get(f"{port}/tcp") or []
            for binding in bindings:
                if binding.get("HostPort"):
                    return int(binding["HostPort"])
            if time.monotonic() > deadline:
                raise ServiceError(f"Docker: the {started.image} container published no port "
                                   f"for {port} within {READY_TIMEOUT:.0f} s")
            time.sleep(0.02)

    def _socket_dir(self) -> str | None:
        """A 0700 directory for PostgreSQL's unix socket when the engine is on this machine;
        its subdirectory ``pg`` (writable by the container's postgres user) is mounted. It is
        in a runtime session directory, so the next session sweeps it if this one is killed
        together with its watchdog."""
        from pytest_roo.services import procs

        client = self._engine()
        if self._engine_name is None:
            try:
                self._engine_name = str(client.info().get("Name", ""))
            except Exception:
                self._engine_name = ""
        if not same_host(self.endpoint, self._engine_name):
            return None
        if self._session_dir is None:
            self._session_dir = procs.SessionDir()
            if self._watchdog is not None:  # removed when the session ends, however it ends
                self._watchdog.watch_dir(self._session_dir.path)
        parent = self._session_dir.subdir(f"pg{self._sockets}")
        self._sockets += 1
        os.mkdir(parent / "pg")
        os.chmod(parent / "pg", 0o777)  # only reachable through the 0700 parent
        return str(parent)

    def start_postgres(self, **kwargs: Any) -> PostgresServer:
        """A PostgreSQL container with a generated password (handed over in a file, not the
        environment), returned once it answers; with a local engine its unix socket is
        reachable too. ServiceUnavailable without an engine or the docker SDK; ServiceError
        when the container exits or is not ready in time."""
        self._check("PostgreSQL")
        password = secrets.token_hex(16)
        settings = dict(kwargs.get("settings") or {})
        socket_dir = self._socket_dir()
        volumes = {}
        if socket_dir is not None:
            volumes[os.path.join(socket_dir, "pg")] = {"bind": SOCKET_MOUNT, "mode": "rw"}
            settings.setdefault("unix_socket_directories", f"/var/run/postgresql,{SOCKET_MOUNT}")
        started = self._run(
            self.config.postgres_image, 5432,
            env={"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD_FILE": POSTGRES_PASSWORD_FILE,
                 "POSTGRES_INITDB_ARGS": INITDB_ARGS, "PGDATA": PGDATA},
            command=postgres_command(settings),
            files={POSTGRES_PASSWORD_FILE: password}, secret=password,
            tmpfs={PGDATA_TMPFS: "rw"}, volumes=volumes,
        )
        server = PostgresServer(host=started.host, port=started.port, user="postgres",
                                password=password, backend="docker")

        def version() -> str:
            with server.connect(timeout=1.0) as conn:
                return conn.parameters.get("server_version", "")

        found = poll(version, started, "PostgreSQL container")
        fields = {**_fields(server), "version": found}
        if socket_dir is not None:
            fields["socket_dir"] = _link_socket(socket_dir, started.port)
        return PostgresServer(**fields)

    def start_redis(self, **kwargs: Any) -> RedisServer:
        """A Redis container that requires a generated password, returned once it answers PING;
        errors as for :meth:`start_postgres`."""
        self._check("Redis")
        password = secrets.token_hex(16)
        started = self._run(self.config.redis_image, 6379, env={}, command=redis_command(),
                            files={REDIS_CONFIG_FILE: redis_config(password)}, secret=password)
        server = RedisServer(host=started.host, port=started.port, password=password,
                             backend="docker")

        def ping() -> str:
            with server.connect(timeout=1.0) as conn:
                conn.command("PING")
            return ""

        poll(ping, started, "Redis container")
        return server

    def close(self) -> None:
        """Remove every container started here (and any a failed start left with this session's
        label), then stop the watchdog, close the client and remove the socket directories."""
        for container in reversed(self._containers):
            with contextlib.suppress(Exception):  # keep removing the others
                container.remove(force=True, v=True)
        self._containers.clear()
        if self.endpoint:  # anything a failed start left behind
            with contextlib.suppress(docker_engine.EngineError):
                docker_engine.remove_labelled(self.endpoint, f"{LABEL_SESSION}={self.session}")
        if self._watchdog is not None:
            self._watchdog.cancel_run(self._cleanup)
            self._watchdog.close(timeout=None)
            self._watchdog = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        if self._session_dir is not None:
            self._session_dir.remove()
            self._session_dir = None


def _link_socket(socket_dir: str, port: int) -> str | None:
    """Name the container's socket (``pg/.s.PGSQL.5432``) by the published port in
    ``socket_dir``, where clients look for it; None (TCP only) if it is not usable."""
    from pytest_roo.services.pgwire import Connection

    link = os.path.join(socket_dir, f".s.PGSQL.{port}")
    try:
        if not os.path.lexists(link):
            os.symlink(os.path.join("pg", ".s.PGSQL.5432"), link)
        Connection.open(host=socket_dir, port=port, user="postgres", password="",
                        dbname="postgres", timeout=2.0).close()
    except Exception:
        return None
    return socket_dir


def _sdk() -> Any:
    """The docker SDK (the ``docker`` package), imported on first use: it is not cheap."""
    import docker  # type: ignore[import-untyped]

    return docker


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
