"""The docker backend's pure parts: what it asks the engine for, which containers it sweeps,
where it connects. The containers themselves are tested in
tests/integration/services/test_services_docker.py against a real engine."""

from __future__ import annotations

import io
import os
import shlex
import socket
import sys
import tarfile

import pytest

from pytest_roo.services import docker_engine
from pytest_roo.services.backends import (
    DockerProbe,
    ServiceConfig,
    Services,
)
from pytest_roo.services.docker_backend import (
    LABEL_HOST,
    LABEL_OWNER,
    LABEL_SESSION,
    REDIS_CONFIG_FILE,
    archive,
    cleanup_argv,
    container_labels,
    dead_owner,
    postgres_command,
    published_host,
    redis_command,
    redis_config,
    same_host,
)
from pytest_roo.services.models import ServiceError
from pytest_roo.services.procs import process_start_time


def test_postgres_command_is_fast_and_takes_overrides() -> None:
    command = postgres_command({"max_connections": "500", "work_mem": "8MB"})
    assert command[0] == "postgres"
    pairs = dict(arg.split("=", 1) for arg in command[2::2])
    assert all(flag == "-c" for flag in command[1::2])
    assert pairs["fsync"] == "off"
    assert pairs["max_connections"] == "500"
    assert pairs["work_mem"] == "8MB"


def test_redis_password_is_in_a_config_file_not_the_command() -> None:
    password = "0a1b2c3d"
    assert password not in shlex.join(redis_command())
    assert redis_command() == ["redis-server", REDIS_CONFIG_FILE]
    config = redis_config(password)
    assert f"requirepass {password}\n" in config
    assert 'save ""\n' in config


@pytest.mark.parametrize("password", ["a b", 'a"b', "a'b", "a\\b", "a\nb"])
def test_redis_config_rejects_passwords_it_cannot_hold(password: str) -> None:
    with pytest.raises(ServiceError, match="must not contain"):
        redis_config(password)


def test_archive_holds_world_readable_files_under_one_folder() -> None:
    data = archive({"/pytest-roo/redis.conf": "requirepass x\n"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["pytest-roo"].isdir()
        conf = members["pytest-roo/redis.conf"]
        assert conf.mode == 0o644
        extracted = tar.extractfile(conf)
        assert extracted is not None and extracted.read() == b"requirepass x\n"


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("unix:///var/run/docker.sock", ("127.0.0.1", "127.0.0.1")),
    ("tcp://127.0.0.1:2375", ("127.0.0.1", "127.0.0.1")),
    ("tcp://localhost:2375", ("127.0.0.1", "127.0.0.1")),
    ("tcp://[::1]:2375", ("127.0.0.1", "127.0.0.1")),
    ("tcp://buildhost.example:2376", ("0.0.0.0", "buildhost.example")),
    ("tcp://10.1.2.3:2375", ("0.0.0.0", "10.1.2.3")),
])
def test_published_host_follows_the_engine(endpoint: str, expected: tuple[str, str]) -> None:
    assert published_host(endpoint) == expected


def test_labels_name_session_owner_and_host() -> None:
    labels = container_labels("abc")
    assert labels[LABEL_SESSION] == "abc"
    assert labels[LABEL_OWNER] == f"{os.getpid()} {process_start_time(os.getpid())}"
    assert labels[LABEL_HOST] == socket.gethostname()
    assert not dead_owner(labels)


def test_dead_owner_only_for_this_hosts_dead_processes() -> None:
    here = socket.gethostname()
    dead = {LABEL_OWNER: "4242 100", LABEL_HOST: here}
    assert dead_owner(dead, start_time=lambda pid: None)
    assert dead_owner(dead, start_time=lambda pid: "200")  # pid reused by another process
    assert not dead_owner(dead, start_time=lambda pid: "100")
    assert not dead_owner({**dead, LABEL_HOST: "elsewhere"}, start_time=lambda pid: None)
    assert not dead_owner({LABEL_HOST: here}, start_time=lambda pid: None)
    assert not dead_owner({LABEL_OWNER: "garbage", LABEL_HOST: here}, start_time=lambda pid: None)


def test_watchdog_cleanup_needs_only_python() -> None:
    argv = cleanup_argv("unix:///run/x/docker.sock", "s1")
    assert argv[:3] == [sys.executable, "-S", docker_engine.__file__]
    assert argv[3:] == ["remove", "unix:///run/x/docker.sock", f"{LABEL_SESSION}=s1"]
    assert "docker" not in [os.path.basename(arg) for arg in argv]


def test_engine_client_rejects_unknown_endpoints() -> None:
    with pytest.raises(docker_engine.EngineError, match="unsupported Docker endpoint 'ssh://x'"):
        docker_engine.connection("ssh://x", 1.0)


def test_probe_answer_with_reason_reaches_workers() -> None:
    probe = DockerProbe(False, "unix:///run/x/docker.sock",
                        "has no image postgres:16 and cannot pull it (no such host)")
    handed_over = DockerProbe.from_dict(probe.to_dict())  # what a worker reads in workerinput
    assert handed_over == probe
    services = Services(ServiceConfig(services="auto"), probe=handed_over)
    assert services.choose() == "local"
    assert services.describe() == (
        "auto -> local (the Docker engine at unix:///run/x/docker.sock has no image "
        "postgres:16 and cannot pull it (no such host))")
    available = DockerProbe(True, "unix:///run/x/docker.sock")
    assert DockerProbe.from_dict(available.to_dict()) == available


def test_socket_dir_only_for_an_engine_on_this_machine() -> None:
    here = socket.gethostname()
    linux = sys.platform.startswith("linux")
    assert same_host("unix:///var/run/docker.sock", here) is linux
    assert not same_host("unix:///var/run/docker.sock", "docker-desktop")
    assert not same_host("tcp://127.0.0.1:2375", here)
