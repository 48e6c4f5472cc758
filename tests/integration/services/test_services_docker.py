"""The docker backend against a real engine: containers never outlive their session (also when
pytest and its watchdog are killed together, or pytest between create and start), a crash at
start is reported at once with its exit code and logs, PGDATA is on a tmpfs, no password is in
a container's configuration, and ``auto`` falls back to local when the engine lacks an image.

Here the engine is the one ``ci/docker.sh up`` starts; ``ci/test.sh`` runs this file with
ROO_CI_DOCKER=1, which turns a missing engine into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_roo.services import docker_engine
from pytest_roo.services.backends import DockerProbe, ServiceConfig, probe_docker
from pytest_roo.services.docker_backend import (
    LABEL_OWNER,
    LABEL_SESSION,
    PGDATA,
    PGDATA_TMPFS,
    DockerBackend,
    docker_endpoint,
)
from pytest_roo.services.models import PostgresServer
from pytest_roo.services.procs import runtime_base
from tests.integration.processes import wait_gone

pytestmark = pytest.mark.integration

POSTGRES_IMAGE = os.environ.get("ROO_POSTGRES_IMAGE") or ServiceConfig().postgres_image
REDIS_IMAGE = os.environ.get("ROO_REDIS_IMAGE") or ServiceConfig().redis_image
IMAGE_ARGS = [f"--roo-postgres-image={POSTGRES_IMAGE}", f"--roo-redis-image={REDIS_IMAGE}"]

HANGING_TEST = '''
import time

def test_hang(postgres_server, redis_server):
    open("ready", "w").close()
    time.sleep(120)
'''

STOP_BEFORE_START = '''
import time
import docker.models.containers

def start(self, **kwargs):  # the container exists, and pytest dies before it starts
    with open("created.tmp", "w") as fh:
        fh.write(self.id)
    import os
    os.rename("created.tmp", "created")
    time.sleep(120)

docker.models.containers.Container.start = start
'''


@pytest.fixture(scope="module")
def engine() -> str:
    """The endpoint of an engine that has the images (or can pull them)."""
    probe = probe_docker(images=(POSTGRES_IMAGE, REDIS_IMAGE))
    if not probe.available:
        reason = (f"docker backend: {probe.describe()}. Start a private engine with its images "
                  f'(`eval "$(ci/docker.sh up)"`, root on Debian) or install Docker Engine')
        if os.environ.get("ROO_CI_DOCKER"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return docker_endpoint(probe.where)


def _owned_by(endpoint: str, pid: int) -> list[dict[str, Any]]:
    owner = f"{pid} "
    return [c for c in docker_engine.list_containers(endpoint, LABEL_OWNER)
            if c["Labels"][LABEL_OWNER].startswith(owner)]


def _wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{path.name} did not appear: {log.read_text()}"
        time.sleep(0.05)


def _wait_gone(endpoint: str, pid: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    left = _owned_by(endpoint, pid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _owned_by(endpoint, pid)
    return left


def _session(cwd: Path, *args: str, env: dict[str, str] | None = None,
             ) -> tuple[subprocess.Popen[bytes], Path]:
    log = cwd / "pytest.log"
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             "--roo-services=docker", *IMAGE_ARGS, *args],
            cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=full_env)
    return proc, log


def _watchdogs(pid: int) -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process(pid).children()
            if child.cmdline()[1:3] == ["-S", "-c"]]


def _kill(proc: subprocess.Popen[bytes], *others: int) -> None:
    for pid in (proc.pid, *others):
        os.kill(pid, signal.SIGKILL)
    proc.wait(10)


def test_next_session_removes_containers_of_a_killed_pytest_and_watchdog(
        pytester: pytest.Pytester, engine: str) -> None:
    pytester.makepyfile(HANGING_TEST)
    proc, log = _session(pytester.path)
    try:
        _wait_for(pytester.path / "ready", proc, log)
        dead = _owned_by(engine, proc.pid)
        assert len(dead) == 2, dead  # PostgreSQL and Redis, labelled with their owner
        dead_dirs = list(runtime_base().glob(f"{proc.pid}-*"))
        assert dead_dirs  # the socket directory of its PostgreSQL
        watchdogs = _watchdogs(proc.pid)
        assert watchdogs, "no watchdog process found"
        _kill(proc, *watchdogs)  # together, as a cgroup kill or a cancelled CI job does
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert not wait_gone(watchdogs)
    pytester.makepyfile("def test_next(redis_server):\n    pass\n")
    result = pytester.runpytest_subprocess("--roo-services=docker", *IMAGE_ARGS)
    result.assert_outcomes(passed=1)
    assert _owned_by(engine, proc.pid) == []
    assert [d for d in dead_dirs if d.exists()] == []


def test_watchdog_removes_containers_without_a_docker_cli(pytester: pytest.Pytester,
                                                           engine: str) -> None:
    pytester.makepyfile(HANGING_TEST)
    empty = pytester.mkdir("no-bin")  # PATH without any docker command
    proc, log = _session(pytester.path, env={"PATH": str(empty)})
    try:
        _wait_for(pytester.path / "ready", proc, log)
        assert len(_owned_by(engine, proc.pid)) == 2
        _kill(proc)  # the watchdog lives on and cleans up
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert _wait_gone(engine, proc.pid) == []


def test_sigkill_between_create_and_start_leaves_no_container(pytester: pytest.Pytester,
                                                              engine: str) -> None:
    pytester.makeconftest(STOP_BEFORE_START)
    pytester.makepyfile("def test_x(redis_server):\n    pass\n")
    proc, log = _session(pytester.path)
    try:
        _wait_for(pytester.path / "created", proc, log)
        container_id = (pytester.path / "created").read_text()
        states = {c["Id"]: c["State"] for c in _owned_by(engine, proc.pid)}
        assert states == {container_id: "created"}
        _kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert _wait_gone(engine, proc.pid) == []


def test_a_container_that_exits_at_start_fails_with_its_code_and_logs(
        pytester: pytest.Pytester, engine: str) -> None:
    pytester.makeconftest('''
import pytest

@pytest.fixture(scope="session")
def postgres_server_args():
    return {"settings": {"no_such_setting": "on"}}
''')
    pytester.makepyfile("def test_x(postgres_server):\n    pass\n")
    result = pytester.runpytest_subprocess("--roo-services=docker", *IMAGE_ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        f"*the {POSTGRES_IMAGE} container exited at start with code 1*",
        "*no_such_setting*",
    ])
    assert "not ready after" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_a_container_that_cannot_start_fails_without_a_traceback(
        pytester: pytest.Pytester, engine: str) -> None:
    # the Redis image has no `postgres` on PATH: the engine refuses to start the container
    # (or, with an entrypoint script, the container exits at once)
    pytester.makepyfile("def test_x(postgres_server):\n    pass\n")
    result = pytester.runpytest_subprocess("--roo-services=docker",
                                           f"--roo-postgres-image={REDIS_IMAGE}")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "container did not start" in output or "exited at start with code" in output, output
    assert "Traceback" not in output
    assert "testcontainers" not in output


def _inspect(endpoint: str, container_id: str) -> dict[str, Any]:
    status, body = docker_engine.request(endpoint, "GET", f"/containers/{container_id}/json")
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def test_pgdata_on_tmpfs_and_no_password_in_the_container_config(engine: str) -> None:
    config = ServiceConfig(services="docker", postgres_image=POSTGRES_IMAGE,
                           redis_image=REDIS_IMAGE)
    backend = DockerBackend(config, DockerProbe(True, engine))
    try:
        postgres = backend.start_postgres()
        redis = backend.start_redis()
        # the engine runs on this machine: clones and connections skip the port proxy
        assert postgres.socket_dir is not None
        with postgres.connect() as conn:
            assert conn.scalar("SHOW data_directory") == PGDATA
        tcp = PostgresServer(host=postgres.host, port=postgres.port, user=postgres.user,
                             password=postgres.password)
        with tcp.connect() as conn:  # and the published port works too
            assert conn.scalar("SELECT 1") == "1"
        with redis.connect() as conn:
            assert conn.command("PING") == b"PONG"
        containers = docker_engine.list_containers(engine, f"{LABEL_SESSION}={backend.session}")
        assert len(containers) == 2
        for container in containers:
            details = _inspect(engine, container["Id"])
            text = json.dumps(details)
            assert postgres.password not in text
            assert redis.password and redis.password not in text
            if container["Image"] == POSTGRES_IMAGE:
                assert PGDATA_TMPFS in (details["HostConfig"]["Tmpfs"] or {})
            ports = details["HostConfig"]["PortBindings"]
            assert all(b["HostIp"] == "127.0.0.1" for bs in ports.values() for b in bs)
    finally:
        backend.close()
    assert docker_engine.list_containers(engine, f"{LABEL_SESSION}={backend.session}") == []
    assert not os.path.exists(postgres.socket_dir)


def test_auto_falls_back_to_local_when_the_engine_lacks_the_image(
        pytester: pytest.Pytester, engine: str) -> None:
    pytester.makepyfile('def test_x(postgres_server):\n    assert postgres_server.backend == "local"\n')
    result = pytester.runpytest_subprocess("--roo-services=auto",
                                           "--roo-postgres-image=pytest-roo/none:missing")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["roo services: auto -> local (the Docker engine at * has no "
                                 "image pytest-roo/none:missing and cannot pull it*"])


@pytest.fixture
def tcp_engine(engine: str) -> Iterator[str]:
    """The engine behind ``tcp://127.0.0.1:PORT`` (a forwarder to its unix socket)."""
    path = engine.removeprefix("unix://")
    if not engine.startswith("unix://"):
        yield engine
        return
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            src.close()  # each direction closes the socket it read from

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_tcp_docker_host_works(pytester: pytest.Pytester, tcp_engine: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", tcp_engine)
    pytester.makepyfile('''
def test_x(postgres_server, redis_server):
    assert postgres_server.backend == "docker"
    assert postgres_server.host == redis_server.host == "127.0.0.1"
    with postgres_server.connect() as conn:
        assert conn.scalar("SELECT 1") == "1"
''')
    result = pytester.runpytest_subprocess("--roo-services=auto", *IMAGE_ARGS)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"roo services: auto -> docker (a Docker engine answered at "
                                 f"{tcp_engine})"])
